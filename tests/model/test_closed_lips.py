"""Closing lips show lip: the teeth strip inside a smile's lips goes, the rest stays the photo's."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.au.space import preset
from reenact.model import mesh as M
from reenact.model.closed_lips import close_lips, mouth_closing, off_lip

LIP = np.array([200.0, 110.0, 120.0], np.float32)
TEETH = np.array([225.0, 215.0, 195.0], np.float32)


def _mouth(gap: float, *, centre=(60.0, 40.0), width=60.0, thick=8.0) -> np.ndarray:
    """(468, 2) a mesh whose lips are arcs around ``centre`` with the inner lips ``gap`` apart
    in the middle (the other points far away)."""
    pts = np.full((M.N_MESH, 2), -100.0)
    xs = np.linspace(-width / 2, width / 2, len(M.LIPS_INNER_UPPER))
    bulge = np.cos(np.pi * xs / width)
    cx, cy = centre
    pts[list(M.LIPS_INNER_UPPER)] = np.c_[cx + xs, cy - gap / 2 * bulge]
    pts[list(M.LIPS_INNER_LOWER)] = np.c_[cx + xs, cy + gap / 2 * bulge]
    pts[list(M.LIPS_OUTER_UPPER)] = np.c_[cx + xs, cy - (gap / 2 + thick) * bulge]
    pts[list(M.LIPS_OUTER_LOWER)] = np.c_[cx + xs, cy + (gap / 2 + thick) * bulge]
    return pts


def test_mouth_closing_is_the_lost_share_of_the_opening():
    src = _mouth(10.0)
    dst = np.stack([_mouth(10.0), _mouth(5.0), _mouth(0.0), _mouth(14.0)])
    assert np.allclose(mouth_closing(src, dst), [0.0, 0.5, 1.0, 0.0])
    shut = _mouth(0.0)  # a photo whose lips already touch: nothing closes, whatever is asked
    assert np.allclose(mouth_closing(shut, np.stack([shut, _mouth(0.0)])), 0.0)


def test_teeth_and_the_gap_read_off_lip_and_the_lip_does_not():
    bright, dark = off_lip(np.stack([LIP, TEETH, LIP * 0.3, LIP * 1.1]), LIP)
    assert bright[1] > 0.9 and dark[2] > 0.9
    assert bright[[0, 2, 3]].max() == 0.0 and dark[[0, 1, 3]].max() == 0.0
    grey = np.full(3, 150.0, np.float32)  # a grey photo: brightness alone decides
    bright, _ = off_lip(np.stack([grey, grey * 1.5]), grey)
    assert bright[0] == 0.0 and bright[1] > 0.9


def _smile_lips(size=(80, 120)) -> tuple[np.ndarray, np.ndarray]:
    """(1, h, w, 3) a closed mouth in lip colour whose upper lip holds a strip of teeth (as a
    stretched smile's lips do), on skin; and its mesh (1, 468, 2)."""
    import cv2

    dst = _mouth(0.5)
    region = np.full(size + (3,), 180, np.uint8)
    poly = dst[list(M.LIPS_OUTER_UPPER + M.LIPS_OUTER_LOWER[::-1][1:-1])]
    cv2.fillPoly(region, [np.round(poly).astype(np.int32)], LIP.tolist())
    region[35:39, 48:73] = TEETH  # the strip of teeth inside the upper lip
    return region[None], dst[None]


def test_closing_lips_lose_their_teeth_and_keep_everything_else():
    region, dst = _smile_lips()
    out = close_lips(region.copy(), dst, np.array([1.0]), LIP)
    strip = out[0, 35:39, 48:73].astype(float)
    assert np.abs(strip - LIP).max() < 12  # lip again
    changed = (out != region).any(-1)[0]
    outer = dst[0, list(M.LIPS_OUTER_UPPER + M.LIPS_OUTER_LOWER)]
    ys, xs = np.nonzero(changed)
    assert xs.min() >= outer[:, 0].min() - 2 and xs.max() <= outer[:, 0].max() + 2
    assert ys.min() >= outer[:, 1].min() - 2 and ys.max() <= outer[:, 1].max() + 2
    # not closing: the photo's own pixels, bit for bit; half way: some of the way
    assert np.array_equal(close_lips(region.copy(), dst, np.array([0.1]), LIP), region)
    half = close_lips(region.copy(), dst, np.array([0.4]), LIP)[0, 35, 60].astype(float)
    assert np.abs(half - LIP).max() < np.abs(TEETH - LIP).max() - 10 and np.abs(half - TEETH).max() > 10


def test_a_shut_mouths_line_is_a_shade_not_the_black_gap():
    """A shut mouth whose lips still part by 5 px in the middle (where a fold was undone): the
    opening's black gap becomes lip, but for a line where the lips meet, which is a shade darker
    than the lips and not black (at least a third of their luma)."""
    import cv2

    region, _ = _smile_lips()
    dst = _mouth(5.0)
    cv2.fillPoly(region[0], [np.round(dst[list(M.MOUTH_INNER)]).astype(np.int32)], (LIP * 0.05).tolist())
    out = close_lips(region.copy(), dst[None], np.array([1.0]), LIP)
    weights = np.array([0.299, 0.587, 0.114])
    lip = float(LIP @ weights)
    line = out[0, 40, 45:76].astype(float) @ weights  # the line where the lips meet (y = 40)
    off = (slice(None), [38, 42], slice(55, 66))  # the gap 2 px either side of the line
    assert (region[off] < 20).all()
    assert 0.33 * lip <= line.min() and line.mean() < 0.9 * lip
    assert (out[off].astype(float) @ weights).min() > 0.85 * lip


def test_a_shut_mouths_line_is_drawn_smooth_over_ragged_teeth():
    """Where shut lips meet, a warp leaves the stretched teeth and gaps of a smile side by side (a
    ragged line); the line drawn there is one even shade along its length, darker than the lips
    and red-brown like them, and the lips 3 px away are lip again."""
    region, dst = _smile_lips()
    for x in range(40, 82, 2):  # teeth and gap, column by column, along the line (y = 40)
        region[0, 38:43, x] = TEETH
        region[0, 38:43, x + 1] = LIP * 0.1
    out = close_lips(region.copy(), dst, np.array([1.0]), LIP)
    weights = np.array([0.299, 0.587, 0.114])
    line = out[0, 39:42, 45:76].astype(float)
    luma = line @ weights
    assert (region[0, 39:42, 45:76].astype(float) @ weights).std(axis=1).min() > 50
    assert luma.std(axis=1).max() < 4 and luma.mean() < 0.8 * float(LIP @ weights)
    assert (line[..., 0] > line[..., 1] + 20).all()  # red-brown, not grey
    assert np.abs(out[0, [36, 44], 45:76].astype(float) - LIP).max() < 15


def test_each_lip_takes_its_own_colour():
    """An upper lip darker than the lower one (it faces down): its teeth become upper lip, not the
    lower lip's brighter pink; a lip reference that reads as teeth falls back to the lower's."""
    from reenact.model.closed_lips import lip_references

    upper = np.array([150.0, 60.0, 65.0], np.float32)
    region, dst = _smile_lips()
    above = np.arange(region.shape[1])[:, None] < 40  # the lips meet at y = 40
    region[0] = np.where(above[..., None] & (region[0] == LIP).all(-1, keepdims=True), upper, region[0])
    region[0, 35:39, 48:73] = TEETH
    out = close_lips(region.copy(), dst, np.array([1.0]), np.stack([LIP, upper]))
    strip = out[0, 35:39, 48:73].astype(float)
    assert np.abs(strip - upper).max() < 15 < np.abs(strip - LIP).max()
    # the lower lip kept, past the line drawn where the lips meet (y = 40, 2 px either side)
    assert np.abs(out[0, 43:46].astype(int) - region[0, 43:46]).max() <= 1
    image = region[0].copy()
    image[32:40] = TEETH  # an upper lip all teeth: its reference would be teeth
    refs = lip_references(image, np.pad(dst[0], ((0, 10), (0, 1))))
    assert np.allclose(refs[1], refs[0])


def test_grey_lips_stay_grey():
    region, dst = _smile_lips()
    grey = np.repeat(region.mean(-1, keepdims=True), 3, -1).astype(np.uint8)
    lip = np.full(3, float(LIP.mean()), np.float32)
    out = close_lips(grey.copy(), dst, np.array([1.0]), lip)
    assert (out != grey).any()
    assert (out.max(-1).astype(int) - out.min(-1)).max() == 0


def test_an_upper_lip_in_shade_is_not_the_gap():
    """An upper lip half as bright as the lower one (in shade, it faces down) keeps its own pixels
    when the lips close; only the teeth strip in it goes."""
    region, dst = _smile_lips()
    shade = LIP * 0.5
    above = np.arange(region.shape[1])[:, None] < 40  # the lips meet at y = 40
    region[0] = np.where(above[..., None] & (region[0] == LIP).all(-1, keepdims=True), shade, region[0])
    region[0, 35:39, 48:73] = TEETH
    out = close_lips(region.copy(), dst, np.array([1.0]), np.stack([LIP, shade]))
    kept = above & (region[0] == shade.astype(np.uint8)).all(-1)
    kept[34:40, 46:75] = False  # the strip and its rim
    kept[38:] = False  # the line drawn where the lips meet (y = 40, 2 px either side)
    assert kept.sum() > 80 and np.abs(out[0][kept].astype(int) - region[0][kept]).max() <= 2
    assert np.abs(out[0, 35:39, 50:71].astype(float) - shade).max() < 20  # the teeth: shaded lip


@pytest.mark.parametrize("photo", ["astronaut", "media/single_face.jpg"])
def test_a_smiles_sad_mouth_shows_lip_not_teeth_or_gap(photo):
    """The registered rig on two smiles that show their teeth: asked for sad (lips together), the
    closed lips hold far fewer pixels of teeth (at least 0.9 of the lower lip's luma, under half
    its red-difference chroma) or of the gap at the gums (under 0.45 of the luma of the lip they
    lie in) with the clean-ups (``lip_edges``, ``closed_lips``) than the bare warp, and the
    photo's own expression is still returned bit for bit."""
    import cv2

    from reenact.eval.sources import read_source_photo
    from reenact.model.closed_lips import _above_the_line, lip_references
    from reenact.model.registry import load_registered_rig
    from reenact.model.warp_editor import WarpEditor, WarpEditorConfig
    from reenact.pipelines import ReenactPipeline

    def luma_cr(colour):
        pixel = colour.reshape(1, 1, 3).astype(np.uint8)
        return cv2.cvtColor(pixel, cv2.COLOR_RGB2YCrCb)[0, 0, :2].astype(float)

    image, _ = read_source_photo(photo)
    rig, teeth = load_registered_rig(), {}
    for on in (True, False):
        editor = WarpEditor(rig, WarpEditorConfig(closed_lips=on, lip_edges=on))
        prepared = editor.prepare(ReenactPipeline(editor).prepare_source(image))
        sad = editor.edit(prepared, preset("sad")[None]).regions[0]
        dst = editor.target_landmarks(prepared, preset("sad")[None])[0] - prepared.box[:2]
        lips = np.zeros(sad.shape[:2], np.uint8)
        poly = dst[list(M.LIPS_OUTER_UPPER + M.LIPS_OUTER_LOWER[::-1][1:-1])]
        cv2.fillPoly(lips, [np.round(poly).astype(np.int32)], 1)
        (y_lo, cr_lo), (y_up, _) = (luma_cr(c) for c in lip_references(image, prepared.source.face.landmarks))
        above = _above_the_line(dst, sad.shape[:2])[lips > 0] > 0.5
        ycc = cv2.cvtColor(sad, cv2.COLOR_RGB2YCrCb).astype(float)[lips > 0]  # Y, Cr, Cb
        paler = (ycc[:, 0] >= 0.9 * y_lo) & (ycc[:, 1] - 128 < 0.5 * (cr_lo - 128))
        teeth[on] = float((paler | (ycc[:, 0] < 0.45 * np.where(above, y_up, y_lo))).sum())
        own = editor.edit(prepared, prepared.source.aus[None]).regions[0]
        assert np.array_equal(own, prepared.region_u8)
    assert teeth[False] >= 10 and teeth[True] <= 0.4 * teeth[False]
