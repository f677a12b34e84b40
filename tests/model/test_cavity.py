"""The opened mouth's cavity: coordinates in the opening, the measured colour model, and the
editor showing it (the refiner does not paint over it) on a real face."""

from __future__ import annotations

import numpy as np

from reenact.au.space import preset
from reenact.model import interior
from reenact.model import mesh as M
from reenact.pipelines import ReenactPipeline


def test_mouth_coordinates_run_from_lip_to_lip_and_corner_to_corner(astronaut_face):
    lm = astronaut_face.landmarks[:, :2].astype(np.float64)
    up, lo = lm[13], lm[14]  # the inner lips' middle points
    pts = np.stack([up, lo, (up + lo) / 2, lm[61], lm[291]])
    t, s = interior.mouth_coordinates(pts, lm)
    assert t[0] < 0.05 and t[1] > 0.95 and abs(t[2] - 0.5) < 0.1
    assert abs(s[2] - 0.5) < 0.1 and s[3] < 0.02 and s[4] > 0.98


def test_the_cavity_colour_is_dark_redder_than_the_lips_and_grey_for_grey():
    lips = np.array([200.0, 120.0, 120.0])
    t = np.array([0.05, 0.95, 0.5, 0.5])
    s = np.array([0.5, 0.5, 0.5, 0.02])
    c = interior.cavity_colour(lips, t, s)
    assert (c < 0.5 * lips).all()  # darker than the lips
    assert c[0].mean() < c[1].mean()  # darker under the upper lip than towards the tongue
    assert c[3].mean() < c[2].mean()  # and towards the corners
    assert (c[:, 0] / lips[0] > c[:, 2] / lips[2]).all()  # redder than the lips
    g = interior.cavity_colour(np.full(3, 150.0), t, s, grey=True)
    assert np.ptp(g, axis=1).max() == 0


def _cavity_core(prepared, dst):
    """Region pixels well inside the destination mouth's newly opened cavity (the CAVITY band's
    polygon, its pixels fully covered and 3 px from its edge, where the refiner's crop-sized
    cavity mask is sure to hold; s 0.3-0.7)."""
    from scipy.ndimage import binary_erosion

    x0, y0, x1, y1 = prepared.box
    lm = dst - [x0, y0]
    src = prepared.source.face.landmarks[:M.N_MESH, :2] - [x0, y0]
    cover = interior.cavity_cover(src, lm[None], (0, 0, x1 - x0, y1 - y0), upper=prepared.teeth_split)[0]
    ys, xs = np.mgrid[0:y1 - y0, 0:x1 - x0]
    pts = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
    _, s = interior.mouth_coordinates(pts, lm)
    side = ((s > 0.3) & (s < 0.7)).reshape(cover.shape)
    return binary_erosion(cover >= 1.0, iterations=3) & side


def test_an_opened_mouth_shows_the_measured_cavity_not_the_refiners_paint(astronaut):
    """Surprise on the astronaut (whose smile shows teeth): the middle of the opened mouth is
    the cavity model's dark red, the same with and without the refiner (its paint, a grey mean
    of teeth and shadow, stays off it); with ``refiner_cavity`` the refiner paints it again."""
    from reenact.model.refiner import load_refiner
    from reenact.model.registry import load_registered_rig
    from reenact.model.warp_editor import WarpEditor, WarpEditorConfig
    from reenact.weights import fetch

    rig, refiner = load_registered_rig(), load_refiner(fetch("refiner", quiet=True))
    editors = {"warp": WarpEditor(rig), "refined": WarpEditor(rig, refiner=refiner),
               "painted": WarpEditor(rig, WarpEditorConfig(refiner_cavity=True), refiner=refiner)}
    out = {}
    for name, editor in editors.items():
        prepared = editor.prepare(ReenactPipeline(editor).prepare_source(astronaut))
        out[name] = editor.edit(prepared, preset("surprise")[None]).regions[0].astype(int)
    dst = editors["warp"].target_landmarks(prepared, preset("surprise")[None])[0]
    core = _cavity_core(prepared, dst)
    assert core.sum() > 40
    assert np.abs(out["refined"][core] - out["warp"][core]).max() <= 1
    assert np.abs(out["painted"][core] - out["warp"][core]).mean() > 5
    cavity = out["warp"][core].mean(0)
    lips = interior.lip_colour(astronaut, prepared.source.face.landmarks)
    assert cavity.mean() < 0.5 * lips.mean() and cavity[0] > cavity[2]  # dark, red before blue


