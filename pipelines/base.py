"""What the three pipelines share: their config, their output, their components and two steps.

A pipeline is built from components (diffusers-style): the face ``editor`` (the model,
``reenact.model.editor.FaceEditor``) and ``make_tracker`` (the source photo's face tracker), plus
what a pipeline needs of its own (the video pipeline's driver ``extractor`` and ``smoother``).
Any of them can be swapped; ``from_pretrained`` builds a registered model, ``from_pipe`` makes
another kind of pipeline on the same components (no model loaded twice):

    pipe = ReenactPipeline.from_pretrained().to("cpu")
    animate = AnimatePipeline.from_pipe(pipe)

Every pipeline finds its source face with ``prepare_source`` and renders with ``render`` (the one
render loop, ``reenact.render.renderer.render_frames``). Precision: bf16 autocast where the
device runs it natively (CUDA, CPUs with AMX / AVX512-BF16; probed once), fp32 otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from reenact.au.lids import LID_READINGS
from reenact.au.smoothing import SmoothingConfig
from reenact.au.track import AUTrack
from reenact.device import PRECISIONS, bf16_supported
from reenact.errors import InputError
from reenact.face.paste import PasteConfig
from reenact.face.tracking import FaceTracker, TrackerConfig
from reenact.io.encode import EncodeConfig
from reenact.io.images import load_image
from reenact.io.sinks import FrameSink
from reenact.model.editor import FaceEditor, PreparedFace, SourceFace
from reenact.model.ganimation import GanimationEditor
from reenact.model.generator import Generator
from reenact.model.registry import build_editor
from reenact.render.motion import MOTIONS
from reenact.render.renderer import StageTimings, render_frames
from reenact.render.source import find_source_face
from reenact.render.transfer import TransferConfig

#: Frames in one decoded chunk or rendered batch at the most (memory at 1080p).
CHUNK_BYTES = 48 * 2 ** 20


@dataclass(frozen=True)
class PipelineConfig:
    """Options of a rendering run (each stage's config nested)."""

    batch_size: int | None = None  # frames per generator batch; None: 16 on CPU, 64 on CUDA
    precision: str = "auto"  # auto (bf16 where the device supports it) | bf16 | fp32
    chunk_size: int = 32  # driver frames decoded per chunk in pass 1
    queue_depth: int = 3  # batches in flight between stages (bounds memory)
    workers: int | None = None  # threads for pass 1's parts and pass 2's batches; None: 2 on 2+ cores
    max_frames: int | None = None  # render only the first N driver frames (audio cut to match)
    motion: str = "aus"  # driving videos: "aus" (the rig of the transferred AUs) or "landmarks"
    # driving videos: the driver's blinks read from its lids' geometry ("geometry",
    # ``reenact.au.lids``) or from MediaPipe's blink scores ("blendshapes")
    lids: str = "geometry"
    tracker: TrackerConfig = field(default_factory=TrackerConfig)  # the source photo's face choice
    driver_face_index: int | None = None  # driver: None = the largest face, k = k-th from the left
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    paste: PasteConfig = field(default_factory=PasteConfig)
    encode: EncodeConfig = field(default_factory=EncodeConfig)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        too_small = any(v is not None and v < 1 for v in (self.batch_size, self.workers))
        if too_small or self.chunk_size < 1 or self.queue_depth < 1:
            raise InputError("batch_size, workers, chunk_size and queue_depth must be >= 1")
        if self.max_frames is not None and self.max_frames < 1:
            raise InputError(f"max_frames must be >= 1, got {self.max_frames}")
        if self.motion not in MOTIONS:
            raise InputError(f"motion must be aus or landmarks, got {self.motion!r}")
        if self.lids not in LID_READINGS:
            raise InputError(f"lids must be geometry or blendshapes, got {self.lids!r}")


@dataclass(frozen=True, eq=False)
class ReenactOutput:
    """Result of a run.

    Attributes:
        path: the written video (None when frames were returned instead).
        frames: (T, H, W, 3) uint8 output frames when no path was given, else None.
        n_frames: frames rendered.
        fps: exact frame rate of the output.
        source: the prepared source face.
        targets: (T, 23) float32 target AUs fed to G (``TABLE_AU_NAMES``).
        raw_track: the driver's AUs as tracked (None for a scripted run).
        track: the driver's AUs after gap policy and smoothing (None for a scripted run).
        neutral: (23,) the driver's neutral baseline (None for a scripted run).
        timings: per-stage seconds.
        preview_path: side-by-side video, when asked for.
        plot_path: AU plot of the drive, when asked for.
        precision: "bf16" or "fp32", as run.
        device: the device G ran on.
    """

    path: Path | None
    frames: np.ndarray | None
    n_frames: int
    fps: Fraction
    source: SourceFace
    targets: np.ndarray
    raw_track: AUTrack | None
    track: AUTrack | None
    neutral: np.ndarray | None
    timings: StageTimings
    preview_path: Path | None = None
    plot_path: Path | None = None
    precision: str = "fp32"
    device: str = "cpu"

    def summary(self) -> str:
        """One line: frames, time, fps, device, precision and the per-stage seconds."""
        t = self.timings
        return (f"{self.n_frames} frames in {t.total_s:.1f} s ({t.fps:.1f} fps, {self.device}, "
                f"{self.precision}; "
                f"decode {t.decode_s:.1f} s, track+AUs {t.track_s:.1f} s, warp {t.warp_s:.1f} s, "
                f"generate {t.generate_s:.1f} s, paste {t.paste_s:.1f} s, encode {t.encode_s:.1f} s)")


#: ``make_tracker(video) -> FaceTracker``: the source photo's tracker (video=False).
TrackerFactory = Callable[[bool], FaceTracker]


class Pipeline:
    """The base of the pipelines (see the module docstring).

    Args:
        editor: the face model; a bare GANimation ``Generator`` is wrapped in a
            ``GanimationEditor`` with ``config.paste``.
        config: options of every stage.
        make_tracker: ``make_tracker(video) -> FaceTracker`` (default: ``config.tracker``).
    """

    #: The components ``from_pipe`` hands on; subclasses add theirs.
    component_names: tuple[str, ...] = ("editor", "make_tracker")

    def __init__(self, editor: FaceEditor | Generator, config: PipelineConfig = PipelineConfig(), *,
                 make_tracker: TrackerFactory | None = None):
        if isinstance(editor, Generator):
            editor = GanimationEditor(editor, config.paste)
        self.editor = editor
        self.config = config
        self._given = {"make_tracker": make_tracker}
        self.make_tracker = make_tracker or self._default_tracker
        self._bf16: bool | None = None

    def _default_tracker(self, video: bool) -> FaceTracker:
        return FaceTracker(self.config.tracker, video=video)

    @property
    def components(self) -> dict:
        """The components this pipeline was built with (None where it uses the default)."""
        return {"editor": self.editor} | self._given

    @classmethod
    def from_pretrained(cls, weights: str | os.PathLike | None = None,
                        config: PipelineConfig = PipelineConfig(), *, model: str | None = None,
                        **components) -> Pipeline:
        """A pipeline with the named model (``reenact.model.registry``; default: the registered
        default model, or the model ``weights`` belong to) and its weights (default: the registered
        ones)."""
        editor = build_editor(model, weights=weights, paste=config.paste)
        return cls(editor, config, **components)

    @classmethod
    def from_pipe(cls, pipe: Pipeline, config: PipelineConfig | None = None, **components) -> Pipeline:
        """A pipeline of this kind on ``pipe``'s components and config (or ``config``); the
        keyword arguments replace components."""
        mine = {k: v for k, v in pipe.components.items() if k in cls.component_names}
        mine |= components
        return cls(mine.pop("editor"), config or pipe.config, **mine)

    @property
    def device(self) -> torch.device:
        return self.editor.device

    def to(self, device: str | torch.device) -> Pipeline:
        self.editor.to(torch.device(device))
        self._bf16 = None
        return self

    @property
    def precision(self) -> str:
        """"bf16" or "fp32": what the editor's networks run in on the current device."""
        if self.config.precision != "auto":
            return self.config.precision
        if self._bf16 is None:
            self._bf16 = bf16_supported(self.device)
        return "bf16" if self._bf16 else "fp32"

    @property
    def crop_size(self) -> int:
        return self.editor.crop_size

    @property
    def batch_size(self) -> int:
        """Frames per editor batch: the config's, else 64 on CUDA and 16 elsewhere."""
        if self.config.batch_size is not None:
            return self.config.batch_size
        return 64 if self.device.type == "cuda" else 16

    @property
    def workers(self) -> int:
        """Threads for the parts of the work that split (the driver's parts in pass 1, batches in
        pass 2): the config's, else 2 where the process may use 2 or more cores."""
        return self.config.workers or min(2, _usable_cores())

    @property
    def render_workers(self) -> int:
        """Batches edited at once: ``workers``, at most what the editor allows (``max_workers``:
        one that records its calls in order asks for 1)."""
        return max(1, min(self.workers, getattr(self.editor, "max_workers", self.workers)))

    def frames_per_chunk(self, pixels: int) -> int:
        """Driver frames decoded per chunk: the config's, fewer for big frames so that a chunk
        stays under ``CHUNK_BYTES`` (pass 1 holds a few chunks at once)."""
        return max(2, min(self.config.chunk_size, CHUNK_BYTES // max(3 * pixels, 1)))

    def frames_per_batch(self, pixels: int) -> int:
        """Frames per render batch: ``batch_size``, fewer for big photos (each frame of a batch is
        assembled at full size, and a few batches are in flight)."""
        return max(2, min(self.batch_size, CHUNK_BYTES // max(3 * pixels, 1)))

    # ----------------------------------------------------------------------- shared steps

    @staticmethod
    def read_source(source: str | os.PathLike | np.ndarray) -> np.ndarray:
        """A photo path or an (H, W, 3) uint8 RGB array -> the array (checked)."""
        if isinstance(source, np.ndarray):
            if source.ndim != 3 or source.shape[2] != 3 or source.dtype != np.uint8:
                raise InputError(f"source array must be (H, W, 3) uint8 RGB, got {source.shape} "
                                 f"{source.dtype}")
            return np.ascontiguousarray(source)
        return load_image(source)

    def prepare_source(self, image: np.ndarray) -> SourceFace:
        """Find the source face (largest, or ``tracker.face_index``) and align it once.

        Raises:
            NoFaceError: no face, or fewer faces than ``face_index`` + 1.
        """
        with self.make_tracker(False) as tracker:
            return find_source_face(image, tracker, face_index=self.config.tracker.face_index,
                                    crop_size=self.crop_size)

    def prepared_face(self, src: SourceFace, rig_gain: float | None = None) -> PreparedFace:
        """The editor's prepared source face; with ``rig_gain`` (a driving video's AUs), a
        warp-guided model's moved by its rig at that share of the calibration gains
        (``reenact.model.rig_gain``)."""
        prepared = self.editor.prepare(src)
        driven = getattr(self.editor, "driven", None) if rig_gain is not None else None
        return driven(prepared, rig_gain) if driven is not None else prepared

    def render(self, src: SourceFace, targets: np.ndarray, sink: FrameSink, *,
               motion: np.ndarray | None = None, crops: bool = False, timings: StageTimings | None = None,
               progress: bool = False, batch_size: int | None = None, rig_gain: float | None = None
               ) -> np.ndarray | None:
        """The editor on ``src`` for every (T, 23) target row, in batches (``batch_size``, default
        ``frames_per_batch`` of the photo), into ``sink``; ``rig_gain``: see ``prepared_face``
        (None: targets as scripted, the rig's whole gain).

        Returns:
            ``sink.result()``: the (T, H, W, 3) uint8 frames of a ``MemorySink``, else None.
        """
        prepared = self.prepared_face(src, rig_gain)
        bar = progress_bar(progress, len(targets), "rendering")
        try:
            batch_size = batch_size or self.frames_per_batch(src.image.shape[0] * src.image.shape[1])
            return render_frames(self.editor, prepared, targets, sink, batch_size=batch_size,
                                 precision=self.precision, motion=motion, queue_depth=self.config.queue_depth,
                                 crops=crops, timings=timings, progress=bar.update if bar else None,
                                 workers=self.render_workers)
        finally:
            if bar is not None:
                bar.close()


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def progress_bar(progress: bool, total: int, desc: str) -> tqdm | None:
    """A frame-counting tqdm bar that clears itself when done, or None without ``progress``."""
    if not progress:
        return None
    return tqdm(total=total, desc=desc, unit="frame", dynamic_ncols=True, leave=False)
