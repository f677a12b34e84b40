"""The warp-guided editor on real faces: rig, constraints, full-resolution warp, interiors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reenact.au.blendshapes import RELIABLE_AUS, aus_from_face
from reenact.au.space import TABLE_AU_NAMES, preset, sync_bilateral
from reenact.face.tracking import FaceTracker
from reenact.model import interior
from reenact.model import mesh as M
from reenact.model.registry import build_editor
from reenact.model.rig import folded, load_rig
from reenact.model.warp import backward_field, triangle_areas
from reenact.pipelines import ReenactPipeline

COL = {n: i for i, n in enumerate(TABLE_AU_NAMES)}


@pytest.fixture(scope="module")
def editor():
    return build_editor("warp")


@pytest.fixture(scope="module")
def source(editor, astronaut):
    return ReenactPipeline(editor).prepare_source(astronaut)


@pytest.fixture(scope="module")
def prepared(editor, source):
    return editor.prepare(source)


def random_targets(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return sync_bilateral(rng.uniform(0.0, 1.0, (n, len(TABLE_AU_NAMES))).astype(np.float32))


def test_the_source_own_expression_returns_the_photo_exactly(editor, prepared, astronaut):
    batch = editor.edit(prepared, prepared.source.aus[None])
    assert np.array_equal(prepared.assemble(batch.regions)[0], astronaut)
    still = editor.edit(prepared, prepared.source.aus[None], motion=np.zeros((1, 478, 3), np.float32))
    assert np.array_equal(still.regions, batch.regions)


@pytest.mark.parametrize("seed", range(6))
def test_random_au_vectors_fold_no_triangle(editor, prepared, seed):
    dst = editor.target_landmarks(prepared, random_targets(48, seed))
    src = prepared.source.face.landmarks[:M.N_MESH, :2].astype(np.float64)
    mesh = editor.mesh
    assert not folded(src, dst, mesh.triangles, mesh.orientation, ignore=mesh.closures).any()
    # every triangle the source shows the right way round keeps a positive area
    nominal = triangle_areas(src, mesh.triangles) * mesh.orientation > 0
    area = triangle_areas(dst, mesh.triangles) * mesh.orientation
    assert (area[:, nominal & ~mesh.closures] > 0).all()
    # lids stop at the lower lid, lips never pass through each other: along the face's own
    # downward axis in the photo (its head pose), every upper point stays above its partner
    down = prepared.pose.rotation[:2, 1] / np.linalg.norm(prepared.pose.rotation[:2, 1])
    for upper, lower in ((M.RIGHT_EYE_UPPER, M.RIGHT_EYE_LOWER), (M.LEFT_EYE_UPPER, M.LEFT_EYE_LOWER),
                         (M.LIPS_INNER_UPPER, M.LIPS_INNER_LOWER)):
        gap = (dst[:, list(lower[1:-1])] - dst[:, list(upper[1:-1])]) @ down
        assert (gap > -0.5).all(), gap.min()


def test_pixels_outside_the_ring_are_the_photos_own(editor, prepared, astronaut):
    targets = np.stack([preset(n) for n in ("surprise", "anger", "wink_left", "happy")])
    frames = prepared.assemble(editor.edit(prepared, targets).regions)
    x0, y0, x1, y1 = prepared.box
    outside = np.ones(astronaut.shape[:2], bool)
    outside[y0:y1, x0:x1] = ~prepared.geometry.inside
    assert outside.mean() > 0.7
    assert np.array_equal(frames[:, outside], np.repeat(astronaut[None], 4, 0)[:, outside])
    assert (frames[:, ~outside] != astronaut[~outside]).any(axis=(1, 2)).all()  # and the face moved


def test_lowering_and_raising_au12_is_measured_back(editor, source, astronaut):
    """The astronaut smiles (AU12 = 1): lowering the smile is measured lower, raising it again on
    the warped face is measured higher; the AUs away from the mouth corners stay close (AU10, AU14
    and AU23 are read off the same lip corners: MediaPipe's upper-lip raise falls with a smile, its
    dimpler rises when the corners come back in)."""
    coupled = ("AU12", "AU10", "AU14", "AU23")
    reliable = [COL[n] for n in RELIABLE_AUS if not n.startswith(coupled)]
    lower = source.aus.copy()
    lower[[COL["AU12"], COL["AU12_L"], COL["AU12_R"]]] = 0.1
    frame = editor.prepare(source).assemble(editor.edit(editor.prepare(source), lower[None]).regions)[0]
    pipe = ReenactPipeline(editor)
    with FaceTracker() as tracker:
        low = aus_from_face(tracker.detect(frame))
        assert low[COL["AU12"]] < source.aus[COL["AU12"]] - 0.2
        assert np.abs(low[reliable] - source.aus[reliable]).max() < 0.25
        warped = pipe.prepare_source(frame)
        up = warped.aus.copy()
        up[[COL["AU12"], COL["AU12_L"], COL["AU12_R"]]] = 1.0
        again = editor.prepare(warped).assemble(editor.edit(editor.prepare(warped), up[None]).regions)[0]
        high = aus_from_face(tracker.detect(again))
    assert high[COL["AU12"]] > low[COL["AU12"]] + 0.2


def test_grey_in_grey_out(editor, astronaut):
    grey = np.repeat(np.round(astronaut @ [0.299, 0.587, 0.114]).astype(np.uint8)[..., None], 3, axis=2)
    src = ReenactPipeline(editor).prepare_source(grey)
    prepared = editor.prepare(src)
    frames = prepared.assemble(editor.edit(prepared, np.stack([preset("surprise"), preset("fear")])).regions)
    spread = frames.max(-1).astype(int) - frames.min(-1)
    assert spread.max() <= 2


def test_zero_field_and_identity_interior():
    src = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    field, tri = backward_field(src, src[None].clone(), torch.tensor([[0, 1, 2]]), (11, 11))
    assert field.abs().max() < 1e-5 and (tri >= 0).sum() == 66  # the grid points on or inside
    pts = np.random.default_rng(0).normal(size=(468, 2)) * 50
    s_v, d_v = interior.interior_points(pts, pts[None])
    assert np.allclose(s_v, d_v)


def test_the_field_covers_exactly_the_grid_points_inside_each_triangle():
    """backward_field against a brute-force inside test at every grid point: random triangles
    with thin, horizontal, vertical and off-grid ones among them, on a fine and on a coarse,
    offset grid. A point inside a triangle is owned by a triangle that holds it (within rounding
    of an edge: either neighbour; where triangles overlap, which one is not defined); a point
    outside all is owned by none."""
    rng = np.random.default_rng(1)
    tris = [rng.uniform(-5, 45, size=(3, 2)) for _ in range(60)]
    tris += [np.array([[3.0, 7.0], [30.0, 7.0], [12.0, 19.5]]),  # a horizontal edge on a row
             np.array([[8.0, 2.0], [8.0, 30.0], [20.0, 11.0]]),  # a vertical edge on a column
             np.array([[2.0, 2.0], [40.0, 3.0], [21.0, 2.6]]),  # a sliver
             np.array([[50.0, 50.0], [60.0, 50.0], [55.0, 60.0]])]  # off the grid
    verts = torch.tensor(np.concatenate(tris), dtype=torch.float32)
    faces = torch.arange(len(verts)).reshape(-1, 3)
    for size, scale, offset in (((41, 43), 1.0, 0.0), ((14, 15), 3.0, 1.0)):
        _, tri = backward_field(verts, verts[None], faces, size, scale=scale, offset=offset)
        got = tri[0].numpy()
        ys, xs = np.mgrid[0:size[0], 0:size[1]]
        p = np.stack([xs.ravel(), ys.ravel()], 1) * scale + offset
        loose = np.zeros((len(faces), len(p)), bool)  # inside within rounding
        sure = np.zeros_like(loose)  # clearly inside
        for k, (a, b, c) in enumerate(verts.numpy().astype(np.float64).reshape(-1, 3, 2)):
            e1, e2 = b - a, c - a
            det = e1[0] * e2[1] - e2[0] * e1[1]
            d = p - a
            l1 = (e2[1] * d[:, 0] - e2[0] * d[:, 1]) / det
            l2 = (-e1[1] * d[:, 0] + e1[0] * d[:, 1]) / det
            loose[k] = (l1 >= -1e-3) & (l2 >= -1e-3) & (l1 + l2 <= 1 + 1e-3)
            sure[k] = (l1 >= 1e-3) & (l2 >= 1e-3) & (l1 + l2 <= 1 - 1e-3)
        held = sure.any(0)
        assert (got[held] >= 0).all() and loose[got[held], np.flatnonzero(held)].all()
        assert (got[~loose.any(0)] == -1).all()  # outside every triangle: no owner
        assert held.sum() > 0.5 * len(p)  # most of the grid is inside some triangle


def test_rig_file_round_trip(tmp_path):
    from reenact.weights import fetch

    rig = load_rig(fetch("rig", quiet=True))
    rig.save(tmp_path / "rig.safetensors")
    again = load_rig(tmp_path / "rig.safetensors")
    assert np.array_equal(rig.bases, again.bases) and np.array_equal(rig.lower_bases, again.lower_bases)
    delta = np.zeros((2, 20), np.float32)
    delta[0, 0], delta[1, 0] = 1.0, -1.0
    d = rig.displacement(delta)
    assert np.allclose(d[0], rig.bases[0]) and np.allclose(d[1], -rig.lower_bases[0])


def test_a_generator_weights_file_without_a_model_name_runs_ganimation(tmp_path):
    from reenact.model.generator import Generator, GeneratorConfig, save_generator
    from reenact.model.registry import DEFAULT_MODEL, model_for_weights

    path = tmp_path / "g.safetensors"
    save_generator(Generator(GeneratorConfig(channels=8, n_res=1)), path)
    assert model_for_weights(path) == "ganimation"
    assert build_editor(weights=path).name == "ganimation"
    assert model_for_weights(None) == DEFAULT_MODEL
    assert model_for_weights(tmp_path / "missing.safetensors") == DEFAULT_MODEL


def test_a_rig_file_given_as_weights_replaces_the_rig_of_a_warp_model(tmp_path):
    from reenact.errors import InputError
    from reenact.model.rig import AURig
    from reenact.weights import fetch

    rig = load_rig(fetch("rig", quiet=True))
    half = AURig(bases=rig.bases * 0.5, mean=rig.mean, rigid_weights=rig.rigid_weights,
                 metadata={}, lower_bases=rig.lower_bases * 0.5)
    path = tmp_path / "half.safetensors"
    half.save(path)
    for name in ("warp", "warp+refiner", None):
        editor = build_editor(name, weights=path)
        assert np.allclose(editor.rig.bases, 0.5 * rig.bases), name
    assert build_editor("warp+refiner", weights=path).refiner is not None  # the registered refiner
    with pytest.raises(InputError, match="AU rig"):
        build_editor("ganimation", weights=path)
