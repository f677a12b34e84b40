"""reenact.io.files: path collisions, up-front writability, stale temporaries, new folders."""

from __future__ import annotations

import os
import time

import pytest

from reenact.errors import OutputError
from reenact.io.files import (
    STALE_AFTER_S,
    TEMP_NAME,
    atomic_output,
    check_distinct,
    check_writable,
    check_writable_folder,
    is_inside,
    locked_temp_dir,
    new_folder,
    remove_stale_temporaries,
    same_file,
)


def _old(path) -> None:
    past = time.time() - 10 * STALE_AFTER_S
    os.utime(path, (past, past))


def test_same_file_sees_links_and_spellings(tmp_path, monkeypatch):
    a = tmp_path / "a.png"
    a.write_bytes(b"x")
    os.link(a, tmp_path / "hard.png")
    (tmp_path / "soft.png").symlink_to(a)
    monkeypatch.chdir(tmp_path)
    assert same_file(a, "hard.png") and same_file(a, "soft.png") and same_file("./a.png", a)
    assert same_file(tmp_path / "new.mp4", "new.mp4")  # neither exists: same resolved path
    assert not same_file(a, tmp_path / "b.png")


def test_check_distinct_names_both_sides(tmp_path):
    src = tmp_path / "src.png"
    src.write_bytes(b"x")
    with pytest.raises(OutputError, match=r"^--plot .*src.png is the source photo: writing it would destroy"):
        check_distinct({"source photo": src, "driver": tmp_path / "d.mp4"}, {"--plot": src})
    with pytest.raises(OutputError, match="output and --preview are the same file"):
        check_distinct({}, {"output": tmp_path / "o.mp4", "--preview": tmp_path / "." / "o.mp4"})
    with pytest.raises(OutputError, match="is the input"):  # one of many inputs
        check_distinct({"input": [tmp_path / "x.png", src]}, {"-o": src})
    check_distinct({"source photo": src, "driver": None}, {"output": tmp_path / "o.mp4", "--plot": None})


def test_is_inside(tmp_path):
    assert is_inside(tmp_path / "a" / "b", tmp_path / "a") and is_inside(tmp_path, tmp_path)
    assert not is_inside(tmp_path / "ab", tmp_path / "a")


def test_writability_is_tested_by_creating_a_file(tmp_path):
    with pytest.raises(OutputError, match="cannot write to /proc"):
        check_writable("/proc/out.mp4")  # os.access says yes to root here
    with pytest.raises(OutputError, match="cannot write to /proc"):
        check_writable_folder("/proc/new/run")
    with pytest.raises(OutputError, match="does not exist; create it first"):
        check_writable(tmp_path / "missing" / "out.mp4")
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_writable_folder(tmp_path / "file" / "run")
    assert check_writable(tmp_path / "out.mp4") == tmp_path / "out.mp4"
    assert check_writable_folder(tmp_path / "new" / "run") == tmp_path / "new" / "run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # probes leave nothing


def test_temporary_names_match_the_pattern(tmp_path):
    with atomic_output(tmp_path / "clip.mp4") as tmp:
        assert TEMP_NAME.match(tmp.name)
        tmp.write_bytes(b"v")
    folder, fd = locked_temp_dir(tmp_path, "frames")
    os.close(fd)
    assert TEMP_NAME.match(folder.name)
    for name in (".notes.part.txt", "clip.part.mp4", ".x.1234.part.mp4", ".clip.mp4"):
        assert not TEMP_NAME.match(name)


def test_only_unlocked_old_temporaries_of_ours_are_removed(tmp_path):
    stale_file = tmp_path / ".out.abcd1234.part.mp4"
    stale_dir = tmp_path / ".frames.abcd1234.part"
    young = tmp_path / ".out.young123.part.mp4"
    foreign = tmp_path / ".notes.part.txt"
    stale_file.write_bytes(b"half")
    stale_dir.mkdir()
    (stale_dir / "frame_000000.png").write_bytes(b"half")
    young.write_bytes(b"just made")
    foreign.write_bytes(b"mine")
    for path in (stale_file, stale_dir, foreign):
        _old(path)
    (tmp_path / "sub").mkdir()
    nested = tmp_path / "sub" / ".out.abcd1234.part.mp4"
    nested.write_bytes(b"other folder")
    _old(nested)
    with atomic_output(tmp_path / "live.mp4") as live:
        _old(live)
        held_dir, fd = locked_temp_dir(tmp_path, "shots")
        _old(held_dir)
        removed = remove_stale_temporaries(tmp_path)
        assert live.exists() and held_dir.exists()
        os.close(fd)
    assert sorted(p.name for p in removed) == sorted([stale_file.name, stale_dir.name])
    assert young.exists() and foreign.exists() and nested.exists()


def test_new_folder_is_removed_again_on_failure(tmp_path):
    with pytest.raises(RuntimeError), new_folder(tmp_path / "a" / "b"):
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with new_folder(tmp_path / "a" / "b") as out:
        (out / "report.json").write_text("{}")
    assert (tmp_path / "a" / "b" / "report.json").is_file()
    with pytest.raises(RuntimeError), new_folder(tmp_path / "a" / "b" / "c"):
        raise RuntimeError("boom")
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["report.json"]  # existing kept


def test_a_deferred_signal_waits_while_other_threads_run(tmp_path):
    """With another thread alive, a SIGTERM that the main thread blocks reaches that thread, and
    Python still runs the handler in the main thread: the deferral must hold anyway (it did not,
    and a SIGTERM right after atomic_output created its temporary left the file behind)."""
    import os
    import signal
    import threading
    import time

    from reenact.interrupt import Interrupted, handle_signals
    from reenact.io.files import atomic_output, defer_signals, restore_signals

    done = threading.Event()
    other = threading.Thread(target=done.wait)
    other.start()
    try:
        with handle_signals():
            previous = defer_signals()
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)  # the handler has had every chance to run by now
            survived = True
            with pytest.raises(Interrupted) as caught:
                restore_signals(previous)
            assert survived and caught.value.signum == signal.SIGTERM

            with pytest.raises(Interrupted):  # and atomic_output, interrupted at once, leaves nothing
                with atomic_output(tmp_path / "out.mp4") as tmp:
                    assert tmp.exists()
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(0.2)
            assert list(tmp_path.iterdir()) == []
    finally:
        done.set()
        other.join()
