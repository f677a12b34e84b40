"""Known-answer test of the rig fit: faces synthesised from a known rig are fitted back."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.au.space import COND_NAMES, cond_to_table
from reenact.model.rig import load_rig
from reenact.training.landmarks import LandmarkSet
from reenact.training.rig import au_regions, fit_rig


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return ry @ rx @ rz


def synth(rig, n_groups: int, per_group: int, rng, *, group_offset: int = 0, identity: float = 0.05,
          paired: bool = True) -> LandmarkSet:
    lms, aus, pose, group = [], [], [], []
    for g in range(n_groups):
        face = rig.mean + rng.normal(0, identity, rig.mean.shape)  # this person's neutral shape
        for i in range(per_group):
            cond = np.zeros(len(COND_NAMES))
            if i:  # frame 0 rests
                active = rng.choice(len(COND_NAMES), 3, replace=False)
                cond[active] = rng.uniform(0.2, 1.0, 3)
            angles = rng.normal(0, 5, 3)
            shape = face + np.einsum("k,kvc->vc", cond, rig.lower_bases) + rng.normal(0, 0.01, face.shape)
            lms.append(8.0 * shape @ rotation(*angles).T + [256, 256, 0])
            aus.append(cond_to_table(cond[None].astype(np.float32))[0])
            pose.append(angles)
            group.append(g + group_offset if paired else -1)
    n = len(lms)
    return LandmarkSet(landmarks=np.asarray(lms, np.float32), aus=np.asarray(aus, np.float32),
                       pose=np.asarray(pose, np.float32), group=np.asarray(group, np.int32),
                       frame=np.zeros(n, np.int32), group_names=tuple(f"g{g}" for g in range(n_groups))
                       if paired else (), files=tuple(f"{g:02d}xxa.jpg" for g in group))


@pytest.fixture(scope="module")
def rig():
    from reenact.weights import fetch

    return load_rig(fetch("rig", quiet=True))


def test_fit_recovers_the_bases_of_a_known_rig(rig):
    rng = np.random.default_rng(0)
    clips = synth(rig, 6, 80, rng)
    posed = synth(rig, 2, 8, rng)
    photos = synth(rig, 30, 1, rng, paired=False)
    neutral = np.zeros(len(posed), bool)
    neutral[::8] = True
    fitted, report = fit_rig(clips, posed, photos, posed_neutral=neutral, held_out_groups=("g5",))
    assert report.r2_train > 0.8 and report.r2_held_out > 0.8
    truth = rig.lower_bases[:, :468]
    got = fitted.bases[:, :468]
    strong = [k for k, n in enumerate(COND_NAMES) if np.abs(truth[k]).max() > 0.3 and n != "AU09"]
    for k in strong:  # direction and size of each basis, over the face
        cos = (got[k] * truth[k]).sum() / np.linalg.norm(got[k]) / np.linalg.norm(truth[k])
        ratio = np.linalg.norm(got[k]) / np.linalg.norm(truth[k])
        assert cos > 0.9 and 0.7 < ratio < 1.3, (COND_NAMES[k], cos, ratio)


def test_regions_keep_the_nose_still_and_split_the_face(rig):
    regions = au_regions(rig.mean)
    nose_tip, brow, chin = 1, 105, 152
    assert all(regions[au][nose_tip] < 0.05 for au in regions if au not in ("AU09", "AU10"))
    assert regions["AU01"][brow] > 0.95 and regions["AU01"][chin] == 0
    assert regions["AU26"][chin] > 0.95 and regions["AU26"][brow] == 0
