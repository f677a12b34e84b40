"""The reenactment pipeline: one photo + a driving video (or an AU trajectory) -> a video.

``ReenactPipeline`` is built from its components (a face editor, i.e. the model, see
``reenact.model.editor``; a face-tracker factory, a driver AU extractor and a smoother); any of them
can be swapped. Calling it runs
numbered steps, each a named method:

1. ``check_inputs``   read the source photo, probe the driver, check the outputs can be written
2. ``prepare_source`` find the source face (largest, or ``face_index``), align it once, its AUs
3. ``track``          pass 1 over the driver: decode -> track -> per-frame AUs (an ``AUTrack``)
4. ``smooth``         gap policy + temporal smoothing; the driver's neutral baseline
5. ``transfer``       the source's target AUs per frame (relative / absolute, strength, groups)
6. ``render``         pass 2: the editor in batches (``render_batches``) -> frames -> encode

Memory stays flat on long videos: pass 1 keeps only the AU track (T x 23 floats); pass 2 never
decodes the driver (except for ``--preview``) and streams batches through bounded queues, with
generation + paste in the calling thread and frame assembly + encoding in a writer thread (ffmpeg
itself is a separate process), so the stages overlap.

Precision: bf16 autocast on CUDA, and on CPUs with native bf16 (AMX / AVX512-BF16; checked once
with a probe); fp32 otherwise. ``pipeline.to(device)`` moves the editor's networks.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from reenact.align import align_face
from reenact.au import TABLE_AU_NAMES
from reenact.aus import AUTrack, aus_from_face
from reenact.encode import EncodeConfig, VideoWriter
from reenact.errors import InputError, NoFaceError, OutputError, WeightsError
from reenact.generator import Generator

# The stop flag set by the CLI's SIGINT/SIGTERM handler; the long loops below poll check_stop.
# clear_stop and request_stop are re-exported for code that imports them from here.
from reenact.interrupt import check_stop, clear_stop, request_stop  # noqa: F401
from reenact.memory import trim_heap
from reenact.model.editor import FaceEditor, SourceFace, render_batches
from reenact.model.ganimation import GanimationEditor
from reenact.paste import PasteConfig
from reenact.smoothing import SmoothingConfig, neutral_baseline, smooth_track
from reenact.tracking import FaceTracker, TrackerConfig
from reenact.transfer import TransferConfig, transfer_aus

PRECISIONS = ("auto", "bf16", "fp32")
CHUNK_BYTES = 48 * 2 ** 20  # frames in one decoded chunk or rendered batch, at most (memory at 1080p)


@dataclass(frozen=True)
class PipelineConfig:
    """Options of a reenactment run (each stage's config nested)."""

    batch_size: int | None = None  # frames per generator batch; None: 16 on CPU, 64 on CUDA
    precision: str = "auto"  # auto (bf16 where the device supports it) | bf16 | fp32
    chunk_size: int = 32  # driver frames decoded per chunk in pass 1
    queue_depth: int = 3  # batches in flight between stages (bounds memory)
    max_frames: int | None = None  # render only the first N driver frames (audio cut to match)
    motion: str = "aus"  # driving videos: "aus" (the rig of the transferred AUs) or "landmarks"
    tracker: TrackerConfig = field(default_factory=TrackerConfig)  # the source photo's face choice
    driver_face_index: int | None = None  # driver: None = the largest face, k = k-th from the left
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    paste: PasteConfig = field(default_factory=PasteConfig)
    encode: EncodeConfig = field(default_factory=EncodeConfig)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        too_small = self.batch_size is not None and self.batch_size < 1
        if too_small or self.chunk_size < 1 or self.queue_depth < 1:
            raise InputError("batch_size, chunk_size and queue_depth must be >= 1")
        if self.max_frames is not None and self.max_frames < 1:
            raise InputError(f"max_frames must be >= 1, got {self.max_frames}")
        if self.motion not in ("aus", "landmarks"):
            raise InputError(f"motion must be aus or landmarks, got {self.motion!r}")


@dataclass
class StageTimings:
    """Wall-clock seconds per stage of one run (stages overlap in pass 2, so they do not sum to
    ``total_s``: each is the time spent inside that stage's own work)."""

    decode_s: float = 0.0  # decoding the driver (pass 1)
    track_s: float = 0.0  # MediaPipe tracking + AUs (pass 1)
    smooth_s: float = 0.0  # gap policy, smoothing, neutral baseline, transfer
    generate_s: float = 0.0  # networks' forward passes (G, the refiner)
    warp_s: float = 0.0  # rig + warping the photo (warp-guided models)
    paste_s: float = 0.0  # composing at full resolution
    encode_s: float = 0.0  # frame assembly + handing frames to ffmpeg (incl. waiting on it)
    setup_s: float = 0.0  # reading the source, finding and aligning its face
    total_s: float = 0.0  # the whole call, wall clock
    n_frames: int = 0

    def add(self, seconds: dict[str, float]) -> None:
        """Add an editor's per-part seconds ("generate", "warp", "paste") to the stage totals."""
        for part, value in seconds.items():
            name = f"{part}_s"
            setattr(self, name, getattr(self, name) + value)

    @property
    def fps(self) -> float:
        """End-to-end frames per second of the call."""
        return self.n_frames / self.total_s if self.total_s > 0 else 0.0

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in vars(self).items()} | {
            "fps": round(self.fps, 3)}


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


