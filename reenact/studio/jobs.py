"""One render at a time per process: a queue of jobs run by a single worker thread.

A job is a function of a ``JobContext``: it reports progress (``report``) and polls ``check``,
which raises ``JobCancelledError`` once the job was cancelled (its page closed, or shutdown). The
queue tells each waiting job its position (1 = next); the page polls a job's ``status``.
A job's typed error (``ReenactError``) becomes its one-line message; any other exception is
reported as an internal error and the worker goes on with the next job.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from reenact.errors import ReenactError
from reenact.studio.errors import BusyError, JobCancelledError, NotFoundError
from reenact.studio.sessions import check_id, new_id

log = logging.getLogger("reenact.studio")
STATES = ("queued", "running", "done", "error", "cancelled")


class JobContext:
    """What a running job sees: ``report(stage, done, total)`` and ``check()``."""

    def __init__(self, job: Job):
        self._job = job

    def report(self, stage: str, done: int, total: int, *, start: float = 0.0, span: float = 1.0) -> None:
        """Progress: ``done`` of ``total`` in ``stage``, mapped to [start, start + span] overall."""
        job = self._job
        job.stage, job.done, job.total = stage, int(done), int(total)
        job.progress = min(1.0, start + span * (done / total if total else 1.0))

    def check(self) -> None:
        """Raise JobCancelledError if the job was cancelled."""
        if self._job.cancel.is_set():
            raise JobCancelledError("the render was cancelled")


@dataclass(eq=False)
class Job:
    """One queued render; ``result`` maps roles ("video", "csv", ...) to the session's file ids."""

    id: str
    session_id: str
    kind: str
    run: Callable[[JobContext], dict[str, str]]
    state: str = "queued"
    stage: str = "waiting"
    done: int = 0
    total: int = 0
    progress: float = 0.0
    error: str | None = None
    result: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    cancel: threading.Event = field(default_factory=threading.Event)


class JobQueue:
    """The queue and its worker thread (``start`` / ``stop``).

    Args:
        max_waiting: more queued jobs than this are refused (BusyError).
        max_per_session: queued or running jobs one page may have.
    """

    def __init__(self, *, max_waiting: int = 8, max_per_session: int = 2):
        self.max_waiting = max_waiting
        self.max_per_session = max_per_session
        self._jobs: dict[str, Job] = {}
        self._waiting: list[Job] = []
        self._running: Job | None = None
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def submit(self, session_id: str, kind: str, run: Callable[[JobContext], dict[str, str]]) -> Job:
        with self._cond:
            if self._stopping:
                raise BusyError("the studio is shutting down")
            active = [*self._waiting, self._running]
            mine = [j for j in active if j is not None and j.session_id == session_id]
            if len(mine) >= self.max_per_session:
                raise BusyError(f"this page has {len(mine)} renders queued already; wait for one to finish")
            if len(self._waiting) >= self.max_waiting:
                raise BusyError(f"{len(self._waiting)} renders are waiting already; try again in a minute")
            job = Job(id=new_id(), session_id=session_id, kind=kind, run=run)
            self._jobs[job.id] = job
            self._waiting.append(job)
            self._cond.notify_all()
        return job

    def get(self, job_id: str, session_id: str) -> Job:
        job = self._jobs.get(check_id(job_id, "render"))
        if job is None or job.session_id != session_id:
            raise NotFoundError("unknown render; reload the page")
        return job

    def position(self, job: Job) -> int:
        """1-based place in the queue of a waiting job (1 = next), 0 otherwise."""
        with self._cond:
            return self._waiting.index(job) + 1 if job in self._waiting else 0

    def status(self, job: Job) -> dict:
        return {"id": job.id, "kind": job.kind, "state": job.state, "position": self.position(job),
                "stage": job.stage, "done": job.done, "total": job.total,
                "progress": round(job.progress, 4), "error": job.error, "files": dict(job.result),
                "seconds": round(job.seconds, 2)}

    def cancel(self, job: Job) -> None:
        with self._cond:
            job.cancel.set()
            if job in self._waiting:
                self._waiting.remove(job)
                job.state, job.stage = "cancelled", "cancelled"

    def cancel_session(self, session_id: str) -> None:
        """Cancel every job of a session and forget them (its page closed)."""
        with self._cond:
            jobs = [j for j in self._jobs.values() if j.session_id == session_id]
        for job in jobs:
            self.cancel(job)
        with self._cond:
            for job in jobs:
                if job is not self._running:
                    self._jobs.pop(job.id, None)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="studio-render", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Cancel everything and wait for the running job to stop."""
        with self._cond:
            self._stopping = True
            jobs = list(self._jobs.values())
            self._cond.notify_all()
        for job in jobs:
            self.cancel(job)
        if self._thread is not None:
            self._thread.join(timeout)

    def _next(self) -> Job | None:
        with self._cond:
            while not self._waiting and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            self._running = self._waiting.pop(0)
            self._running.state = "running"
            return self._running

    def _work(self) -> None:
        while (job := self._next()) is not None:
            self._run(job)
            with self._cond:
                self._running = None

    def _run(self, job: Job) -> None:
        t0 = time.perf_counter()
        try:
            job.result = job.run(JobContext(job))
            job.state, job.stage, job.progress = "done", "done", 1.0
        except JobCancelledError:
            job.state, job.stage = "cancelled", "cancelled"
        except ReenactError as exc:
            job.state, job.error = "error", str(exc).replace("\n", " ")
        except Exception as exc:  # the worker must survive a bug in one job
            log.exception("render %s failed", job.id)
            job.state = "error"
            job.error = f"internal error ({type(exc).__name__}: {exc}); see the server log"
        job.seconds = time.perf_counter() - t0
