"""Small file helpers: early checks of output paths, atomic outputs, stale temporaries.

Every command checks its outputs before any work: ``check_distinct`` (no output is an input or
another output), ``check_writable`` / ``check_writable_folder`` (a temporary file can really be
created there: ``os.access`` says yes for root even where nothing can be created, e.g. /proc).

Temporaries: ``atomic_output`` writes ``.{stem}.XXXXXXXX.part{suffix}`` beside the output and
renames it at the end; ``locked_temp_dir`` makes ``.{name}.XXXXXXXX.part`` folders. The writing
process holds an exclusive advisory lock (``fcntl.flock``) on each for as long as it writes, so
a temporary whose lock can be taken belongs to a process that is gone (killed with SIGKILL, a
power cut): ``remove_stale_temporaries`` deletes those, and only those, in the folder written.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from reenact.errors import OutputError
from reenact.interrupt import defer_interrupts, resume_interrupts

try:
    import fcntl
except ImportError:  # not on Windows: temporaries are then never judged stale
    fcntl = None

#: Names of our temporaries: mkstemp/mkdtemp put 8 characters of [a-z0-9_] between the dots.
TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.part(\.[A-Za-z0-9]+)?$")
#: A temporary modified more recently than this is never deleted: it may have been created a
#: moment ago by a writer that has not taken its lock yet.
STALE_AFTER_S = 2.0

PathArg = str | os.PathLike


def _parent(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def _cannot_write(folder: Path, exc: OSError) -> OutputError:
    reason = exc.strerror or type(exc).__name__
    return OutputError(f"cannot write to {folder} ({reason}); choose another output path")


# --------------------------------------------------------------------------- path collisions


def _identity(path: Path) -> tuple:
    """What makes two paths the same file: (device, inode) when it exists, else the resolved path."""
    try:
        st = path.stat()
        return ("inode", st.st_dev, st.st_ino)
    except OSError:
        return ("path", str(path.resolve(strict=False)))


def same_file(a: PathArg, b: PathArg) -> bool:
    """Whether ``a`` and ``b`` name the same file: same resolved path, or the same inode (hard
    links, symlinks, ``./x`` vs ``x``)."""
    a, b = Path(a), Path(b)
    return _identity(a) == _identity(b) or a.resolve(strict=False) == b.resolve(strict=False)


def is_inside(path: PathArg, folder: PathArg) -> bool:
    """Whether ``path`` is ``folder`` or lies somewhere below it (resolved paths)."""
    path, folder = Path(path).resolve(strict=False), Path(folder).resolve(strict=False)
    return path == folder or folder in path.parents


def _present(paths: Mapping[str, PathArg | Iterable[PathArg] | None]) -> list[tuple[str, Path]]:
    out = []
    for label, value in paths.items():
        if value is None:
            continue
        if isinstance(value, (str, os.PathLike)):
            out.append((label, Path(value)))
        else:
            out.extend((label, Path(v)) for v in value)
    return out


def check_distinct(inputs: Mapping[str, PathArg | Iterable[PathArg] | None],
                   outputs: Mapping[str, PathArg | None]) -> None:
    """Fail, before any work, if an output would overwrite an input or another output.

    Args:
        inputs: label -> input path (or several, e.g. the images of a folder); None is skipped.
        outputs: label -> output path; None is skipped. Labels name the option, e.g. "--plot".

    Raises:
        OutputError: an output is the same file as an input or as another output.
    """
    ins = _present(inputs)
    outs = _present(outputs)
    in_ids = {}
    for label, path in ins:
        in_ids.setdefault(_identity(path), (label, path))
        in_ids.setdefault(("path", str(path.resolve(strict=False))), (label, path))
    for label, path in outs:
        hit = in_ids.get(_identity(path)) or in_ids.get(("path", str(path.resolve(strict=False))))
        if hit is not None:
            same = "" if str(hit[1]) == str(path) else f" {hit[1]}"
            raise OutputError(f"{label} {path} is the {hit[0]}{same}: writing it would destroy that input; "
                              f"choose another path for {label}")
    for i, (label, path) in enumerate(outs):
        for other, other_path in outs[i + 1:]:
            if same_file(path, other_path):
                raise OutputError(f"{label} and {other} are the same file {path}; give them different paths")


# --------------------------------------------------------------------------- writability


def _check_target(path: PathArg) -> Path:
    path = Path(path)
    parent = _parent(path)
    if path.is_dir():
        raise OutputError(f"output {path} is a folder; give a file name")
    if not parent.is_dir():
        raise OutputError(f"output folder {parent} does not exist; create it first")
    return path


def check_writable(path: PathArg) -> Path:
    """Fail early, before any work, if ``path`` cannot be written.

    Creates (and deletes) the temporary file that ``atomic_output`` will use, which is the only
    test that holds for every user and file system; also removes stale temporaries of killed
    runs from the folder (``remove_stale_temporaries``).

    Raises:
        OutputError: the folder does not exist or no file can be created in it, or path is a folder.
    """
    path = _check_target(path)
    remove_stale_temporaries(_parent(path))
    fd, tmp = _make_temp(path)
    os.close(fd)
    tmp.unlink(missing_ok=True)
    return path


def check_writable_folder(folder: PathArg) -> Path:
    """Fail early if files cannot be created in ``folder`` or, when it does not exist yet, in its
    nearest existing parent (the folder itself is not created). Stale temporaries are removed.

    Raises:
        OutputError: ``folder`` (or a parent) is a file, or nothing can be created there.
    """
    folder = Path(folder)
    probe = folder
    while not probe.exists() and probe != _parent(probe):
        probe = _parent(probe)
    if not probe.is_dir():
        raise OutputError(f"{probe} is a file, not a folder; choose another output folder")
    if probe == folder:
        remove_stale_temporaries(folder)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".reenact-probe.", suffix=".part", dir=probe)
    except OSError as exc:
        raise _cannot_write(probe, exc) from exc
    os.close(fd)
    Path(tmp).unlink(missing_ok=True)
    return folder


@contextlib.contextmanager
def new_folder(folder: PathArg) -> Iterator[Path]:
    """Create ``folder`` (and missing parents) for the block's outputs; if the block fails, remove
    again the folders it created that are still empty, so that a failed run leaves nothing.

    Raises:
        OutputError: the folder cannot be created.
    """
    folder = Path(folder)
    created = []
    probe = folder
    while not probe.exists() and probe != _parent(probe):
        created.append(probe)  # deepest first
        probe = _parent(probe)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {folder} ({exc.strerror}); choose another "
                          "path") from exc
    try:
        yield folder
    except BaseException:
        for path in created:
            with contextlib.suppress(OSError):
                path.rmdir()
        raise


# --------------------------------------------------------------------------- temporaries


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _lock(fd: int) -> None:
    """Hold an exclusive advisory lock on ``fd`` until it is closed (best effort)."""
    if fcntl is not None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


_DEFERRED = {signal.SIGINT, signal.SIGTERM}


def defer_signals():
    """Hold SIGINT/SIGTERM back until ``restore_signals``: for a step that must not be cut in two
    (creating a temporary file, starting a child that writes one). Blocks them for this thread
    (they stay pending; enough while it is the only thread) and, under ``handle_signals``, makes
    the handler only record them (``reenact.interrupt.defer_interrupts``: with other threads
    running, the signal would reach the main thread's handler anyway). Returns the previous mask,
    or None."""
    defer_interrupts()
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, _DEFERRED)


def restore_signals(previous) -> None:
    """Undo ``defer_signals``; a signal that arrived meanwhile is handled now (``Interrupted``)."""
    try:
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    finally:
        resume_interrupts()


def _make_temp(path: Path) -> tuple[int, Path]:
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=_parent(path))
    except OSError as exc:
        raise _cannot_write(_parent(path), exc) from exc
    return fd, Path(tmp)


@contextlib.contextmanager
def atomic_output(path: PathArg) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``, else delete it.

    The temporary name keeps the real suffix so that tools choosing a format by extension work.
    An exception or Ctrl-C leaves no partial file and never touches an existing ``path``. The
    temporary is locked while this process writes it (see the module docstring).
    """
    path = _check_target(path)
    deferred = defer_signals()  # a Ctrl-C / SIGTERM between creating the file and the try below
    try:                         # would leave it behind: such a signal waits until the try
        fd, tmp_path = _make_temp(path)
    except BaseException:
        restore_signals(deferred)
        raise
    try:
        restore_signals(deferred)  # a pending signal's handler runs here, inside the try
        _lock(fd)
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


def locked_temp_dir(parent: PathArg, name: str) -> tuple[Path, int]:
    """A new temporary folder ``parent/.{name}.XXXXXXXX.part`` and the descriptor that holds its
    lock: close the descriptor once the folder is renamed or deleted.

    Raises:
        OutputError: the folder cannot be created.
    """
    parent = Path(parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".part", dir=parent))
    except OSError as exc:
        raise _cannot_write(parent, exc) from exc
    fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    _lock(fd)
    return tmp, fd


def _is_stale(path: str, now: float) -> bool:
    """Whether a temporary belongs to no running writer: old enough and its lock is free."""
    if fcntl is None:
        return False
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode) or now - st.st_mtime < STALE_AFTER_S:
            return False
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if stat.S_ISDIR(st.st_mode) else 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held by a process that is still writing (or locks unsupported here)
        return False
    finally:
        os.close(fd)
    return True


def remove_stale_temporaries(folder: PathArg) -> list[Path]:
    """Delete the temporaries of our own naming (``TEMP_NAME``) in ``folder`` that no running
    process holds (a run killed with SIGKILL leaves them). Never recursive, never other files.

    Returns:
        The paths removed.
    """
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not TEMP_NAME.match(entry.name) or not _is_stale(entry.path, now):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed
