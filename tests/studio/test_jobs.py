"""reenact studio's render queue: one job at a time, positions, limits, cancellation, errors."""

from __future__ import annotations

import threading
import time

import pytest

from reenact.studio.errors import BusyError
from reenact.studio.jobs import JobQueue


def test_queue_runs_one_job_at_a_time_with_positions():
    queue = JobQueue(max_waiting=3, max_per_session=2)
    queue.start()
    release, running, order = threading.Event(), threading.Event(), []

    def blocking(ctx):
        running.set()
        release.wait(10)
        order.append("first")
        return {}

    def quick(name):
        def run(ctx):
            order.append(name)
            return {}
        return run

    first = queue.submit("a" * 22, "script", blocking)
    assert running.wait(10)
    second = queue.submit("b" * 22, "script", quick("second"))
    third = queue.submit("c" * 22, "script", quick("third"))
    assert [queue.status(j)["position"] for j in (first, second, third)] == [0, 1, 2]
    assert queue.status(first)["state"] == "running" and queue.status(second)["state"] == "queued"
    queue.cancel(second)
    assert queue.status(third)["position"] == 1 and second.state == "cancelled"
    queue.submit("c" * 22, "script", quick("fourth"))
    with pytest.raises(BusyError, match="this page has 2 renders queued"):
        queue.submit("c" * 22, "script", quick("fifth"))
    release.set()
    deadline = time.monotonic() + 10
    while len(order) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert order == ["first", "third", "fourth"]
    queue.stop()


def test_cancelled_running_job_stops_and_errors_do_not_kill_the_worker():
    queue = JobQueue()
    queue.start()

    def looping(ctx):
        for i in range(1000):
            ctx.check()
            ctx.report("rendering", i, 1000)
            time.sleep(0.01)
        return {}

    def broken(ctx):
        raise RuntimeError("bug")

    job = queue.submit("a" * 22, "video", looping)
    time.sleep(0.1)
    queue.cancel(job)
    bad = queue.submit("b" * 22, "video", broken)
    ok = queue.submit("b" * 22, "video", lambda ctx: {"video": "x"})
    deadline = time.monotonic() + 10
    while ok.state != "done" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert job.state == "cancelled" and 0 < job.done < 1000
    assert bad.state == "error" and "internal error (RuntimeError: bug)" in bad.error
    assert ok.state == "done" and ok.result == {"video": "x"}
    queue.stop()
