"""Closing lips sample the photo's lips: where the lip's own pixels begin, and the moved loops."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.model import mesh as M
from reenact.model.closing_samples import LOWER_LOOPS, UPPER_LOOPS, edge_depth, lip_sampling, sample_lips

LIP = np.array([200.0, 110.0, 120.0], np.float32)
TEETH = np.array([225.0, 215.0, 195.0], np.float32)


def _column_image(teeth_rows: int, *, gap_rows: int = 0) -> np.ndarray:
    """(40, 10, 3) rows 0..: gap, then teeth, then lip down to the bottom."""
    image = np.empty((40, 10, 3), np.float32)
    image[:] = LIP
    image[:gap_rows] = LIP * 0.2
    image[gap_rows:gap_rows + teeth_rows] = TEETH
    return image.astype(np.uint8)


def test_the_depth_is_where_the_lip_begins():
    inner, outer = np.array([[5.0, 0.0]]), np.array([[5.0, 20.0]])  # a column 20 px long, downwards
    assert edge_depth(_column_image(0), inner, outer, LIP)[0] == 0.0  # all lip: no change
    for teeth, gap in ((4, 0), (6, 0), (2, 3)):
        depth = edge_depth(_column_image(teeth, gap_rows=gap), inner, outer, LIP)[0]
        # the lip begins at row teeth + gap (its first pixel half-blended: up to a pixel later),
        # plus the 0.75 px margin
        assert (teeth + gap + 0.5) / 20 <= depth <= (teeth + gap + 1.75) / 20
    # a column that is teeth all the way stops at the reach: a lip never collapses
    assert edge_depth(_column_image(30), inner, outer, LIP)[0] == pytest.approx(0.6)


def _lip_mesh(gap: float) -> np.ndarray:
    """(468, 2) both lips' four loops as horizontal arcs, the inner lips ``gap`` apart."""
    pts = np.zeros((M.N_MESH, 2))
    xs = np.linspace(20.0, 80.0, 11)
    bulge = np.sin(np.linspace(0.0, np.pi, 11))
    for loops, sign in ((UPPER_LOOPS, -1.0), (LOWER_LOOPS, 1.0)):
        for k, loop in enumerate(loops):  # outer (k = 0) to inner (k = 3)
            pts[list(loop)] = np.c_[xs, 50.0 + sign * (gap / 2 + (3 - k) * 3.0) * bulge]
    return pts


def test_the_loops_move_into_the_lip_in_order_and_only_as_the_mouth_closes():
    pts = _lip_mesh(8.0)
    image = np.empty((100, 100, 3), np.uint8)
    image[:] = LIP.astype(np.uint8)
    image[44:56, 25:76] = TEETH.astype(np.uint8)  # teeth 2 px into each lip beyond the inner contour
    index, place = lip_sampling(image, pts, np.stack([LIP, LIP]))
    moved = pts.copy()
    moved[index] = place
    for loops in (UPPER_LOOPS, LOWER_LOOPS):
        inner, outer = moved[list(loops[-1][1:-1])], moved[list(loops[0][1:-1])]
        assert np.array_equal(outer, pts[list(loops[0][1:-1])])  # the outer contour stays
        middle = slice(3, 6)  # the columns the teeth reach
        assert (np.abs(inner[middle, 1] - 50.0) >= 6.0).all()  # past the teeth (4 + 2 px)
        heights = [np.abs(moved[list(loop[1:-1]), 1] - 50.0) for loop in loops]
        assert all((a >= b).all() for a, b in zip(heights, heights[1:], strict=False))  # no loop crosses
    src = np.stack([pts, pts, pts])
    out = sample_lips(src, (index, place), np.array([0.0, 0.15, 1.0]))
    assert np.array_equal(out[0], pts)  # not closing: the photo's own sampling, exactly
    assert np.allclose(out[1, index], 0.5 * (pts[index] + place)) and np.allclose(out[2, index], place)
    assert np.array_equal(np.delete(out[2], index, 0), np.delete(pts, index, 0))


def test_a_closed_mouth_photo_samples_as_before():
    """A photo whose inner lips read as lip (no teeth, no gap) keeps every sampling point."""
    pts = _lip_mesh(0.0)
    image = np.empty((100, 100, 3), np.uint8)
    image[:] = LIP.astype(np.uint8)
    index, place = lip_sampling(image, pts, np.stack([LIP, LIP]))
    assert np.allclose(place, pts[index])


def test_an_opening_mouths_interior_takes_the_teeth_its_contour_sat_on():
    """Opening (by a tenth of the mouth's width or more) samples the lips in their own band, as
    closing does, and the interior then runs between the lips' real edges; a closing mouth's
    interior keeps MediaPipe's contour (the lips cover it); no change, no change."""
    from reenact.model.closing_samples import interior_sources, mouth_change

    src = _lip_mesh(8.0)
    dst = np.stack([_lip_mesh(8.0), _lip_mesh(20.0), _lip_mesh(2.0)])
    change = mouth_change(src, dst)
    assert change[0] == 0.0 and change[1] == 1.0 and change[2] > 0.7
    image = np.empty((100, 100, 3), np.uint8)
    image[:] = LIP.astype(np.uint8)
    image[44:56, 25:76] = TEETH.astype(np.uint8)
    sampling = lip_sampling(image, src, np.stack([LIP, LIP]))
    fixed = np.broadcast_to(src, (3,) + src.shape)
    moved = sample_lips(fixed, sampling, change)
    inner = interior_sources(fixed, moved, dst)
    assert np.array_equal(inner[0], src) and np.array_equal(inner[2], src)
    assert np.array_equal(inner[1], moved[1]) and not np.array_equal(moved[1], src)
