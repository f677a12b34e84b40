"""The studio's typed errors; each maps to one HTTP status (``STATUS``) and a one-sentence message."""

from __future__ import annotations

from reenact.errors import ImageReadError, InputError, NoFaceError, ReenactError, VideoReadError


class NotFoundError(InputError):
    """An unknown or expired session, file or job id."""


class UploadTooLargeError(InputError):
    """An upload over the size limit."""


class BusyError(ReenactError):
    """The render queue or the session table is full."""


class JobCancelledError(ReenactError):
    """A render job stopped because its page closed, it was cancelled or the server stops."""


def http_status(exc: ReenactError) -> int:
    """The HTTP status of a typed error: 404, 413, 422 (no face / unreadable file), 429 or 400."""
    for kind, status in ((NotFoundError, 404), (UploadTooLargeError, 413), (BusyError, 429),
                         (NoFaceError, 422), (ImageReadError, 422), (VideoReadError, 422)):
        if isinstance(exc, kind):
            return status
    return 400
