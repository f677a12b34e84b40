"""The bad-input matrix, second part: signals and what a killed run leaves (issue 10).

Real processes (`python -m reenact ...`) are stopped with SIGTERM, SIGINT and SIGKILL while they
work; each must print one line, exit 128 + the signal and leave nothing half-written, and the
next run into the folder must remove a killed run's temporaries but none that a running process
is still writing.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from reenact import cli
from reenact.io.files import STALE_AFTER_S, atomic_output
from tests.bad_inputs_assets import cli_command, listing, sha256_tree, stderr_lines, video_facts


def _start(args: list, log: Path) -> subprocess.Popen:
    return subprocess.Popen(cli_command(*args), stdout=subprocess.DEVNULL, stderr=open(log, "wb"),
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _wait_for(proc: subprocess.Popen, ready, what: str, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not ready():
        time.sleep(0.05)
    assert ready(), f"{what} never happened (exit {proc.poll()})"


def _old(path: Path) -> None:
    """Make ``path`` look untouched for a while (as it would be on the next day's run)."""
    past = time.time() - 10 * STALE_AFTER_S
    os.utime(path, (past, past))


def test_sigterm_during_aus_one_line_143_nothing_left(tmp_path, media):
    work, log = tmp_path / "work", tmp_path / "stderr.txt"
    work.mkdir()
    clip = media("WolfgangLanger_Pexels.mp4")
    hashes = sha256_tree(clip.parent)
    proc = _start(["aus", clip, "-o", work / "aus.csv", "--plot", work / "aus.png"], log)
    _wait_for(proc, lambda: re.search(rb"\| *[1-9]\d*/472", log.read_bytes()), "AU extraction")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    lines = stderr_lines(log.read_text())
    assert proc.returncode == 143
    assert lines[-1] == "reenact: interrupted by SIGTERM" and not [x for x in lines if "Traceback" in x]
    assert listing(work) == set()
    assert sha256_tree(clip.parent) == hashes


def test_sigint_during_run_clears_the_progress_bar(tmp_path, assets, media):
    """The message starts a line of its own, not glued to an unfinished bar."""
    work, log = tmp_path / "work", tmp_path / "stderr.txt"
    work.mkdir()
    proc = _start([assets["src.png"], media("WolfgangLanger_Pexels.mp4"), work / "OUT.mp4",
                   "--model", "ganimation", "--weights", assets["tiny.safetensors"], "--preview"], log)
    _wait_for(proc, lambda: re.search(rb"tracking driver: +\d+%.*\| *[1-9]\d*/472", log.read_bytes()),
              "tracking")
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    err = log.read_text()
    assert proc.returncode == 130
    assert re.search(r"(^|[\r\n])reenact: interrupted\n$", err), err[-300:]
    assert not [x for x in stderr_lines(err) if "Traceback" in x or x.startswith("reenact: error")]
    assert listing(work) == set()


def test_rerun_after_sigkill_removes_only_stale_temporaries(tmp_path, assets, media, capfd):
    work, log = tmp_path / "work", tmp_path / "stderr.txt"
    work.mkdir()
    proc = _start([assets["src.png"], media("WolfgangLanger_Pexels.mp4"), work / "OUT.mp4",
                   "--model", "ganimation", "--weights", assets["tiny.safetensors"], "--quiet"], log)
    _wait_for(proc, lambda: list(work.glob(".OUT.*.part.mp4")), "rendering")
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    (stale,) = work.glob(".OUT.*.part.mp4")  # what SIGKILL leaves: nobody could clean up
    deadline = time.time() + 30
    while not _settled(stale) and time.time() < deadline:  # the orphaned ffmpeg drains its input
        pass
    _old(stale)
    lookalikes = [work / ".notes.part.txt", work / "holiday.part.mp4", work / ".x.1234.part.mp4"]
    for path in lookalikes:  # not our naming: never touched
        path.write_bytes(b"user data")
        _old(path)
    with atomic_output(work / "other.mp4") as live:  # a run still writing, as old as the stale one
        live.write_bytes(b"in progress")
        _old(live)
        code = cli.main([str(assets["src.png"]), str(assets["base.mp4"]), str(work / "OUT.mp4"),
                         "--model", "ganimation", "--weights",
                         str(assets["tiny.safetensors"]), "--quiet", "--max-frames", "4"])
        assert code == 0, capfd.readouterr().err
        assert live.exists()
    assert not stale.exists()
    assert all(p.read_bytes() == b"user data" for p in lookalikes)
    assert listing(work) == {"OUT.mp4", "other.mp4"} | {p.name for p in lookalikes}
    assert video_facts(work / "OUT.mp4")[0] == 4


def _settled(path: Path) -> bool:
    size = path.stat().st_size
    time.sleep(0.5)
    return path.stat().st_size == size


def test_stale_png_folder_removed_by_the_next_animate(tmp_path, assets):
    work = tmp_path / "work"
    work.mkdir()
    stale = work / ".frames.k2j4h5g6.part"  # a killed `animate ... frames/` run's folder
    stale.mkdir()
    (stale / "frame_000000.png").write_bytes(b"half")
    _old(stale)
    script = work / "s.yaml"
    script.write_text("fps: 5\nkeyframes: [{t: 0, preset: neutral}, {t: 0.4, preset: happy}]\n")
    code = cli.main(["animate", str(assets["src.png"]), str(script), str(work / "frames"),
                     "--model", "ganimation", "--weights",
                     str(assets["tiny.safetensors"]), "--quiet"])
    assert code == 0
    assert listing(work) == {"s.yaml", "frames"} | {f"frames/frame_{i:06d}.png" for i in range(3)}