def _opened(landmarks: np.ndarray, drop: float) -> np.ndarray:
    """(1, 468, 2) the mesh with its inner lower lip moved down by ``drop`` pixels."""
    dst = landmarks[None, :M.N_MESH, :2].astype(np.float64).copy()
    lower = list(M.LIPS_INNER_LOWER[1:-1])
    dst[0, lower, 1] += drop
    return dst


def test_the_cavity_cover_is_the_cavity_polygon_at_pixel_resolution(astronaut_face):
    src = astronaut_face.landmarks[:M.N_MESH, :2].astype(np.float64)
    dst = _opened(src, 12.0)
    box = (150, 100, 380, 260)
    cover = interior.cavity_cover(src, dst, box)[0]
    _, virt = interior.interior_points(src, dst)
    up = list(M.LIPS_INNER_UPPER)
    poly = np.concatenate([dst[0, up[:1]], virt[0, :9], dst[0, up[-1:]], virt[0, 9:18][::-1]])
    x, y = poly[:, 0], poly[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    assert area > 100 and abs(cover.sum() - area) < 0.03 * area
    assert ((cover > 0) & (cover < 1)).sum() < 0.5 * (cover == 1).sum()  # a sharp, anti-aliased edge


def test_the_upper_teeth_stay_whole_where_the_photo_shows_them(astronaut_face, astronaut):
    """``teeth_split`` on the astronaut's smile (upper teeth down to the lower lip): its middle
    columns give the upper teeth nearly all of the interior; a closed-mouth mesh and a dark gap
    split at the middle; a row of teeth over a dark gap splits at the gap."""
    lm = astronaut_face.landmarks
    split = interior.teeth_split(astronaut, lm)
    assert (split[2:7] >= 0.85).all() and split.shape == (9,)
    shut = lm[:, :2].copy()
    shut[list(M.LIPS_INNER_LOWER)] = shut[list(M.LIPS_INNER_UPPER)]
    assert np.array_equal(interior.teeth_split(astronaut, shut), np.full(9, 0.5))
    # a synthetic mouth on the same mesh: bright teeth down to 40 % of each column, then a gap
    top, bottom = (lm[list(contour), :2] for contour in (M.LIPS_INNER_UPPER, M.LIPS_INNER_LOWER))
    xs = np.arange(astronaut.shape[1])
    edge = np.interp(xs, top[:, 0], top[:, 1] + 0.4 * (bottom[:, 1] - top[:, 1]))
    image = np.repeat(np.where(np.arange(astronaut.shape[0])[:, None] < edge[None], 230, 0), 3, 1)
    image = image.reshape(astronaut.shape).astype(np.uint8)
    assert np.allclose(interior.teeth_split(image, lm)[2:7], 0.4, atol=0.1)
    # clenched teeth: both rows bright, a dark line where they meet (at 70 %): the split is there,
    # to a pixel of the 6 px opening
    line = np.interp(xs, top[:, 0], top[:, 1] + 0.7 * (bottom[:, 1] - top[:, 1]))
    rows = np.arange(astronaut.shape[0])[:, None]
    teeth = np.where(np.abs(rows - line[None]) < 0.7, 40, 240)
    clenched = np.repeat(teeth, 3, 1).reshape(astronaut.shape).astype(np.uint8)
    assert np.allclose(interior.teeth_split(clenched, lm)[2:7], 0.7, atol=0.15)
    assert np.array_equal(interior.teeth_split(np.full_like(astronaut, 60), lm), np.full(9, 0.5))


def test_the_upper_teeth_share_of_the_interior_moves_with_the_upper_lip(astronaut_face):
    src = astronaut_face.landmarks[:M.N_MESH, :2].astype(np.float64)
    dst = _opened(src, 12.0)
    up, lo = list(M.LIPS_INNER_UPPER[1:-1]), list(M.LIPS_INNER_LOWER[1:-1])
    for share in (0.5, 0.7):
        s_v, d_v = interior.interior_points(src, dst, upper=share)
        seen = np.linalg.norm(src[lo] - src[up], axis=1)  # the photo's own opening per column
        np.testing.assert_allclose(s_v[0, :9], src[up] + share * (src[lo] - src[up]), atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(d_v[0, :9] - dst[0, up], axis=1), share * seen, atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(d_v[0, 9:18] - dst[0, lo], axis=1), (1 - share) * seen,
                                   atol=1e-6)


def _narrowed(dst: np.ndarray, share: float) -> np.ndarray:
    """``dst`` with every lip point moved towards the mouth's middle across its width, x ``share``."""
    out = dst.copy()
    lips = sorted(set(M.LIPS_INNER_UPPER + M.LIPS_INNER_LOWER + M.LIPS_OUTER_UPPER + M.LIPS_OUTER_LOWER))
    centre = out[0, [13, 14]].mean(0)
    out[0, lips, 0] = centre[0] + share * (out[0, lips, 0] - centre[0])
    return out


def test_a_narrowing_mouth_keeps_its_upper_teeth_at_their_own_width(astronaut_face):
    """A mouth that opens and narrows to 0.7 of its width (a smile let go into surprise): the
    interior's copy of the upper lip samples the middle 0.7 of the photo's, so the teeth keep
    their width (source span = destination span) instead of each being squeezed; the lower band
    and the corners sample as before. A mouth that only opens, narrows a little (speech) or
    narrows while it shuts samples the lips' own vertices exactly."""
    src = astronaut_face.landmarks[:M.N_MESH, :2].astype(np.float64)
    first = 2 * 9 + 2 * 7  # the copies of the inner lips: right corner, 9 upper, 9 lower, left corner
    up, lo = list(M.LIPS_INNER_UPPER[1:-1]), list(M.LIPS_INNER_LOWER[1:-1])
    corners = [M.LIPS_INNER_UPPER[0], M.LIPS_INNER_UPPER[-1]]
    opened = _opened(src, 12.0)
    s_v, _ = interior.interior_points(src, opened)
    np.testing.assert_array_equal(s_v[0, first:first + 20], src[corners[:1] + up + lo + corners[1:]])
    narrow = _narrowed(opened, 0.7)
    assert abs(interior.mouth_narrowing(src, narrow)[0] - 0.7) < 0.02
    s_v, d_v = interior.interior_points(src, narrow)
    copy_up = s_v[0, first + 1:first + 10]
    span_src, span_dst = np.ptp(copy_up[:, 0]), np.ptp(d_v[0, first + 1:first + 10, 0])
    assert abs(span_src / span_dst - 1.0) < 0.05 and span_src < 0.8 * np.ptp(src[up, 0])
    assert abs(copy_up[:, 0].mean() - src[up, 0].mean()) < 1.0  # around the photo's middle
    np.testing.assert_allclose(s_v[0, first + 10:first + 20], src[lo + corners[1:]])
    np.testing.assert_allclose(s_v[0, first], src[corners[0]])
    shut = narrow.copy()
    shut[0, lo] = shut[0, up]
    assert interior.mouth_narrowing(src, shut)[0] == 1.0
    assert interior.mouth_narrowing(src, _narrowed(opened, 0.92))[0] == 1.0


def test_a_thin_cavity_is_a_shade_and_a_deep_one_is_dark(astronaut_face):
    """``cavity_cover`` with ``full``: a mouth opened by 1.5 px over the photo's gap covers its
    pixels by about 1.5 px over the full depth (0.06 of the mouth's inner width, ~2.4 px on the
    astronaut); opened by 12 px it is the plain polygon cover."""
    src = astronaut_face.landmarks[:M.N_MESH, :2].astype(np.float64)
    box = (150, 100, 380, 260)
    deep = _opened(src, 12.0)
    np.testing.assert_allclose(interior.cavity_cover(src, deep, box, full=0.06),
                               interior.cavity_cover(src, deep, box), atol=1e-6)
    thin = _opened(src, 1.5)
    plain, ramped = interior.cavity_cover(src, thin, box), interior.cavity_cover(src, thin, box, full=0.06)
    width = np.linalg.norm(src[M.LIPS_INNER_UPPER[-1]] - src[M.LIPS_INNER_UPPER[0]])
    assert plain.max() > 0.9 and abs(ramped.max() - 1.5 / (0.06 * width)) < 0.1


def test_a_batch_renders_each_frame_as_that_frame_alone(astronaut):
    """Frames with and without a new cavity in one batch (the cavity's box and the exact warp
    fields around mouth and eyes are computed over the batch's union): each comes out bit for
    bit as it does alone (before, a frame took the exact field over its batch's larger box: up to
    16 levels on 936 pixels of sad's region), and the own expression keeps the photo."""
    from reenact.model.registry import load_registered_rig
    from reenact.model.warp_editor import WarpEditor

    editor = WarpEditor(load_registered_rig())
    prepared = editor.prepare(ReenactPipeline(editor).prepare_source(astronaut))
    rows = np.stack([preset("surprise"), prepared.source.aus, preset("sad"), preset("fear")])
    batch = editor.edit(prepared, rows).regions
    for i, row in enumerate(rows):
        assert np.array_equal(batch[i], editor.edit(prepared, row[None]).regions[0])
    assert np.array_equal(batch[1], prepared.region_u8)
