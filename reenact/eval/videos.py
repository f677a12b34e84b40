"""Video evaluation: a source photo driven by a clip, and self-reenactment.

- Driving (``evaluate_video`` with a photo): the pipeline's own run (``pipe(photo, clip)``:
  tracking, smoothing, relative AU transfer, rendering). Measured: AU fidelity over time (the
  transferred AUs vs MediaPipe's reading of the output), temporal stability, identity on sample
  frames, sharpness / colour / speckle of every frame vs the source, seams, attention.
- Self-reenactment (a ``ClipReference``): frame 0 of a talking clip is the source and the same
  clip drives it (absolute AU transfer: it is the same person), so every output frame has a true
  answer, the real frame. Added: L1, PSNR and SSIM of the face crop (each frame aligned by its own
  dlib points, so head motion does not dominate), of a wider aligned head crop and of the whole
  frame (not aligned), and the dlib geometry error, over frames 1..T-1 (frame 0 is the source).
  Doing nothing (frame 0 copied) is the ``none`` model's row.

"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from reenact.eval.geometry import FaceGeometry, FaceLandmarks68, alignment_from_points, face_geometry
from reenact.eval.image_metrics import FaceQuality, l1_psnr_ssim
from reenact.eval.measure import GeometryReading, SourceMeter
from reenact.eval.metrics import (
    AttentionStats,
    AUFidelity,
    SeamStats,
    TemporalStability,
    au_changes,
    stability_from_changes,
)
from reenact.eval.targets import EvalConfig
from reenact.face.align import invert_affine

ProgressFn = Callable[[int], None]
_GEOMETRY_FIELDS = tuple(f.name for f in fields(FaceGeometry))
#: Field of view of the head crops of self-reenactment, in face crops.
HEAD_ZOOM = 2.5


@dataclass(frozen=True)
class SelfReenactStats:
    """Output frames vs the clip's real frames, means over frames 1..T-1.

    Attributes:
        face_l1 / face_psnr / face_ssim: on the aligned face crops ([0, 1] units, dB, [-1, 1]),
            over the frames where dlib found both faces.
        head_l1 / head_psnr / head_ssim: the same on wider aligned crops (``HEAD_ZOOM`` x the
            face crop's field of view: hair, ears, neck, the paste border and what is around).
        whole_l1 / whole_psnr / whole_ssim: on the whole frames, not aligned: where the real head
            moves, its motion dominates them for every model that keeps the photo's head still.
        geometry_error: per ``FaceGeometry`` field, mean |output - real| (IOD units).
        n_frames: frames compared; n_face_frames: of those, with both faces found.
        dlib_fallbacks: output frames where dlib's detector found nothing (hint box used).
    """

    face_l1: float
    face_psnr: float
    face_ssim: float
    head_l1: float
    head_psnr: float
    head_ssim: float
    whole_l1: float
    whole_psnr: float
    whole_ssim: float
    geometry_error: dict[str, float]
    n_frames: int
    n_face_frames: int
    dlib_fallbacks: int


@dataclass(frozen=True, eq=False)
class AlignedCrops:
    """Crops of T frames aligned by each frame's own dlib points.

    Attributes:
        crops: (T, S, S, 3) uint8 (zeros where no face was read).
        inside: (T, S, S) bool: crop pixels that come from inside the frame.
        has_face: (T,) bool: dlib read a face in the frame.
    """

    crops: np.ndarray
    inside: np.ndarray
    has_face: np.ndarray


@dataclass(frozen=True, eq=False)
class ClipReference:
    """The real frames of a self-reenactment clip, read and measured once for every model.

    Attributes:
        path: the clip. frames: (T, H, W, 3) uint8 (the first ``max_frames``).
        readings: dlib's reading of each frame (tracked from frame 0).
        faces: face crops aligned by each frame's own points; heads: the same with ``HEAD_ZOOM``.
    """

    path: Path
    frames: np.ndarray
    readings: tuple[GeometryReading, ...]
    faces: AlignedCrops
    heads: AlignedCrops


@dataclass(frozen=True)
class VideoResult:
    """One source driven by one clip (``self_reenact`` set for self-reenactment).

    Attributes:
        fidelity: requested (the transferred AUs) vs re-measured on the output, over time.
        baseline: the same for the unchanged source (a still photo: no correlation).
        stability: frame-to-frame change outside the paste / inside the face, flicker.
        identity: identity distances of the sample frames to the source.
        quality: mean over frames of sharpness / colour / speckle vs the source.
        seam: mean seam over sample frames (None where the model pastes nothing).
        attention: statistics over all frames (None for models without attention).
        cells: (n, c, c, 3) uint8 output face cells at ``sample_frames``; driver_cells: the
            driver's (or real) frames at the same times.
        render_s: wall-clock seconds of the pipeline's run (tracking + rendering).
    """

    source: str
    driver: str
    n_frames: int
    fidelity: AUFidelity
    baseline: AUFidelity
    stability: TemporalStability
    identity: np.ndarray
    quality: FaceQuality
    seam: SeamStats | None
    attention: AttentionStats | None
    self_reenact: SelfReenactStats | None
    cells: np.ndarray
    driver_cells: np.ndarray
    sample_frames: tuple[int, ...] = ()
    render_s: float = 0.0


@dataclass(frozen=True)
class VideoEvaluation:
    """Result of ``evaluate_videos`` for one model."""

    model: str
    results: tuple[VideoResult, ...]
    config: EvalConfig
    meta: dict = field(default_factory=dict)


def sample_indices(n: int, k: int) -> np.ndarray:
    """Up to k frame indices spread evenly over 0..n-1."""
    return np.unique(np.linspace(0, n - 1, min(k, n)).round().astype(int))


def track_readings(frames: np.ndarray, read: Callable, first_hint) -> list[GeometryReading]:
    """dlib readings of consecutive frames, each searched near the previous frame's face."""
    readings, hint = [], first_hint
    for frame in frames:
        reading = read(frame, hint)
        readings.append(reading)
        if reading.face is not None:
            hint = reading.face.box
    return readings


def aligned_crops(frames: np.ndarray, readings, size: int, *, zoom: float = 1.0) -> AlignedCrops:
    """Crops aligned by ``alignment_from_points`` with ``zoom`` (bilinear on uint8 with PIL: fast
    on long clips), and which of their pixels lie inside the frame."""
    has = np.array([r.face is not None for r in readings], bool)
    crops = np.zeros((len(frames), size, size, 3), np.uint8)
    inside = np.zeros((len(frames), size, size), bool)
    full = Image.new("L", (frames.shape[2], frames.shape[1]), 255)
    for i in np.flatnonzero(has):
        to_frame = invert_affine(alignment_from_points(readings[i].face.points, size, zoom=zoom))
        args = ((size, size), Image.Transform.AFFINE, tuple(to_frame.ravel()))
        crops[i] = np.asarray(Image.fromarray(frames[i]).transform(*args, resample=Image.Resampling.BILINEAR))
        inside[i] = np.asarray(full.transform(*args, resample=Image.Resampling.NEAREST)) > 0
    return AlignedCrops(crops, inside, has)


def measure_clip(path: str | Path, frames: np.ndarray, landmarks: FaceLandmarks68 | None, crop_size: int,
                 ) -> ClipReference:
    """Measure a clip's real frames with dlib (``landmarks``; None: frame metrics only), once per
    clip. Touches nothing but its arguments: the harness runs it beside the first model's render."""
    if landmarks is None:
        readings = [GeometryReading(None, None)] * len(frames)
    else:
        def read(frame, hint) -> GeometryReading:
            face = landmarks.find(frame, hint)
            return GeometryReading(face, face_geometry(face.points) if face is not None else None)

        readings = track_readings(frames, read, None)
    return ClipReference(Path(path), frames, tuple(readings), aligned_crops(frames, readings, crop_size),
                         aligned_crops(frames, readings, crop_size, zoom=HEAD_ZOOM))



def _mean(values) -> float:
    values = [v for v in values if np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def _columns(rows: list[tuple], n: int) -> list[float]:
    return [_mean(col) for col in zip(*rows, strict=True)] if rows else [float("nan")] * n


def whole_frame_scores(outputs: np.ndarray, reference: ClipReference) -> list[tuple[float, float, float]]:
    """(L1, PSNR, SSIM) of each whole output frame vs the real frame, frames 1..T-1 (no dlib: it
    can run beside the aligned comparisons)."""
    n = min(len(outputs), len(reference.frames))
    return [l1_psnr_ssim(outputs[t], reference.frames[t]) for t in range(1, n)]


#: (face (L1, PSNR, SSIM), head (L1, PSNR, SSIM), |geometry error| per field) of one frame
AlignedScore = tuple[tuple[float, float, float], tuple[float, float, float], list[float]]


def aligned_scores(outputs: np.ndarray, readings: list[GeometryReading], reference: ClipReference,
                   crop_size: int, start: int = 0, *, fixed: GeometryReading | None = None
                   ) -> list[AlignedScore]:
    """Aligned face and head comparisons and geometry errors of consecutive output frames
    ``start``, ``start + 1``, ... with the real frames, where both faces were read (frame 0, the
    source, and frames past the clip's are left out).

    ``fixed``: crop every output frame where this reading puts the face (the source photo's, for
    a pipeline that keeps the photo's head pose) instead of where dlib reads each output frame:
    dlib's shape model moves its eye points with the mouth, so its own reading shifts the crop
    by a fraction of a pixel whenever the mouth changes, and that alone moved the face PSNR by up
    to 0.14 dB between renders whose frames differed in 0.03 % of their pixels (results.md)."""
    by = readings if fixed is None else [fixed] * len(outputs)
    faces = aligned_crops(outputs, by, crop_size)
    heads = aligned_crops(outputs, by, crop_size, zoom=HEAD_ZOOM)

    def compare(ours: AlignedCrops, real: AlignedCrops, i: int, t: int) -> tuple[float, float, float]:
        both = ours.inside[i] & real.inside[t]  # pixels from inside both frames
        return l1_psnr_ssim(ours.crops[i], real.crops[t], both)

    rows = []
    for i in range(len(outputs)):
        t = start + i
        if 1 <= t < len(reference.frames) and readings[i].face is not None and reference.faces.has_face[t]:
            diff = readings[i].geometry.minus(reference.readings[t].geometry)
            rows.append((compare(faces, reference.faces, i, t), compare(heads, reference.heads, i, t),
                         [abs(getattr(diff, k)) for k in _GEOMETRY_FIELDS]))
    return rows


def self_reenact_stats(outputs: np.ndarray, readings: list[GeometryReading], reference: ClipReference,
                       crop_size: int, whole: list[tuple[float, float, float]] | None = None,
                       aligned: list[AlignedScore] | None = None) -> SelfReenactStats:
    """Compare output frames (T, H, W, 3) and their dlib readings with the real frames 1..T-1
    (``whole`` / ``aligned``: ``whole_frame_scores`` / ``aligned_scores`` when already computed)."""
    n = min(len(outputs), len(reference.frames))
    whole = whole_frame_scores(outputs[:n], reference) if whole is None else whole
    if aligned is None:
        aligned = aligned_scores(outputs[:n], readings[:n], reference, crop_size)
    face, head = [r[0] for r in aligned], [r[1] for r in aligned]
    geo = np.array([r[2] for r in aligned], np.float64).reshape(-1, len(_GEOMETRY_FIELDS))
    face_l1, face_psnr, face_ssim = _columns(face, 3)
    head_l1, head_psnr, head_ssim = _columns(head, 3)
    whole_l1, whole_psnr, whole_ssim = _columns(whole, 3)
    return SelfReenactStats(
        face_l1=face_l1, face_psnr=face_psnr, face_ssim=face_ssim, head_l1=head_l1, head_psnr=head_psnr,
        head_ssim=head_ssim, whole_l1=whole_l1, whole_psnr=whole_psnr, whole_ssim=whole_ssim,
        geometry_error={k: float(geo[:, j].mean()) if len(geo) else float("nan")
                        for j, k in enumerate(_GEOMETRY_FIELDS)},
        n_frames=max(n - 1, 0), n_face_frames=len(face),
        dlib_fallbacks=int(sum(r.fallback for r in readings[:n])))


def mean_quality(items: list[FaceQuality]) -> FaceQuality:
    return FaceQuality(**{f.name: (float(np.mean([getattr(q, f.name) for q in items]))
                                   if f.name != "greyscale_source" else items[0].greyscale_source)
                          for f in fields(FaceQuality)})


def mean_seam(items: list[SeamStats | None]) -> SeamStats | None:
    items = [s for s in items if s is not None]
    if not items:
        return None
    return SeamStats(**{f.name: type(getattr(items[0], f.name))(np.mean([getattr(s, f.name) for s in items]))
                        for f in fields(SeamStats)})


def weighted_changes(frames, weights: np.ndarray) -> np.ndarray:
    """(T - 1,) sum(w * |frame[t+1] - frame[t]|) / (3 sum(w)) of (T, H, W, 3) uint8 frames, [0, 1]
    units, NaN where the weights are all 0 (``reenact.eval.metrics.frame_changes`` in uint8 arithmetic:
    fast on long clips)."""
    weights = np.asarray(weights, np.float32)
    total = 3.0 * 255.0 * float(weights.sum())
    out = np.full(max(len(frames) - 1, 0), np.nan)
    if total <= 0:
        return out

    weights3 = np.repeat(weights[..., None], 3, axis=-1).ravel()  # every channel of a pixel
    for t in range(1, len(frames)):
        diff = cv2.absdiff(frames[t - 1], frames[t]).ravel().astype(np.float32)
        out[t - 1] = float(diff @ weights3) / total
    return out


def video_stability(frames: np.ndarray, windows: list[np.ndarray], meter: SourceMeter, outside: np.ndarray,
               targets: np.ndarray) -> TemporalStability:
    inside = weighted_changes(windows, meter.mask)  # the face
    return stability_from_changes(inside, weighted_changes(frames, outside), au_changes(targets))
