"""Keeping resident memory flat on long clips.

Frames are large (a 1080p RGB frame is 6 MiB) and are allocated and freed thousands of times.
glibc keeps freed heap pages mapped, and with several threads (decode prefetch, MediaPipe, the
writer) its arenas fragment, so the resident size of a 10-minute run drifted up to 2x that of
a 1-minute run although nothing was kept (measured: 256 -> 509 -> 275 -> 515 MiB over four
passes of the same clip, 229 -> 240 -> 276 -> 261 MiB with a trim after each pass).
``trim_heap`` hands the free pages back to the OS; it costs well under a millisecond when little
is free, so the streaming loops call it once per chunk or batch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _malloc_trim():
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None


def trim_heap() -> None:
    """Return freed heap memory to the OS (glibc ``malloc_trim(0)``); a no-op elsewhere."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
