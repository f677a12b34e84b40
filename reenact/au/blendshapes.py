"""Action Unit intensities of one face, from MediaPipe blendshapes and landmark geometry.

One table (``AU_SOURCES``) says where each AU comes from. A blendshape score b becomes an AU
intensity by a linear ramp ``clip((b - lo) / (hi - lo), 0, 1)``: lo sits near the score of a
resting face and hi near the 90th percentile of faces posed for that AU, read once from posed
FACS photos (TFEID, development use only; see docs/aus.md). Where a blendshape is missing or weak
a landmark measure is used instead (AU25 from the inner-lip gap) or added (AU06).

Weak AUs: MediaPipe's cheekSquint and noseSneer stay near 0 even on strong smiles and sneers, so
AU06 and AU09 are marked unreliable (``WEAK_AUS``); evaluation reports them apart.

Output rows follow ``reenact.au.space.TABLE_AU_NAMES`` (23 values in [0, 1], subject's left/right).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenact.au.space import TABLE_AU_NAMES, sync_bilateral
from reenact.face.tracking import BLENDSHAPE_NAMES, FaceObservation


@dataclass(frozen=True)
class AUSource:
    """Where one AU column comes from: blendshape names averaged, and the ramp (lo, hi)."""

    blendshapes: tuple[str, ...]
    lo: float
    hi: float
    note: str = ""


# MediaPipe names its blendshapes by the subject's side ("eyeBlinkLeft" is the subject's left
# eye), as ARKit does; tests/au/test_extract.py checks this on a real wink.
AU_SOURCES: dict[str, AUSource] = {
    "AU01": AUSource(("browInnerUp",), 0.08, 0.65),
    "AU02": AUSource(("browOuterUpLeft", "browOuterUpRight"), 0.06, 0.35),
    "AU04": AUSource(("browDownLeft", "browDownRight"), 0.08, 0.60),
    "AU05": AUSource(("eyeWideLeft", "eyeWideRight"), 0.01, 0.10),
    "AU06": AUSource(("cheekSquintLeft", "cheekSquintRight"), 0.0, 0.30,
                     "weak: cheekSquint stays ~0; max'ed with eyeSquint x smile (Duchenne proxy)"),
    "AU07": AUSource(("eyeSquintLeft", "eyeSquintRight"), 0.45, 0.80),
    "AU09": AUSource(("noseSneerLeft", "noseSneerRight"), 0.0, 0.30, "weak: noseSneer stays ~0"),
    "AU10": AUSource(("mouthUpperUpLeft", "mouthUpperUpRight"), 0.03, 0.80),
    "AU12_L": AUSource(("mouthSmileLeft",), 0.10, 0.90),
    "AU12_R": AUSource(("mouthSmileRight",), 0.10, 0.90),
    "AU14_L": AUSource(("mouthDimpleLeft",), 0.03, 0.25),
    "AU14_R": AUSource(("mouthDimpleRight",), 0.03, 0.25),
    "AU15": AUSource(("mouthFrownLeft", "mouthFrownRight"), 0.02, 0.30),
    "AU17": AUSource(("mouthShrugLower",), 0.15, 0.75),
    "AU20": AUSource(("mouthStretchLeft", "mouthStretchRight"), 0.03, 0.35),
    "AU23": AUSource(("mouthPressLeft", "mouthPressRight"), 0.08, 0.35),
    "AU25": AUSource((), 0.03, 0.28, "geometry: inner-lip gap / inter-ocular distance"),
    "AU26": AUSource(("jawOpen",), 0.02, 0.30),
    "AU45_L": AUSource(("eyeBlinkLeft",), 0.35, 0.80),
    "AU45_R": AUSource(("eyeBlinkRight",), 0.35, 0.80),
}
WEAK_AUS: tuple[str, ...] = ("AU06", "AU09")
RELIABLE_AUS: tuple[str, ...] = tuple(
    n for n in TABLE_AU_NAMES if n.split("_")[0] not in WEAK_AUS
)

_BS_INDEX = {n: i for i, n in enumerate(BLENDSHAPE_NAMES)}
_COLS = {n: i for i, n in enumerate(TABLE_AU_NAMES)}
# Ramp matrices: AU = clip(W @ blendshapes * gain - offset, 0, 1) for every blendshape-based AU.
_RAMP_NAMES = [n for n, s in AU_SOURCES.items() if s.blendshapes]
_W = np.zeros((len(_RAMP_NAMES), len(BLENDSHAPE_NAMES)), np.float32)
for _r, _n in enumerate(_RAMP_NAMES):
    for _b in AU_SOURCES[_n].blendshapes:
        _W[_r, _BS_INDEX[_b]] = 1.0 / len(AU_SOURCES[_n].blendshapes)
_LO = np.array([AU_SOURCES[n].lo for n in _RAMP_NAMES], np.float32)
_HI = np.array([AU_SOURCES[n].hi for n in _RAMP_NAMES], np.float32)
_RAMP_COLS = [_COLS[n] for n in _RAMP_NAMES]

# Inner-lip midpoints and eye corners in the 478-point mesh.
_UPPER_LIP_INNER, _LOWER_LIP_INNER = 13, 14
_EYE_CORNERS_R, _EYE_CORNERS_L = (33, 133), (362, 263)
# Each eye's lid points between its corners, upper and lower, in the same columns (subject's R, L):
# ``reenact.model.mesh``'s RIGHT/LEFT_EYE_UPPER/LOWER[1:-1] (the AU stage does not import the model).
_LIDS = (((246, 161, 160, 159, 158, 157, 173), (7, 163, 144, 145, 153, 154, 155)),
         ((398, 384, 385, 386, 387, 388, 466), (382, 381, 380, 374, 373, 390, 249)))


def ramp(x: np.ndarray, lo: float | np.ndarray, hi: float | np.ndarray) -> np.ndarray:
    """clip((x - lo) / (hi - lo), 0, 1)."""
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def interocular(landmarks: np.ndarray) -> np.ndarray:
    """Distance between the eye centres, (...,) from landmarks (..., 478, 2|3)."""
    r = landmarks[..., list(_EYE_CORNERS_R), :2].mean(-2)
    left = landmarks[..., list(_EYE_CORNERS_L), :2].mean(-2)
    return np.linalg.norm(r - left, axis=-1)


def lip_gap(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip opening relative to the inter-ocular distance, (...,)."""
    gap = np.linalg.norm(landmarks[..., _UPPER_LIP_INNER, :2] - landmarks[..., _LOWER_LIP_INNER, :2], axis=-1)
    return gap / np.maximum(interocular(landmarks), 1e-6)


