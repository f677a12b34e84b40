"""Sessions of the studio: one per open page, held in memory, with a temporary folder each.

A session holds the page's photo (and its prepared faces), the files it uploaded or rendered and
the time it was last seen. Files are registered under opaque random ids; the client only ever
names an id, never a path. A session ends when its page says so (a ``beforeunload`` beacon), when
it has not been seen for ``timeout_s`` (the page pings while it is open), or at shutdown; its
folder is then deleted.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reenact.studio.errors import BusyError, NotFoundError
from reenact.studio.photo import FaceBox, PhotoEdit

_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
ROOT_PREFIX = "reenact-studio-"


def remove_stale_roots(parent: Path) -> list[Path]:
    """Delete the temporary folders of studio servers that died without cleaning up (SIGKILL):
    those whose ``.pid`` names a process that no longer runs."""
    removed = []
    for folder in parent.glob(f"{ROOT_PREFIX}*"):
        try:
            pid = int((folder / ".pid").read_text())
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        except (OSError, ValueError):
            continue  # not ours to judge: no pid file yet, or another user's process
    return removed


def new_id() -> str:
    """An unguessable id (22 URL-safe characters, 128 random bits)."""
    return secrets.token_urlsafe(16)


def check_id(value: str, what: str) -> str:
    """``value`` if it looks like an id, else NotFoundError (nothing else is ever looked up)."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise NotFoundError(f"unknown {what}; reload the page")
    return value


@dataclass(frozen=True)
class StoredFile:
    """A file a session may serve: where it is, its media type and the name a download gets."""

    id: str
    path: Path
    media_type: str
    filename: str
    role: str = "result"  # display, driver, script, export, result: what an endpoint may take it as


@dataclass(eq=False)
class Session:
    """One open page (see the module docstring). ``lock`` guards the photo state."""

    id: str
    folder: Path
    last_seen: float = field(default_factory=time.monotonic)
    files: dict[str, StoredFile] = field(default_factory=dict)
    image: object | None = None  # (H, W, 3) uint8 photo
    photo_name: str = ""
    faces: list[FaceBox] = field(default_factory=list)
    edits: dict[int, PhotoEdit] = field(default_factory=dict)  # prepared faces, by index
    face: int = 0
    display: StoredFile | None = None  # the photo as the page shows it
    seq: int = 0  # the newest slider request seen (older ones are skipped)
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    edit_lock: threading.Lock = field(default_factory=threading.Lock)

    def new_path(self, suffix: str, *, name: str | None = None) -> Path:
        """A fresh file in the session's folder: a random name, or ``name`` reduced to letters,
        digits, '-', '_' and '.' (for titles such as the AU plot's) inside a new random folder."""
        if name is None:
            return self.folder / f"{new_id()}{suffix}"
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).stem).strip("._")[:60] or "file"
        folder = self.folder / new_id()
        folder.mkdir()
        return folder / f"{stem}{suffix}"

    def add_file(self, path: Path, media_type: str, filename: str, *, role: str = "result") -> StoredFile:
        stored = StoredFile(id=new_id(), path=path, media_type=media_type, filename=filename, role=role)
        self.files[stored.id] = stored
        return stored

    def file(self, file_id: str) -> StoredFile:
        stored = self.files.get(check_id(file_id, "file"))
        if stored is None or not stored.path.is_file():
            raise NotFoundError("that file is gone (the page was closed or the server restarted); make it "
                                "again")
        return stored

    def photo(self) -> PhotoEdit:
        """The prepared current face. Raises NotFoundError before a photo is loaded."""
        edit = self.edits.get(self.face)
        if edit is None:
            raise NotFoundError("no photo yet; upload a photo or pick an example first")
        return edit


class SessionStore:
    """The open sessions, their folders under ``root``, and a reaper of idle ones.

    Args:
        root: folder for the sessions' temporary folders (created; removed by ``close_all``).
        timeout_s: a session not seen for this long is closed.
        max_sessions: more open pages than this are refused (BusyError).
        on_close: called with a session id when it closes (cancels its render jobs).
    """

    def __init__(self, root: Path | None = None, *, timeout_s: float = 90.0, max_sessions: int = 16,
                 on_close: Callable[[str], None] | None = None):
        if root is None:
            remove_stale_roots(Path(tempfile.gettempdir()))
            root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX))
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / ".pid").write_text(str(os.getpid()))
        self.timeout_s = timeout_s
        self.max_sessions = max_sessions
        self.on_close = on_close
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None

    def create(self) -> Session:
        self.expire()
        with self._lock:
            if len(self._sessions) >= self.max_sessions:
                raise BusyError(f"{self.max_sessions} pages are open already; close one and reload")
            sid = new_id()
            folder = self.root / sid
            folder.mkdir()
            session = self._sessions[sid] = Session(id=sid, folder=folder)
        return session

    def get(self, session_id: str) -> Session:
        """The open session ``session_id`` (its last-seen time updated), else NotFoundError."""
        with self._lock:
            session = self._sessions.get(check_id(session_id, "session"))
            if session is None:
                raise NotFoundError("this page's session has ended (idle too long, or the server restarted); "
                                    "reload the page")
            session.last_seen = time.monotonic()
        return session

    def __len__(self) -> int:
        return len(self._sessions)

    def close(self, session_id: str) -> bool:
        """End a session: cancel its jobs, delete its folder. False when it was not open."""
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is None:
            return False
        session.closed = True
        if self.on_close is not None:
            self.on_close(session.id)
        shutil.rmtree(session.folder, ignore_errors=True)
        return True

    def expire(self, now: float | None = None) -> list[str]:
        """Close the sessions not seen for ``timeout_s``; returns their ids."""
        now = time.monotonic() if now is None else now
        with self._lock:
            idle = [s.id for s in self._sessions.values() if now - s.last_seen > self.timeout_s]
        for sid in idle:
            self.close(sid)
        return idle

    def start_reaper(self) -> None:
        """A daemon thread that expires idle sessions every few seconds."""
        def run() -> None:
            while not self._stop.wait(min(5.0, self.timeout_s / 3)):
                self.expire()

        self._reaper = threading.Thread(target=run, name="studio-reaper", daemon=True)
        self._reaper.start()

    def close_all(self) -> None:
        """Close every session and delete ``root`` (shutdown)."""
        self._stop.set()
        for sid in list(self._sessions):
            self.close(sid)
        shutil.rmtree(self.root, ignore_errors=True)
