"""How far the rig may close the eyes for an AU that is not a blink, measured on real faces.

The closed-loop calibration (``reenact.training.rig_calibration``) scales each basis until the AU
extractor reads the AU back. For the lid tightener (AU07) that reading (MediaPipe's eyeSquint)
hardly moves under a warp, so its gain ran to the cap (3), and a unit AU07 then closed the mean
face's eyes by 104 % of their gap: anger squeezed the eyes shut. Real faces do not: among
same-person pairs whose AU07 reading rose by more than 0.5 without a blink, the eye opening
closed by a median 45 % and 64-66 % at the 90th percentile (TFEID posed photos and the talking
clips). So the eye closure of every raising basis but the blink's is bounded by what real faces
show when that AU rises (``real_closure``), and its calibrated gain is capped there
(``closure_gain_caps``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reenact.au.space import COND_NAMES, table_to_cond
from reenact.model.rig import EYE_SIDES, AURig
from reenact.training.landmarks import LandmarkSet
from reenact.training.rig import _is_held

BLINKS = ("AU45_L", "AU45_R")  # their lid gap is set by ``set_lid_openness``, not bounded here
# the middle five lid pairs of each eye (the corners hardly open)
_UPPER = np.array([list(u[2:-2]) for u, _ in EYE_SIDES])  # (2, 5)
_LOWER = np.array([list(lo[2:-2]) for _, lo in EYE_SIDES])


def eye_opening(points: np.ndarray) -> np.ndarray:
    """(...,) mean distance between the middle upper and lower lid points of both eyes;
    points (..., 478, >= 2)."""
    xy = np.asarray(points, np.float64)[..., :2]
    return np.linalg.norm(xy[..., _UPPER, :] - xy[..., _LOWER, :], axis=-1).mean((-1, -2))


def basis_closure(rig: AURig, gains: np.ndarray | None = None) -> np.ndarray:
    """(20,) fraction of the mean face's eye opening that a unit request of each cond value closes
    (gain x basis; negative: it opens the eyes)."""
    g = np.ones(len(COND_NAMES)) if gains is None else np.asarray(gains, np.float64)
    rest = eye_opening(rig.mean)
    moved = rig.mean[None].astype(np.float64) + g[:, None, None] * rig.bases
    return 1.0 - eye_opening(moved) / rest


def _pair_rows(data: LandmarkSet, neutral: np.ndarray | None, held: set[int], rest_fraction: float):
    """(closure (M,), cond change (M, 20)) of each row against its group's rest face: the
    group's neutral rows where ``neutral`` marks them, else its calmest ``rest_fraction``."""
    cond = table_to_cond(data.aus).astype(np.float64)
    iod = np.linalg.norm(data.landmarks[:, 33, :2] - data.landmarks[:, 263, :2], axis=-1)
    opening = eye_opening(data.landmarks) / np.maximum(iod, 1e-6)
    closure, dcond = [], []
    for g in np.unique(data.group[data.group >= 0]):
        if int(g) in held:
            continue
        rows = np.flatnonzero(data.group == g)
        if neutral is not None:
            rest = rows[neutral[rows]]
        else:
            k = max(1, int(np.ceil(rest_fraction * len(rows))))
            rest = rows[np.argsort(cond[rows].sum(1))[:k]]
        if not len(rest):
            continue
        closure.append(1.0 - opening[rows] / opening[rest].mean())
        dcond.append(cond[rows] - cond[rest].mean(0))
    if not closure:
        return np.zeros(0), np.zeros((0, len(COND_NAMES)))
    return np.concatenate(closure), np.concatenate(dcond)


def real_closure(sets: Sequence[tuple[LandmarkSet, np.ndarray | None]], *, held_out_groups=(),
                 rise: float = 0.5, quantile: float = 0.9, min_pairs: int = 20,
                 rest_fraction: float = 0.1) -> np.ndarray:
    """(20,) eye closure of real faces per cond value: the ``quantile`` of the closure over the
    same-person pairs whose reading of that value rose by more than ``rise`` while neither eye's
    AU45 rose by more than 0.3; nan for the blinks and where fewer than ``min_pairs`` pairs rose.

    ``sets``: (data, neutral mask or None) per data set; groups named with a prefix in
    ``held_out_groups`` are left out.
    """
    closure, dcond = [], []
    for data, neutral in sets:
        held = {i for i, n in enumerate(data.group_names) if _is_held(n, held_out_groups)}
        c, d = _pair_rows(data, neutral, held, rest_fraction)
        closure.append(c)
        dcond.append(d)
    closure, dcond = np.concatenate(closure), np.concatenate(dcond)
    blink = dcond[:, [COND_NAMES.index(b) for b in BLINKS]].max(1) if len(dcond) else np.zeros(0)
    out = np.full(len(COND_NAMES), np.nan)
    for k, name in enumerate(COND_NAMES):
        sel = (dcond[:, k] > rise) & (blink <= 0.3)
        if name not in BLINKS and sel.sum() >= min_pairs:
            out[k] = np.quantile(closure[sel], quantile)
    return out


def closure_gain_caps(closure_per_unit: np.ndarray, real: np.ndarray, *, closing: float = 0.05) -> np.ndarray:
    """(20,) the largest gain at which each basis closes the eyes no more than real faces do
    (``real``), for the bases that close them (more than ``closing`` of the opening at gain 1);
    never under 1 (the regression's own size); inf where nothing bounds it."""
    caps = np.full(len(closure_per_unit), np.inf)
    bounded = np.isfinite(real) & (closure_per_unit > closing)
    caps[bounded] = np.maximum(real[bounded] / closure_per_unit[bounded], 1.0)
    return caps