# --------------------------------------------------------------------------- component defaults

TrackerFactory = Callable[[bool], FaceTracker]
Extractor = Callable[[Iterable[np.ndarray], float], AUTrack]
Smoother = Callable[[AUTrack], AUTrack]


def registered_generator_path() -> Path:
    """Local path of the trained generator registered in weights/manifest.json.

    Raises:
        WeightsError: no generator is registered, or it cannot be fetched and verified.
    """
    from reenact.weights import MANIFEST_PATH, fetch, load_manifest

    names = sorted(n for n, e in load_manifest().items()
                   if e.file.endswith(".safetensors") and n.startswith("generator"))
    if not names:
        raise WeightsError(f"no trained generator is registered in {MANIFEST_PATH}; pass --weights PATH")
    preferred = sorted(names, key=lambda n: (n != "generator", n))[0]  # "generator" first
    return fetch(preferred, quiet=True)


def set_cpu_threads(n: int | None) -> None:
    """Threads of torch's and OpenCV's CPU kernels (None: leave their defaults).

    One is the right number for the pipeline on a small CPU: its own threads (decoding, frame
    assembly) and ffmpeg use the other cores, and two kernel threads per library competing with
    them ran 2-3x slower here (16 vs 6 fps at 512x512 on 2 cores).
    """
    if n is None:
        return
    import cv2

    torch.set_num_threads(max(1, n))
    cv2.setNumThreads(max(1, n))


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast is native (fast) on ``device``; checked with a tiny probe."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    if not (torch.backends.mkldnn.is_available() and _cpu_has_native_bf16()):
        return False
    try:  # the probe: a conv under autocast must run and return bf16
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            y = torch.nn.functional.conv2d(torch.ones(1, 4, 8, 8), torch.ones(4, 4, 3, 3))
        return y.dtype == torch.bfloat16
    except RuntimeError:
        return False


def _cpu_has_native_bf16() -> bool:
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(probe()) if probe is not None else False
    except RuntimeError:
        return False


# --------------------------------------------------------------------------- pipeline


