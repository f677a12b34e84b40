"""The renders a studio job runs: an AU script or a driving video on the session's photo.

Both run the CLI's own pipelines (``AnimatePipeline`` as ``reenact animate``,
``ReenactPipeline`` as ``reenact SOURCE DRIVER OUT``). Progress and cancellation come
from swapping two of the pipeline's components for thin wrappers: the editor
(``ProgressEditor``: counts rendered frames) and the driver's AU extractor (counts tracked
frames); both poll the job's ``check`` so a cancelled job stops at its next batch or chunk, and
the pipeline then removes its partial outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from reenact.au.script import load_script
from reenact.au.tables import write_au_table
from reenact.face.tracking import TrackerConfig
from reenact.io.video import probe_video
from reenact.model.editor import FaceEditor
from reenact.pipelines import AnimatePipeline, PipelineConfig, ReenactOutput, ReenactPipeline
from reenact.render.transfer import TransferConfig
from reenact.studio.jobs import JobContext


class ProgressEditor:
    """A FaceEditor that forwards to ``editor`` and reports each batch to a job.

    Args:
        editor: the real model.
        ctx: the job.
        total: frames the render will edit.
        start, span: the part of the job's overall progress this render covers.
    """

    def __init__(self, editor: FaceEditor, ctx: JobContext, total: int, *, start: float = 0.0,
                 span: float = 1.0):
        self._editor, self._ctx, self._total = editor, ctx, total
        self._start, self._span = start, span
        self.done = 0
        self.name = editor.name

    def __getattr__(self, name: str):  # rig, refiner, config ... of the wrapped editor
        return getattr(self._editor, name)

    @property
    def crop_size(self) -> int:
        return self._editor.crop_size

    @property
    def device(self):
        return self._editor.device

    def to(self, device) -> ProgressEditor:
        self._editor.to(device)
        return self

    def prepare(self, source):
        self._ctx.check()
        return self._editor.prepare(source)

    def edit(self, prepared, targets, *, motion=None, precision="fp32"):
        self._ctx.check()
        batch = self._editor.edit(prepared, targets, motion=motion, precision=precision)
        self.done += len(targets)
        self._ctx.report("rendering", self.done, self._total, start=self._start, span=self._span)
        return batch


def counted_extractor(extractor: Callable, ctx: JobContext, total: int, *, span: float = 0.5) -> Callable:
    """The pipeline's driver AU extractor, reporting tracked frames to the job."""
    def run(chunks: Iterable[np.ndarray], fps: float):
        return extractor(_counted(chunks, ctx, total, span), fps)

    return run


def _counted(chunks: Iterable[np.ndarray], ctx: JobContext, total: int, span: float) -> Iterator[np.ndarray]:
    seen = 0
    ctx.report("tracking the driver", 0, total, span=span)
    for chunk in chunks:
        ctx.check()
        yield chunk
        seen += len(chunk)
        ctx.report("tracking the driver", seen, total, span=span)


def render_script(ctx: JobContext, editor: FaceEditor, image: np.ndarray, *, face_index: int,
                  script: Path, out: Path, config: PipelineConfig = PipelineConfig()) -> ReenactOutput:
    """``reenact animate PHOTO SCRIPT OUT`` on an in-memory photo, with progress."""
    loaded = load_script(script)
    cfg = replace(config, tracker=TrackerConfig(face_index=face_index))
    pipeline = AnimatePipeline(ProgressEditor(editor, ctx, len(loaded)), cfg)
    return pipeline(image, loaded.values, loaded.fps, out, relative=loaded.relative)


@dataclass(frozen=True)
class VideoOptions:
    """The Video tab's choices: ``reenact``'s --mode, --motion, --strength, --only, --max-frames."""

    mode: str = "relative"
    motion: str = "aus"
    strength: float = 1.0
    only: tuple[str, ...] = ()
    max_frames: int | None = None

    def config(self, face_index: int, base: PipelineConfig = PipelineConfig()) -> PipelineConfig:
        """The pipeline config of these options (checks them: InputError)."""
        transfer = TransferConfig(mode=self.mode, strength=self.strength, only=self.only)
        return replace(base, tracker=TrackerConfig(face_index=face_index), transfer=transfer,
                       motion=self.motion, max_frames=self.max_frames)


def render_video(ctx: JobContext, editor: FaceEditor, image: np.ndarray, *, face_index: int, driver: Path,
                 out: Path, plot: Path, table: Path, options: VideoOptions,
                 config: PipelineConfig = PipelineConfig()) -> ReenactOutput:
    """``reenact PHOTO DRIVER OUT --plot`` on an in-memory photo, with progress; the driver's AU
    table (as ``reenact aus`` writes it) goes to ``table``."""
    info = probe_video(driver)
    total = min(info.n_frames, options.max_frames or info.n_frames)
    cfg = options.config(face_index, config)
    pipeline = ReenactPipeline(ProgressEditor(editor, ctx, total, start=0.5, span=0.5), cfg)
    pipeline.extractor = counted_extractor(pipeline.extractor, ctx, total)
    result = pipeline(image, driver, out, plot=plot)
    write_au_table(result.track, table)
    return result
