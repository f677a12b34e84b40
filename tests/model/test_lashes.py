"""Closed eyes: the lids meet in all three axes, and the line of lashes drawn where they meet."""

from __future__ import annotations

import numpy as np

from reenact.au.space import TABLE_AU_NAMES, preset
from reenact.model import mesh as M
from reenact.model.lashes import draw_lashes, lash_colours
from reenact.model.rig import EYE_SIDES, set_lid_openness

COL = {n: i for i, n in enumerate(TABLE_AU_NAMES)}


def _eye_mesh(centre=(50.0, 30.0), width=40.0) -> np.ndarray:
    """(468, 2) a mesh whose right eye is an open almond at ``centre`` (other points far away)."""
    pts = np.full((M.N_MESH, 2), -100.0)
    upper, lower = EYE_SIDES[0]
    xs = np.linspace(-width / 2, width / 2, len(upper))
    pts[list(upper)] = np.c_[centre[0] + xs, centre[1] - 6 * np.cos(np.pi * xs / width)]
    pts[list(lower)] = np.c_[centre[0] + xs, centre[1] + 4 * np.cos(np.pi * xs / width)]
    return pts


def test_lashes_follow_the_closing_and_stay_on_the_meeting_line():
    region = np.full((1, 60, 100, 3), 200, np.uint8)
    dst = _eye_mesh()[None]
    colours = np.array([[20.0, 10.0, 5.0], [0.0, 0.0, 0.0]], np.float32)
    assert np.array_equal(draw_lashes(region.copy(), dst, np.array([[0.4, 1.0]]), colours), region)
    drawn = draw_lashes(region.copy(), dst, np.array([[1.0, 0.0]]), colours)
    assert (drawn[0, 29, 50] == [20, 10, 5]).all()  # the middle of the line: the lash colour
    changed = (drawn != region).any(-1)[0]
    ys, xs = np.nonzero(changed)
    assert ys.min() >= 24 and ys.max() <= 36 and xs.min() >= 28 and xs.max() <= 72
    half = draw_lashes(region.copy(), dst, np.array([[0.7, 0.0]]), colours)
    assert 20 < half[0, 29, 50, 0] < 200  # fading in as the eye closes


def test_a_closing_lid_meets_the_lower_lid_across_and_in_depth():
    rng = np.random.default_rng(0)
    face = rng.normal(size=(1, 478, 3))
    for upper, lower in EYE_SIDES:  # lids apart in height, and offset across and in depth
        face[0, list(lower[1:-1]), 1] = face[0, list(upper[1:-1]), 1] + 1.0
    closed = set_lid_openness(face, face, np.array([[0.0, 0.0]]), min_gap=0.04)
    kept = set_lid_openness(face, face, np.array([[1.0, 1.0]]), min_gap=0.04)
    assert np.allclose(kept, face)  # an eye that does not close keeps its lids
    for upper, lower in EYE_SIDES:
        gap = closed[0, list(lower[1:-1])] - closed[0, list(upper[1:-1])]
        assert np.allclose(gap[:, 1], 0.04)
        before = face[0, list(lower[1:-1])] - face[0, list(upper[1:-1])]
        assert np.allclose(gap[:, [0, 2]], 0.04 * before[:, [0, 2]])  # met across and in depth
        # and by the same fraction when half closed
        half = set_lid_openness(face, face, np.array([[0.5, 0.5]]), min_gap=0.04)
        gap = half[0, list(lower[1:-1])] - half[0, list(upper[1:-1])]
        assert np.allclose(gap, 0.5 * before)
    old = set_lid_openness(face, face, np.array([[0.0, 0.0]]), min_gap=0.04, across=False)
    assert np.allclose(old[..., [0, 2]], face[..., [0, 2]])


def test_a_wink_on_the_astronaut_reads_closed_with_its_lashes(astronaut):
    """The registered model's wink, measured by MediaPipe: with the lash line the asked eye
    reads more closed than without it, the other eye stays open; the lashes are the photo's own
    dark colour."""
    from reenact.au.blendshapes import aus_from_face
    from reenact.face.tracking import FaceTracker
    from reenact.model.refiner import load_refiner
    from reenact.model.registry import load_registered_rig
    from reenact.model.warp_editor import WarpEditor, WarpEditorConfig
    from reenact.pipelines import ReenactPipeline
    from reenact.weights import fetch

    rig, refiner = load_registered_rig(), load_refiner(fetch("refiner", quiet=True))
    readings = {}
    with FaceTracker() as tracker:
        for lashes in (True, False):
            editor = WarpEditor(rig, WarpEditorConfig(lashes=lashes), refiner=refiner)
            prepared = editor.prepare(ReenactPipeline(editor).prepare_source(astronaut))
            frame = prepared.assemble(editor.edit(prepared, preset("wink_left")[None]).regions)[0]
            readings[lashes] = aus_from_face(tracker.detect(frame))
    assert readings[True][COL["AU45_L"]] > readings[False][COL["AU45_L"]] + 0.1
    assert readings[True][COL["AU45_R"]] < 0.2
    colours = lash_colours(astronaut, prepared.source.face.landmarks)
    cheek = prepared.source.face.landmarks[[50, 280], :2].astype(int)  # both cheeks
    skin = np.mean([astronaut[y - 4:y + 5, x - 4:x + 5].mean() for x, y in cheek])
    assert (colours.mean(1) < 0.6 * skin).all()  # lashes are darker than her skin


def test_an_eye_already_shut_in_the_photo_gets_no_lashes_drawn():
    from reenact.model.refine_inputs import eye_closing

    shut = _eye_mesh()
    upper, lower = EYE_SIDES[0]
    shut[list(lower)] = shut[list(upper)]  # the lids' points coincide: a closed eye in the photo
    assert np.allclose(eye_closing(shut, shut[None]), 0.0)
    region = np.full((1, 60, 100, 3), 200, np.uint8)
    colours = np.zeros((2, 3), np.float32)
    closing = eye_closing(shut, shut[None])
    assert np.array_equal(draw_lashes(region.copy(), shut[None], closing, colours), region)