class ReenactPipeline:
    """Reenact one source photo with a driving video or an AU trajectory.

    Args:
        editor: the face model (``reenact.model.editor.FaceEditor``); a bare GANimation
            ``Generator`` is wrapped in a ``GanimationEditor`` with ``config.paste``.
        config: options of every stage.
        make_tracker: ``make_tracker(video) -> FaceTracker`` for the source photo (video=False).
        extractor: ``extractor(frame_chunks, fps) -> AUTrack``: tracks the driver and measures
            its AUs (pass 1); default ``reenact.extract.track_clip`` with the driver's face choice
            (single-face VIDEO tracking when the clip shows one face).
        smoother: ``smoother(raw_track) -> AUTrack`` (gap policy + smoothing).
    """

    def __init__(self, editor: FaceEditor | Generator, config: PipelineConfig = PipelineConfig(), *,
                 make_tracker: TrackerFactory | None = None, extractor: Extractor | None = None,
                 smoother: Smoother | None = None):
        if isinstance(editor, Generator):
            editor = GanimationEditor(editor, config.paste)
        if config.motion == "landmarks" and getattr(editor, "rig", None) is None:
            raise InputError(f"landmark motion needs a warp-guided model; the {editor.name} model takes "
                             "AUs only (use --motion aus)")
        self.editor = editor
        self.config = config
        self.make_tracker = make_tracker or self._default_tracker
        self.extractor = extractor or self._default_extractor
        self.smoother = smoother or (lambda track: smooth_track(track, config.smoothing))
        self._bf16: bool | None = None

    def _default_extractor(self, chunks: Iterable[np.ndarray], fps: float) -> AUTrack:
        from dataclasses import replace

        from reenact.extract import track_clip

        config = replace(self.config.tracker, face_index=self.config.driver_face_index)
        return track_clip(chunks, fps, config=config, keep_landmarks=self.config.motion == "landmarks")

    def _default_tracker(self, video: bool) -> FaceTracker:
        from dataclasses import replace

        cfg = self.config.tracker
        if video:
            cfg = replace(cfg, face_index=self.config.driver_face_index)
        return FaceTracker(cfg, video=video)

    @classmethod
    def from_pretrained(cls, weights: str | os.PathLike | None = None,
                        config: PipelineConfig = PipelineConfig(), *, model: str | None = None,
                        **components) -> ReenactPipeline:
        """A pipeline with the named model (``reenact.model.registry``; default: the registered
        default model, or the model ``weights`` belong to) and its weights (default: the registered
        ones)."""
        from reenact.model.registry import build_editor

        editor = build_editor(model, weights=weights, paste=config.paste)
        return cls(editor, config, **components)

    @property
    def device(self) -> torch.device:
        return self.editor.device

    def to(self, device: str | torch.device) -> ReenactPipeline:
        self.editor.to(torch.device(device))
        self._bf16 = None
        return self

    def frames_per_chunk(self, pixels: int) -> int:
        """Driver frames decoded per chunk: the config's, fewer for big frames so that a chunk
        stays under ``CHUNK_BYTES`` (pass 1 holds a few chunks at once)."""
        return max(2, min(self.config.chunk_size, CHUNK_BYTES // max(3 * pixels, 1)))

    def frames_per_batch(self, pixels: int) -> int:
        """Frames per render batch: ``batch_size``, fewer for big photos (each frame of a batch is
        assembled at full size, and a few batches are in flight)."""
        return max(2, min(self.batch_size, CHUNK_BYTES // max(3 * pixels, 1)))

    @property
    def precision(self) -> str:
        """"bf16" or "fp32": what G runs in on the current device."""
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
        """Frames per G batch: the config's, else 64 on CUDA and 16 elsewhere."""
        if self.config.batch_size is not None:
            return self.config.batch_size
        return 64 if self.device.type == "cuda" else 16

    # ----------------------------------------------------------------------- the call

    def __call__(self, source: str | os.PathLike | np.ndarray, driver: str | os.PathLike,
                 out: str | os.PathLike | None = None, *, preview: str | os.PathLike | None = None,
                 plot: str | os.PathLike | None = None, progress: bool = False) -> ReenactOutput:
        """Reenact ``source`` with ``driver``; write ``out`` (mp4) or return the frames.

        Args:
            source: photo path, or an (H, W, 3) uint8 RGB array.
            driver: driving video path.
            out: output .mp4; None returns the frames in memory (short clips only).
            preview: optional .mp4 path for a side-by-side video (driver | output).
            plot: optional image path (.png/.pdf/.svg) for the AU plot of the drive.
            progress: draw tqdm progress bars.

        Raises:
            ImageReadError / VideoReadError: unreadable inputs. NoFaceError: no face in the
            source, or in every driver frame. OutputError: an output cannot be written.
        """
        t0 = time.perf_counter()
        timings = StageTimings()
        image, info = self.check_inputs(source, driver, out, preview=preview, plot=plot)  # 1
        src = self.prepare_source(image)  # 2
        timings.setup_s = time.perf_counter() - t0
        raw = self.track(info, timings, progress=progress)  # 3
        t = time.perf_counter()
        track, neutral = self.smooth(raw)  # 4
        targets = self.transfer(src.aus, track, neutral)  # 5
        motion = self.motion(raw)  # 5b: landmark motion (warp-guided models), or None
        timings.smooth_s = time.perf_counter() - t
        n = len(targets)
        audio = dict(audio_from=info.path if info.has_audio else None, audio_codec=info.audio_codec,
                     audio_duration_s=(n / info.fps_fraction) if n < info.n_frames else None)
        plot_path = None
        if plot is not None:
            from reenact.plotting import save_au_plot

            plot_path = save_au_plot(track, plot, raw=raw, title=f"AUs of {Path(info.path).name}")
        preview_frames = self._driver_frames(info, n) if preview is not None else None
        try:
            frames = self.render(src, targets, info.fps_fraction, out, motion=motion, timings=timings,
                                 preview=preview,
                                 preview_frames=preview_frames, progress=progress, **audio)  # 6
        except BaseException:
            if plot_path is not None:  # outputs are all or nothing
                Path(plot_path).unlink(missing_ok=True)
            raise
        timings.total_s = time.perf_counter() - t0
        timings.n_frames = n
        return ReenactOutput(
            path=Path(out) if out is not None else None, frames=frames, n_frames=n,
            fps=info.fps_fraction, source=src, targets=targets, raw_track=raw, track=track,
            neutral=neutral, timings=timings, preview_path=Path(preview) if preview else None,
            plot_path=Path(plot_path) if plot_path else None, precision=self.precision,
            device=str(self.device))

    def animate(self, source: str | os.PathLike | np.ndarray, targets: np.ndarray, fps: float | Fraction,
                out: str | os.PathLike | None = None, *, frames_dir: bool = False,
                progress: bool = False, relative: bool = False) -> ReenactOutput:
        """Render an AU trajectory (T, 23) on the source face (``reenact animate``).

        Args:
            targets: (T, 23) AU values in [0, 1] (``TABLE_AU_NAMES``), e.g. from a script.
            fps: frame rate of the trajectory.
            out: .mp4, or a folder for PNG frames when ``frames_dir``; None returns the frames.
            relative: add the trajectory to the source's own AUs instead of using it as is.
        """
        t0 = time.perf_counter()
        timings = StageTimings()
        targets = np.asarray(targets, np.float32)
        if targets.ndim != 2 or targets.shape[1] != len(TABLE_AU_NAMES) or not len(targets):
            raise InputError(f"AU trajectory must be (T, {len(TABLE_AU_NAMES)}), got {targets.shape}")
        if np.isnan(targets).any():
            raise InputError("AU trajectory has missing values (NaN); fill them or use a gap policy")
        if out is not None and not frames_dir:
            from reenact.io_utils import check_writable

            check_writable(out)
        image = self._read_source(source)
        src = self.prepare_source(image)
        if relative:
            targets = np.clip(src.aus[None] + targets, 0.0, 1.0)
        timings.setup_s = time.perf_counter() - t0
        fps = Fraction(fps).limit_denominator(1_000_000) if not isinstance(fps, Fraction) else fps
        frames = self.render(src, targets, fps, out, timings=timings, frames_dir=frames_dir,
                             progress=progress)
        timings.total_s = time.perf_counter() - t0
        timings.n_frames = len(targets)
        return ReenactOutput(path=Path(out) if out is not None else None, frames=frames,
                             n_frames=len(targets), fps=fps, source=src, targets=targets, raw_track=None,
                             track=None, neutral=None, timings=timings, precision=self.precision,
                             device=str(self.device))

    # ----------------------------------------------------------------------- steps

    def check_inputs(self, source, driver, out, *, preview=None, plot=None):
        """Step 1: read the photo, probe the driver, check that every output can be written."""
        from reenact.io_utils import check_distinct, check_writable
        from reenact.plotting import check_plot_path
        from reenact.video import probe_video

        photo = None if isinstance(source, np.ndarray) else source
        check_distinct({"source photo": photo, "driver": driver},
                       {"output": out, "--preview": preview, "--plot": plot})
        if out is not None and Path(out).suffix.lower() != ".mp4":
            raise OutputError(f"output {out} must end in .mp4")
        if preview is not None and Path(preview).suffix.lower() != ".mp4":
            raise OutputError(f"preview {preview} must end in .mp4")
        if plot is not None:
            check_plot_path(plot)
        for path in (out, preview, plot):
            if path is not None:
                check_writable(path)
        image = self._read_source(source)
        info = probe_video(driver)
        return image, info

    @staticmethod
    def _read_source(source) -> np.ndarray:
        if isinstance(source, np.ndarray):
            if source.ndim != 3 or source.shape[2] != 3 or source.dtype != np.uint8:
                raise InputError(f"source array must be (H, W, 3) uint8 RGB, got {source.shape} "
                                 f"{source.dtype}")
            return np.ascontiguousarray(source)
        from reenact.images import load_image

        return load_image(source)

    def prepare_source(self, image: np.ndarray) -> SourceFace:
        """Step 2: find the source face (largest, or ``tracker.face_index``) and align it once.

        Raises:
            NoFaceError: no face, or fewer faces than ``face_index`` + 1.
        """
        from reenact.tracking import refine_face, select_face

        with self.make_tracker(False) as tracker:
            faces = tracker.detect_all(image)
            if not faces:
                raise NoFaceError("no face found in the source photo; use a photo with a clearly visible, "
                                  "roughly frontal face")
            index = self.config.tracker.face_index
            face = select_face(faces, index)
            if face is None:
                raise NoFaceError(f"the source photo shows {len(faces)} face(s); --face-index {index} does "
                                  f"not exist (use 0..{len(faces) - 1}, counted from the left)")
            face = refine_face(image, face, tracker)  # a small face in a big photo: read on a crop
        alignment = align_face(face.landmarks, self.crop_size)
        return SourceFace(image=image, face=face, alignment=alignment, aus=aus_from_face(face),
                          n_faces=len(faces))

    def track(self, info, timings: StageTimings | None = None, *, progress: bool = False) -> AUTrack:
        """Step 3 (pass 1): decode the driver, track its face, measure AUs per frame.

        Raises:
            NoFaceError: no face in any frame.
        """
        from reenact.video import iter_frames, prefetched

        timings = timings if timings is not None else StageTimings()
        limit = self.config.max_frames
        chunks = _limited(iter_frames(info.path, chunk_size=self.frames_per_chunk(info.width * info.height),
                                      info=info, prefetch=0),
                          limit)
        timed = _Timed(chunks)  # decode time, spent in the prefetch thread
        total = min(info.n_frames, limit) if limit else info.n_frames
        bar = _bar(progress, total, "tracking driver")
        t0 = time.perf_counter()
        waited = _Timed(prefetched(timed, self.config.queue_depth))  # tracker idle, waiting for frames
        raw = self.extractor(_ticking(waited, bar), info.fps)
        _close(bar)
        timings.decode_s += timed.seconds
        # Decode overlaps tracking: tracking is the pass's wall time less its waits for frames.
        timings.track_s += max(time.perf_counter() - t0 - waited.seconds, 0.0)
        if not raw.found.any():
            raise self._no_driver_face(info, total)
        return raw

    def _no_driver_face(self, info, n_frames: int) -> NoFaceError:
        """No face in any driver frame, or the asked --driver-face-index is not there."""
        from reenact.extract import face_index_error, sample_frames

        error = face_index_error(f"the driver {info.path}", face_index=self.config.driver_face_index,
                                 option="--driver-face-index", frames=lambda: sample_frames(info, n_frames),
                                 config=self.config.tracker)
        return error or NoFaceError(f"no face found in any frame of the driver {info.path}; use a video "
                                    "that shows a face")

    def smooth(self, raw: AUTrack) -> tuple[AUTrack, np.ndarray]:
        """Step 4: gap policy + smoothing; the driver's reference face for relative transfer: its
        neutral baseline (from the raw track), or its first frame with a face (smoothed)."""
        track = self.smoother(raw)
        if self.config.transfer.reference == "first":
            return track, track.values[int(np.argmax(raw.found))].copy()
        return track, neutral_baseline(raw)

    def motion(self, raw: AUTrack) -> np.ndarray | None:
        """Step 5b: (T, 478, 3) canonical landmark motion of the driver in landmark mode, else None."""
        if self.config.motion != "landmarks":
            return None
        from reenact.motion import MotionConfig, landmark_motion

        cfg = self.config.transfer
        # absolute transfer copies the driver's expression: for landmarks, its motion from its
        # first frame, which is right when the photo is that frame (self-reenactment)
        reference = "first" if cfg.mode == "absolute" else cfg.reference
        return landmark_motion(raw, self.editor.rig, smoothing=self.config.smoothing,
                               config=MotionConfig(strength=cfg.strength, only=cfg.only, reference=reference))

    def transfer(self, source_aus: np.ndarray, track: AUTrack, neutral: np.ndarray) -> np.ndarray:
        """Step 5: target AUs (T, 23) for the source face; frames still without values (gap
        policy "missing") show the source at rest."""
        values = track.values.copy()
        missing = np.isnan(values).any(axis=1)
        cfg = self.config.transfer
        values[missing] = neutral if cfg.mode == "relative" else source_aus
        return transfer_aus(source_aus, values, neutral=neutral, config=cfg)

    def render(self, src: SourceFace, targets: np.ndarray, fps: Fraction, out=None, *,
               motion: np.ndarray | None = None, timings: StageTimings | None = None, preview=None,
               preview_frames=None,
               frames_dir: bool = False, progress: bool = False, audio_from=None, audio_codec=None,
               audio_duration_s=None) -> np.ndarray | None:
        """Step 6 (pass 2): the editor in batches -> frames -> encode (or collect, or PNG frames).

        ``motion`` (T, 478, 3) optional canonical landmark displacements for warp-guided editors.

        Returns:
            (T, H, W, 3) uint8 frames when ``out`` is None, else None.
        """
        timings = timings if timings is not None else StageTimings()
        prepared = self.editor.prepare(src)
        h, w = src.image.shape[:2]
        bar = _bar(progress, len(targets), "rendering")
        sink = _make_sink(out, frames_dir, width=w, height=h, fps=fps, audio_from=audio_from,
                          audio_codec=audio_codec, audio_duration_s=audio_duration_s,
                          encode=self.config.encode, preview=preview, preview_frames=preview_frames)
        batches = render_batches(self.editor, prepared, targets, motion=motion,
                                 batch_size=self.frames_per_batch(src.image.shape[0] * src.image.shape[1]),
                                 precision=self.precision, check_stop=check_stop)
        with sink, _Worker(sink.write, self.config.queue_depth, prepared.assemble) as worker:
            for _, batch in batches:
                timings.add(batch.seconds)
                worker.put(batch.regions)
                trim_heap()
                if bar is not None:
                    bar.update(len(batch.regions))
        timings.encode_s += worker.seconds
        _close(bar)
        return sink.result()

    def _driver_frames(self, info, n: int) -> Iterator[np.ndarray]:
        """The driver's first n frames again, one at a time (only for the preview)."""
        from reenact.video import iter_frames

        return _single_frames(_limited(iter_frames(info.path, chunk_size=self.config.chunk_size,
                                                   info=info), n))


# --------------------------------------------------------------------------- sinks


class _VideoSink:
    """mp4 output (and optional side-by-side preview) through ``VideoWriter``."""

    def __init__(self, out, *, width, height, fps, audio_from, audio_codec, audio_duration_s, encode,
                 preview, preview_frames):
        audio = dict(audio_from=audio_from, audio_codec=audio_codec, audio_duration_s=audio_duration_s)
        self.writer = VideoWriter(out, width=width, height=height, fps=fps, config=encode, **audio)
        self.preview = None
        self.preview_frames = preview_frames
        if preview is not None:
            self.preview = VideoWriter(preview, width=2 * width, height=height, fps=fps, config=encode,
                                       **audio)

    def __enter__(self):
        self.writer.__enter__()
        if self.preview is not None:
            try:
                self.preview.__enter__()
            except BaseException as exc:
                self.writer.__exit__(type(exc), exc, exc.__traceback__)
                raise
        return self

    def __exit__(self, exc_type, exc, tb):
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

    def result(self):
        return None


class _MemorySink:
    def __init__(self):
        self.frames: list[np.ndarray] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def write(self, frames: np.ndarray) -> None:
        self.frames.append(frames)

    def result(self) -> np.ndarray:
        return np.concatenate(self.frames)


class _PngSink:
    """A folder of PNG frames (frame_000000.png ...), built in a temporary folder and renamed."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.tmp: Path | None = None
        self.count = 0

    def __enter__(self):
        from reenact.io_utils import locked_temp_dir

        parent = self.folder.parent if str(self.folder.parent) else Path(".")
        if not parent.is_dir():
            raise OutputError(f"output folder {parent} does not exist; create it first")
        if self.folder.exists() and (not self.folder.is_dir() or any(self.folder.iterdir())):
            raise OutputError(f"{self.folder} exists and is not an empty folder; choose a new folder")
        self.tmp, self._lock = locked_temp_dir(parent, self.folder.name)  # locked while we write
        return self

    def __exit__(self, exc_type, exc, tb):
        import shutil

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
        from PIL import Image

        for frame in frames:
            Image.fromarray(frame).save(self.tmp / f"frame_{self.count:06d}.png", compress_level=1)
            self.count += 1

    def result(self):
        return None


def _make_sink(out, frames_dir, **kw):
    if out is None:
        return _MemorySink()
    if frames_dir:
        return _PngSink(out)
    return _VideoSink(out, **kw)


def side_by_side(driver_frame: np.ndarray, output_frame: np.ndarray) -> np.ndarray:
    """(driver | output): the driver frame fitted (aspect kept, black bars) into a panel the size
    of the output frame, then the output frame, (H, 2W, 3) uint8."""
    from PIL import Image

    h, w = output_frame.shape[:2]
    dh, dw = driver_frame.shape[:2]
    s = min(h / dh, w / dw)
    nh, nw = max(1, round(dh * s)), max(1, round(dw * s))
    panel = np.zeros_like(output_frame)
    small = np.asarray(Image.fromarray(driver_frame).resize((nw, nh), Image.BILINEAR))
    y, x = (h - nh) // 2, (w - nw) // 2
    panel[y:y + nh, x:x + nw] = small
    return np.concatenate([panel, output_frame], axis=1)


# --------------------------------------------------------------------------- streaming helpers


class _Timed:
    """Iterator wrapper that adds up the seconds spent producing items."""

    def __init__(self, it: Iterable):
        self.it = iter(it)
        self.seconds = 0.0

    def __iter__(self):
        return self

    def __next__(self):
        t = time.perf_counter()
        try:
            return next(self.it)
        finally:
            self.seconds += time.perf_counter() - t


def _limited(chunks: Iterable[np.ndarray], limit: int | None) -> Iterator[np.ndarray]:
    if limit is None:
        yield from chunks
        return
    seen = 0
    for chunk in chunks:
        if seen >= limit:
            return
        chunk = chunk[: limit - seen]
        seen += len(chunk)
        yield chunk
    # stop here: the generator's finally closes the decoder


def _single_frames(chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    for chunk in chunks:
        yield from chunk


def _ticking(chunks: Iterable[np.ndarray], bar) -> Iterator[np.ndarray]:
    for chunk in chunks:
        check_stop()
        yield chunk
        if bar is not None:
            bar.update(len(chunk))


_END = object()  # end-of-stream marker in _Worker's queue


class _Worker:
    """A consumer thread behind a bounded queue: ``put(x)`` hands x to ``write(prepare(x))``.

    Errors in the thread re-raise in the producer at the next ``put`` or at exit; an error in the
    producer stops the thread without finishing the queue.
    """

    def __init__(self, write: Callable[[np.ndarray], None], depth: int,
                 prepare: Callable[[np.ndarray], np.ndarray] | None = None):
        self.write = write
        self.prepare = prepare or (lambda x: x)
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self.seconds = 0.0
        self.thread = threading.Thread(target=self._run, name="reenact-writer", daemon=True)

    def __enter__(self) -> _Worker:
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                item = self.q.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _END:
                return
            t = time.perf_counter()
            try:
                self.write(self.prepare(item))
            except BaseException as exc:
                self.error = exc
                return
            self.seconds += time.perf_counter() - t

    def put(self, item) -> None:
        while True:
            check_stop()
            if self.error is not None:
                raise self.error
            if not self.thread.is_alive():
                raise OutputError("the writer thread stopped unexpectedly")
            try:
                self.q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            while self.thread.is_alive():
                try:
                    self.q.put(_END, timeout=0.1)
                    break
                except queue.Full:
                    continue
            self.thread.join()
            if self.error is not None:
                raise self.error
        else:
            self.stop.set()
            self.thread.join(timeout=10.0)


def _bar(progress: bool, total: int, desc: str):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", dynamic_ncols=True, leave=False)


def _close(bar) -> None:
    if bar is not None:
        bar.close()
