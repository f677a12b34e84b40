"""Where rendered frames go: an mp4 (+ a side-by-side preview), memory, or a folder of PNGs.

A sink is a context manager with ``write(frames)`` for each (B, H, W, 3) uint8 batch, in order,
and ``result()``: the frames for ``MemorySink``, else None. Outputs are all or nothing: leaving
the block with an error removes what was written (``VideoWriter``'s temporary, the PNG folder's
temporary folder); an existing output is never touched.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from reenact.errors import OutputError
from reenact.io.encode import EncodeConfig, VideoWriter
from reenact.io.files import locked_temp_dir


class FrameSink(Protocol):
    """What the renderer writes frames into (see the module docstring)."""

    def __enter__(self) -> FrameSink: ...

    def __exit__(self, exc_type, exc, tb) -> None: ...

    def write(self, frames: np.ndarray) -> None: ...

    def result(self) -> np.ndarray | None: ...


class VideoSink:
    """An mp4 through ``VideoWriter``, and optionally a side-by-side preview (driver | output).

    Args:
        out: the .mp4 to write.
        width, height: frame size; fps: the exact frame rate.
        encode: x264 options.
        audio_from, audio_codec, audio_duration_s: the audio to copy (``VideoWriter``).
        preview: optional .mp4 of (driver | output), made from ``preview_frames``.
        preview_frames: the driver's frames, one (h, w, 3) uint8 per output frame.
    """

    def __init__(self, out, *, width: int, height: int, fps: Fraction, encode: EncodeConfig = EncodeConfig(),
                 audio_from=None, audio_codec=None, audio_duration_s=None, preview=None,
                 preview_frames: Iterator[np.ndarray] | None = None):
        audio = dict(audio_from=audio_from, audio_codec=audio_codec, audio_duration_s=audio_duration_s)
        self.writer = VideoWriter(out, width=width, height=height, fps=fps, config=encode, **audio)
        self.preview = None
        self.preview_frames = preview_frames
        if preview is not None:
            self.preview = VideoWriter(preview, width=2 * width, height=height, fps=fps, config=encode,
                                       **audio)

    def __enter__(self) -> VideoSink:
        self.writer.__enter__()
        if self.preview is not None:
            try:
                self.preview.__enter__()
            except BaseException as exc:
                self.writer.__exit__(type(exc), exc, exc.__traceback__)
                raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self.preview is not None:
                self.preview.__exit__(exc_type, exc, tb)
        except BaseException as err:
            self.writer.__exit__(type(err), err, err.__traceback__)
            raise
        self.writer.__exit__(exc_type, exc, tb)

    def write(self, frames: np.ndarray) -> None:
        self.writer.write(frames)
        if self.preview is not None:
            self.preview.write(np.stack([side_by_side(next(self.preview_frames), f) for f in frames]))

    def result(self) -> None:
        return None


class MemorySink:
    """Keeps the frames; ``result()`` is (T, H, W, 3) uint8 (short clips only)."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def __enter__(self) -> MemorySink:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def write(self, frames: np.ndarray) -> None:
        self.frames.append(frames)

    def result(self) -> np.ndarray:
        return np.concatenate(self.frames)


class PngFolderSink:
    """A new folder of PNG frames (frame_000000.png ...), built in a locked temporary folder
    beside it and renamed at the end.

    Raises:
        OutputError: the parent folder does not exist, or ``folder`` exists and is not empty.
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.tmp: Path | None = None
        self.count = 0

    def __enter__(self) -> PngFolderSink:
        parent = self.folder.parent if str(self.folder.parent) else Path(".")
        if not parent.is_dir():
            raise OutputError(f"output folder {parent} does not exist; create it first")
        if self.folder.exists() and (not self.folder.is_dir() or any(self.folder.iterdir())):
            raise OutputError(f"{self.folder} exists and is not an empty folder; choose a new folder")
        self.tmp, self._lock = locked_temp_dir(parent, self.folder.name)  # locked while we write
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                if self.folder.exists():
                    self.folder.rmdir()
                os.replace(self.tmp, self.folder)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        finally:
            os.close(self._lock)

    def write(self, frames: np.ndarray) -> None:
        for frame in frames:
            Image.fromarray(frame).save(self.tmp / f"frame_{self.count:06d}.png", compress_level=1)
            self.count += 1

    def result(self) -> None:
        return None


def side_by_side(driver_frame: np.ndarray, output_frame: np.ndarray) -> np.ndarray:
    """(driver | output): the driver frame fitted (aspect kept, black bars) into a panel the size
    of the output frame, then the output frame, (H, 2W, 3) uint8."""
    h, w = output_frame.shape[:2]
    dh, dw = driver_frame.shape[:2]
    s = min(h / dh, w / dw)
    nh, nw = max(1, round(dh * s)), max(1, round(dw * s))
    panel = np.zeros_like(output_frame)
    small = np.asarray(Image.fromarray(driver_frame).resize((nw, nh), Image.BILINEAR))
    y, x = (h - nh) // 2, (w - nw) // 2
    panel[y:y + nh, x:x + nw] = small
    return np.concatenate([panel, output_frame], axis=1)