def lid_apertures(landmarks: np.ndarray) -> np.ndarray:
    """(N, 2) each eye's opening (subject's right, left): the mean distance between its upper and
    lower lid points over its width, in MediaPipe's 3-D landmarks (N, 478, 3): a turned head
    foreshortens both alike."""
    lm = np.asarray(landmarks, np.float64)
    out = []
    for (upper, lower), corners in zip(_LIDS, (_EYE_CORNERS_R, _EYE_CORNERS_L), strict=True):
        gap = np.linalg.norm(lm[:, list(upper)] - lm[:, list(lower)], axis=-1).mean(-1)
        width = np.linalg.norm(lm[:, corners[0]] - lm[:, corners[1]], axis=-1)
        out.append(gap / np.maximum(width, 1e-6))
    return np.stack(out, 1).astype(np.float32)


def aus_from_measurements(blendshapes: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """AU rows (N, 23) from blendshapes (N, 52) and pixel landmarks (N, 478, 2|3)."""
    bs = np.asarray(blendshapes, np.float32)
    lm = np.asarray(landmarks, np.float32)
    out = np.zeros((bs.shape[0], len(TABLE_AU_NAMES)), np.float32)
    out[:, _RAMP_COLS] = ramp(bs @ _W.T, _LO, _HI)
    src = AU_SOURCES["AU25"]
    out[:, _COLS["AU25"]] = ramp(lip_gap(lm), src.lo, src.hi)
    # AU06 proxy: lid tightening that comes with a smile (Duchenne); weak either way.
    duchenne = out[:, _COLS["AU07"]] * np.maximum(out[:, _COLS["AU12_L"]], out[:, _COLS["AU12_R"]])
    out[:, _COLS["AU06"]] = np.maximum(out[:, _COLS["AU06"]], duchenne)
    return sync_bilateral(out)


def aus_from_face(face: FaceObservation) -> np.ndarray:
    """AU row (23,) of one tracked face."""
    return aus_from_measurements(face.blendshapes[None], face.landmarks[None])[0]
