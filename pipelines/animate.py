"""Animate a script: one photo + an AU trajectory (a script or an AU table) -> a video.

``AnimatePipeline`` (``reenact animate SOURCE SCRIPT OUT``) has the components of every pipeline
(a face editor and a source tracker factory, ``reenact.pipelines.base``). Calling it runs:

1. ``check_inputs``   the trajectory's shape and values, the output can be written
2. ``prepare_source`` find the source face (largest, or ``face_index``), align it once, its AUs
3. ``targets``        the trajectory as is, or added to the source's own AUs (``relative``)
4. ``render``         the editor in batches -> an mp4, a folder of PNG frames, or memory

A script comes from ``reenact.au.script.load_script`` (YAML/JSON keyframes, or an AU table).
"""

from __future__ import annotations

import os
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from reenact.au.space import TABLE_AU_NAMES
from reenact.errors import InputError
from reenact.io.files import check_writable
from reenact.io.sinks import FrameSink, MemorySink, PngFolderSink, VideoSink
from reenact.pipelines.base import Pipeline, ReenactOutput
from reenact.render.renderer import StageTimings

PathArg = str | os.PathLike


class AnimatePipeline(Pipeline):
    """Render an AU trajectory (T, 23) on a photo's face (see the module docstring)."""

    def __call__(self, source: PathArg | np.ndarray, targets: np.ndarray, fps: float | Fraction,
                 out: PathArg | None = None, *, frames_dir: bool = False, progress: bool = False,
                 relative: bool = False) -> ReenactOutput:
        """Render ``targets`` on the face of ``source``.

        Args:
            source: photo path, or an (H, W, 3) uint8 RGB array.
            targets: (T, 23) AU values in [0, 1] (``TABLE_AU_NAMES``), e.g. a script's ``values``.
            fps: frame rate of the trajectory.
            out: .mp4, or a new folder for PNG frames when ``frames_dir``; None returns the frames.
            frames_dir: write ``out`` as a folder of PNG frames.
            progress: draw a tqdm progress bar.
            relative: add the trajectory to the source's own AUs instead of using it as is.

        Raises:
            InputError: a malformed trajectory. NoFaceError: no face in the photo.
            OutputError: ``out`` cannot be written.
        """
        t0 = time.perf_counter()
        timings = StageTimings()
        targets, fps = self.check_inputs(targets, fps, out, frames_dir=frames_dir)  # 1
        src = self.prepare_source(self.read_source(source))  # 2
        targets = self.targets(src.aus, targets, relative=relative)  # 3
        timings.setup_s = time.perf_counter() - t0
        sink = self.sink(out, frames_dir=frames_dir, size=src.image.shape[:2], fps=fps)
        frames = self.render(src, targets, sink, timings=timings, progress=progress)  # 4
        timings.finish(t0, len(targets))
        return ReenactOutput(path=Path(out) if out is not None else None, frames=frames,
                             n_frames=len(targets), fps=fps, source=src, targets=targets, raw_track=None,
                             track=None, neutral=None, timings=timings, precision=self.precision,
                             device=str(self.device))

    def check_inputs(self, targets: np.ndarray, fps: float | Fraction, out: PathArg | None, *,
                     frames_dir: bool = False) -> tuple[np.ndarray, Fraction]:
        """Step 1: (T, 23) finite float32 targets, the exact frame rate, a writable ``out``."""
        targets = np.asarray(targets, np.float32)
        if targets.ndim != 2 or targets.shape[1] != len(TABLE_AU_NAMES) or not len(targets):
            raise InputError(f"AU trajectory must be (T, {len(TABLE_AU_NAMES)}), got {targets.shape}")
        if np.isnan(targets).any():
            raise InputError("AU trajectory has missing values (NaN); fill them or use a gap policy")
        if out is not None and not frames_dir:
            check_writable(out)
        fps = Fraction(fps).limit_denominator(1_000_000) if not isinstance(fps, Fraction) else fps
        return targets, fps

    def targets(self, source_aus: np.ndarray, targets: np.ndarray, *, relative: bool = False) -> np.ndarray:
        """Step 3: the trajectory itself, or with ``relative`` the source's AUs plus it (clipped)."""
        if relative:
            return np.clip(source_aus[None] + targets, 0.0, 1.0)
        return targets

    def sink(self, out: PathArg | None, *, frames_dir: bool, size: tuple[int, int],
             fps: Fraction) -> FrameSink:
        """Where step 4 writes: memory (no ``out``), a PNG folder or an mp4 of ``size`` (h, w)."""
        if out is None:
            return MemorySink()
        if frames_dir:
            return PngFolderSink(out)
        h, w = size
        return VideoSink(out, width=w, height=h, fps=fps, encode=self.config.encode)
