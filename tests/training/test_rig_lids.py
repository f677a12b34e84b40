"""The eye-closure bound of the rig calibration: real faces' closure read back, caps, the shipped rig."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.au.space import COND_NAMES, cond_to_table
from reenact.model.rig import AURig, load_rig
from reenact.training.landmarks import LandmarkSet
from reenact.training.rig_lids import _LOWER, _UPPER, basis_closure, closure_gain_caps, real_closure

AU07 = COND_NAMES.index("AU07")
BLINK = COND_NAMES.index("AU45_L")


@pytest.fixture(scope="module")
def rig():
    from reenact.weights import fetch

    return load_rig(fetch("rig", quiet=True))


def closed(face: np.ndarray, fraction: float) -> np.ndarray:
    """The face with its middle upper lid points moved ``fraction`` of the way to the lower lid."""
    out = face.copy()
    out[_UPPER] += fraction * (face[_LOWER] - face[_UPPER])
    return out


def faces(rig, closures: list[tuple[int, float, float]], *, names=None) -> LandmarkSet:
    """One group per entry (cond index that rises, by how much, the closure it brings): a rest
    row and the expressive row, in image pixels."""
    lms, aus, group = [], [], []
    for g, (k, rise, fraction) in enumerate(closures):
        rest = 8.0 * rig.mean.astype(np.float64) + [256, 256, 0]
        for face, value in ((rest, 0.0), (closed(rest, fraction), rise)):
            cond = np.zeros((1, len(COND_NAMES)), np.float32)
            cond[0, k] = value
            lms.append(face)
            aus.append(cond_to_table(cond)[0])
            group.append(g)
    n = len(lms)
    return LandmarkSet(landmarks=np.asarray(lms, np.float32), aus=np.asarray(aus, np.float32),
                       pose=np.zeros((n, 3), np.float32), group=np.asarray(group, np.int32),
                       frame=np.zeros(n, np.int32), files=tuple(f"f{i}.jpg" for i in range(n)),
                       group_names=tuple(names or (f"g{g}" for g in range(len(closures)))))


def test_real_closure_is_the_quantile_of_the_closures_of_faces_whose_au_rose(rig):
    rng = np.random.default_rng(0)
    fractions = rng.uniform(0.1, 0.7, 40)
    groups = [(AU07, 0.8, f) for f in fractions]
    groups += [(AU07, 0.3, 0.95)] * 10  # rose too little: not counted
    groups += [(BLINK, 1.0, 1.0)] * 30  # blinks are not bounded
    names = [f"g{i}" for i in range(len(groups))] + ["held"]
    groups += [(AU07, 0.9, 0.99)] * 1  # a held-out group is left out
    data = faces(rig, groups, names=names)
    real = real_closure([(data, None)], held_out_groups=("held",), min_pairs=20)
    assert real[AU07] == pytest.approx(np.quantile(fractions, 0.9), abs=1e-3)
    assert np.isnan(real[BLINK]) and np.isnan(real[COND_NAMES.index("AU04")])  # blink; too few pairs
    # rows marked neutral are the rest face of a posed set, whatever their reading
    neutral = np.arange(len(data)) % 2 == 0
    posed = real_closure([(data, neutral)], held_out_groups=("held",))
    assert posed[AU07] == pytest.approx(real[AU07], abs=1e-6)


def test_basis_closure_reads_a_known_lid_motion(rig):
    bases = np.zeros_like(rig.bases)
    mean = rig.mean.astype(np.float64)
    bases[AU07] = closed(mean, 0.5) - mean  # closes half the opening per unit
    bases[COND_NAMES.index("AU05")] = -(closed(mean, 0.25) - mean)  # opens it by a quarter
    toy = AURig(bases=bases.astype(np.float32), mean=rig.mean, rigid_weights=rig.rigid_weights, metadata={})
    c = basis_closure(toy)
    assert c[AU07] == pytest.approx(0.5, abs=1e-4)
    assert c[COND_NAMES.index("AU05")] == pytest.approx(-0.25, abs=1e-4)
    gains = np.ones(len(COND_NAMES))
    gains[AU07] = 1.6
    assert basis_closure(toy, gains)[AU07] == pytest.approx(0.8, abs=1e-4)
    assert np.abs(np.delete(c, [AU07, COND_NAMES.index("AU05")])).max() < 1e-9


def test_gain_caps_bound_only_the_bases_that_close_the_eyes():
    closure = np.array([0.34, 0.09, -0.3, 0.2, 0.0, 0.5])
    real = np.array([0.6, 0.3, 0.1, np.nan, 0.3, 0.2])
    caps = closure_gain_caps(closure, real)
    assert caps[0] == pytest.approx(0.6 / 0.34) and caps[1] == pytest.approx(0.3 / 0.09)
    assert np.isinf(caps[2]) and np.isinf(caps[3]) and np.isinf(caps[4])  # opens; unmeasured; still
    assert caps[5] == 1.0  # never below the regression's own size


def test_the_registered_rig_closes_no_eye_further_than_real_faces_do(rig):
    """No request but a blink closes the mean face's eyes further than the real faces whose AU rose
    (the caps the fit recorded); the old rig's AU07 closed 104 % of the opening."""
    caps = np.array([float(c) for c in rig.metadata["eye_closure_caps"].split(",")])
    gains = np.array([float(g) for g in rig.metadata["gains"].split(",")])
    closure = basis_closure(rig)  # the shipped bases carry their gains
    unblinking = [k for k, n in enumerate(COND_NAMES) if not n.startswith("AU45")]
    assert closure[unblinking].max() < 0.65, dict(zip(COND_NAMES, closure.round(2), strict=True))
    bounded = np.isfinite(caps)
    assert bounded[AU07] and np.all(gains[bounded] <= caps[bounded] + 1e-3)
