"""AU-target evaluation: each source face x each requested expression, rendered and measured.

Per output: the AUs re-read by MediaPipe, dlib's identity distance and 68-point geometry (its
change from the source, and whether each requested AU moved it the right way), sharpness /
colour / speckle vs the source, the paste seam and the model's attention. The own-expression
target (the source's own AUs) also gives the PSNR of the face vs the source: a model that
reconstructs the face it was given scores infinity, as doing nothing does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from reenact.errors import InputError
from reenact.eval.geometry import FaceGeometry, geometry_checks, square_window
from reenact.eval.image_metrics import FaceQuality, psnr
from reenact.eval.measure import SourceMeter, measure_aus
from reenact.eval.metrics import AttentionStats, SeamStats, attention_stats, seam_stats
from reenact.eval.render import RecordingEditor, pipeline_for
from reenact.eval.sources import EvalSource, EvalTarget
from reenact.io.sinks import MemorySink
from reenact.model.editor import PreparedFace

ProgressFn = Callable[[int], None]


@dataclass(frozen=True)
class EvalConfig:
    """Options of the harness (targets and videos)."""

    identity: bool = True  # dlib identity distances (the eval extra; skipped without it)
    geometry: bool = True  # dlib 68-point geometry (the eval extra; skipped without it)
    max_video_frames: int = 240  # frames of each driving clip used, from its start (10 s at 24 fps)
    transfer: str | None = None  # video AU transfer: None = relative, absolute for self-reenactment
    cell_size: int = 128  # contact sheet cell side in pixels
    crop_size: int = 192  # side of the aligned face crops compared in self-reenactment
    n_cells: int = 6  # sample frames per video in the contact sheet (and identity samples)


@dataclass(frozen=True)
class SourceResult:
    """Everything measured for one source face over the K targets.

    Attributes:
        source: the source's name.
        greyscale: whether the source face is greyscale.
        source_aus: (23,) AUs measured on the unchanged source window (what doing nothing shows).
        requested: (K, 23) requested AUs; measured: (K, 23) re-measured (NaN rows: no face).
        identity: (K,) identity distances to the source (NaN: unavailable or no face).
        quality: per target, sharpness / colour / speckle vs the source.
        face_psnr: (K,) PSNR (dB) of the output face vs the source face (inf: identical).
        geometry: per target, the dlib geometry change from the source (None: no face or off).
        checks: per target, the (check, passed) pairs its request asks for.
        dlib_fallbacks: outputs (and the source) where dlib's detector found nothing and the
            hint box was used.
        seams: per target (None where the model pastes nothing).
        attention: per target (None for models without attention).
        cells: (K + 1, c, c, 3) uint8 contact sheet cells: the source, then each output.
        render_s: wall-clock seconds of the pipeline's rendering (the rest is measuring).
    """

    source: str
    greyscale: bool
    source_aus: np.ndarray
    requested: np.ndarray
    measured: np.ndarray
    identity: np.ndarray
    quality: tuple[FaceQuality, ...]
    face_psnr: np.ndarray
    geometry: tuple[FaceGeometry | None, ...]
    checks: tuple[tuple[tuple[str, bool], ...], ...]
    dlib_fallbacks: int
    seams: tuple[SeamStats | None, ...]
    attention: tuple[AttentionStats | None, ...]
    cells: np.ndarray
    render_s: float = 0.0


@dataclass(frozen=True)
class TargetEvaluation:
    """Result of ``evaluate_targets`` for one model."""

    model: str
    targets: tuple[EvalTarget, ...]
    sources: tuple[SourceResult, ...]
    config: EvalConfig
    meta: dict = field(default_factory=dict)


class MeterFactory:
    """``SourceMeter``s sharing one IMAGE-mode tracker, identity meter and dlib model, kept per
    source name (every model sees the same source face)."""

    def __init__(self, tracker, identity, landmarks):
        self.tracker, self.identity, self.landmarks = tracker, identity, landmarks
        self._meters: dict[str, SourceMeter] = {}

    def meter(self, name: str, source_face) -> SourceMeter:
        if name not in self._meters:
            self._meters[name] = SourceMeter(source_face, tracker=self.tracker, identity=self.identity,
                                             landmarks=self.landmarks)
        return self._meters[name]


def paste_seam(frame: np.ndarray, source: np.ndarray, prepared: PreparedFace, band: int = 3,
               ) -> SeamStats | None:
    """``seam_stats`` at the border of a prepared face's paste mask, on its box (+ a band);
    None when the mask has no border (a model that pastes nothing)."""
    x0, y0, x1, y1 = prepared.box
    h, w = source.shape[:2]
    bx0, by0 = max(x0 - band - 1, 0), max(y0 - band - 1, 0)
    bx1, by1 = min(x1 + band + 1, w), min(y1 + band + 1, h)
    mask = np.zeros((by1 - by0, bx1 - bx0), np.float32)
    mask[y0 - by0:y1 - by0, x0 - bx0:x1 - bx0] = prepared.mask
    inside = mask > 0.5
    if not inside.any() or inside.all():
        return None
    return seam_stats(frame[by0:by1, bx0:bx1], source[by0:by1, bx0:bx1], mask, band=band)


def face_cell(image: np.ndarray, box, size: int, *, zoom: float = 1.7) -> np.ndarray:
    """A (size, size, 3) uint8 contact-sheet cell: the square around ``box`` (zoom x its side)."""
    part = square_window(image, box, zoom, pad="constant")[0]
    return np.asarray(Image.fromarray(part).resize((size, size), Image.Resampling.LANCZOS))


def _requested(targets: Sequence[EvalTarget], own: np.ndarray) -> np.ndarray:
    return np.stack([own if t.aus is None else t.aus for t in targets]).astype(np.float32)


def evaluate_source(recorder: RecordingEditor, source: EvalSource, targets: Sequence[EvalTarget], *,
                    pipeline_config, meters: MeterFactory, config: EvalConfig = EvalConfig(),
                    progress: ProgressFn | None = None) -> SourceResult:
    """Render one source with every target through the pipeline and measure the outputs."""
    pipe = pipeline_for(recorder, pipeline_config, face_index=source.face_index)
    src = pipe.prepare_source(source.image)
    meter = meters.meter(source.name, src)
    requested = _requested(targets, src.aus)
    recorder.reset()
    t0 = time.perf_counter()
    frames = pipe.render(src, requested, MemorySink())
    render_s = time.perf_counter() - t0
    attention = recorder.attention_values()
    windows = [meter.window(f) for f in frames]
    measured, faces = measure_aus(windows, tracker=meters.tracker)
    readings = [meter.read_geometry(f) for f in frames]
    base = meter.source_reading.geometry
    changes = tuple(r.geometry.minus(base) if r.geometry is not None and base is not None else None
                    for r in readings)
    checks = tuple(tuple(geometry_checks(req, src.aus, ch)) if ch is not None else ()
                   for req, ch in zip(requested, changes, strict=True))
    seams = tuple(paste_seam(f, src.image, recorder.prepared) for f in frames)
    if all(s is None for s in seams):  # no paste border: the seam at the face oval instead
        seams = tuple(seam_stats(w, meter.source_window, meter.mask.astype(np.float32)) for w in windows)
    box = src.face.box
    cells = [face_cell(im, box, config.cell_size) for im in [src.image, *frames]]
    if progress is not None:
        progress(len(frames))
    fallbacks = sum(r.fallback for r in readings) + meter.source_reading.fallback
    return SourceResult(
        source=source.name, greyscale=meter.quality(meter.source_window).greyscale_source,
        source_aus=meter.source_aus, requested=requested, measured=measured,
        identity=np.array([meter.identity_distance(w, f) for w, f in zip(windows, faces, strict=True)]),
        quality=tuple(meter.quality(w) for w in windows),
        face_psnr=np.array([psnr(w, meter.source_window, meter.mask) for w in windows]),
        geometry=changes, checks=checks, dlib_fallbacks=int(fallbacks), seams=seams,
        attention=(tuple(attention_stats(a) for a in attention) if attention is not None
                   else (None,) * len(frames)),
        cells=np.stack(cells), render_s=render_s)


def evaluate_targets(recorder: RecordingEditor, sources: Sequence[EvalSource], targets: Sequence[EvalTarget],
                     *, pipeline_config, meters: MeterFactory, model: str | None = None,
                     config: EvalConfig = EvalConfig(), progress: ProgressFn | None = None,
                     meta: dict | None = None) -> TargetEvaluation:
    """Evaluate one model (wrapped in ``recorder``) on every source x target; ``model`` labels
    its rows (default: the model's name)."""
    if not sources or not targets:
        raise InputError("target evaluation needs at least one source and one target")
    if meters.tracker.video:
        raise InputError("evaluate_targets needs a FaceTracker in IMAGE mode")
    results = tuple(evaluate_source(recorder, s, targets, pipeline_config=pipeline_config, meters=meters,
                                    config=config, progress=progress) for s in sources)
    return TargetEvaluation(model=model or recorder.name, targets=tuple(targets), sources=results,
                            config=config, meta=dict(meta or {}))
