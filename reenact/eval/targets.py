"""AU-target evaluation: each source face x each requested expression, rendered and measured.

Per output: the AUs re-read by MediaPipe, dlib's identity distance and 68-point geometry (its
change from the source, and whether each requested AU moved it the right way), sharpness /
colour / speckle vs the source, the paste seam and the model's attention. The own-expression
target (the source's own AUs) also gives the PSNR of the face vs the source: a model that
reconstructs the face it was given scores infinity, as doing nothing does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from reenact.eval.geometry import FaceGeometry, square_window
from reenact.eval.image_metrics import FaceQuality
from reenact.eval.measure import SourceMeter
from reenact.eval.metrics import AttentionStats, SeamStats, seam_stats
from reenact.eval.sources import EvalTarget
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
    # self-reenactment: crop each output frame where the source photo's face is ("source": the
    # pipeline keeps the photo's head pose) or where dlib reads that frame's face ("own")
    output_crops: str = "source"


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
