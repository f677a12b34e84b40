"""reenact.eval.metrics on constructed cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.au.space import TABLE_AU_NAMES, preset
from reenact.errors import InputError
from reenact.eval.metrics import (
    attention_stats,
    au_changes,
    au_fidelity,
    frame_changes,
    pearson,
    seam_stats,
    temporal_stability,
)

A = len(TABLE_AU_NAMES)


def _disc_mask(h: int, w: int, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return (((yy - h / 2) ** 2 + (xx - w / 2) ** 2) <= r * r).astype(np.float32)


# ------------------------------------------------------------------ AU fidelity

def test_au_fidelity_identical_is_zero():
    req = np.stack([preset("happy"), preset("surprise", 0.5), preset("wink_left")])
    fid = au_fidelity(req, req.copy())
    assert fid.mae == 0 and fid.reliable_mae == 0 and fid.weak_mae == 0 and fid.active_mae == 0
    assert fid.n_rows == 3 and fid.n_missing == 0


def test_au_fidelity_known_offset_and_weak_split():
    req = np.zeros((4, A), np.float32)
    mea = req.copy()
    j6, j12 = TABLE_AU_NAMES.index("AU06"), TABLE_AU_NAMES.index("AU12")
    mea[:, j6] = 0.4  # a weak AU wrong by 0.4
    mea[:, j12] = 0.1  # a reliable AU wrong by 0.1
    fid = au_fidelity(req, mea)
    assert fid.per_au_mae["AU06"] == pytest.approx(0.4)
    assert fid.per_au_mae["AU12"] == pytest.approx(0.1)
    assert fid.mae == pytest.approx(0.5 / A)
    n_rel = A - 2  # AU06 and AU09 are weak
    assert fid.reliable_mae == pytest.approx(0.1 / n_rel)
    assert fid.weak_mae == pytest.approx(0.2)
    assert np.isnan(fid.active_mae)  # nothing was asked to move


def test_au_fidelity_skips_nan_rows_and_correlates_over_time():
    t = np.linspace(0, 1, 20)
    req = np.zeros((20, A))
    j = TABLE_AU_NAMES.index("AU26")
    req[:, j] = t
    mea = req.copy()
    mea[:, j] = 0.5 * t + 0.1  # a linear response: correlation 1, error known
    mea[3] = np.nan  # no face measured in one frame
    fid = au_fidelity(req, mea)
    assert fid.n_missing == 1 and fid.n_rows == 19
    assert fid.per_au_corr["AU26"] == pytest.approx(1.0)
    ok = np.arange(20) != 3
    assert fid.per_au_mae["AU26"] == pytest.approx(np.abs(0.5 * t[ok] - 0.1).mean())
    assert np.isnan(fid.per_au_corr["AU01"])  # constant series have no correlation
    assert fid.reliable_corr == pytest.approx(1.0)


def test_au_fidelity_bad_shapes():
    with pytest.raises(InputError):
        au_fidelity(np.zeros((2, A)), np.zeros((3, A)))
    with pytest.raises(InputError):
        au_fidelity(np.zeros((2, 5)), np.zeros((2, 5)))


def test_pearson_anticorrelated():
    assert pearson(np.arange(5.0), -np.arange(5.0)) == pytest.approx(-1.0)


# ------------------------------------------------------------------ temporal stability

def test_identical_frames_have_zero_change_and_flicker():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
    frames = np.repeat(frame[None], 6, axis=0)
    aus = np.tile(np.linspace(0, 1, 6)[:, None], (1, A))
    st = temporal_stability(frames, _disc_mask(32, 40, 10), aus)
    assert st.outside_change == 0 and st.inside_change == 0 and st.flicker == 0
    assert st.au_change == pytest.approx(0.2)


def test_shifted_stripes_give_known_change():
    # Columns alternate 0 / 255: shifting by one pixel changes every pixel by exactly 1.0.
    stripes = np.zeros((8, 10, 3), np.uint8)
    stripes[:, ::2] = 255
    frames = np.stack([stripes, np.roll(stripes, 1, axis=1), np.roll(stripes, 1, axis=1)])
    assert frame_changes(frames) == pytest.approx([1.0, 0.0])
    # A ramp 0..1 over 10 columns shifted by 2 columns (wrapping): known mean change.
    ramp = np.tile(np.linspace(0, 1, 10, dtype=np.float32)[None, :, None], (8, 1, 3))
    shifted = np.roll(ramp, 2, axis=1)
    expected = np.abs(shifted - ramp).mean()
    assert frame_changes(np.stack([ramp, shifted]))[0] == pytest.approx(expected)


def test_change_only_inside_mask_is_attributed_inside():
    h, w = 30, 30
    mask = _disc_mask(h, w, 8)
    base = np.full((h, w, 3), 0.5, np.float32)
    moved = base.copy()
    moved[mask > 0.5] += 0.1  # the face changes by 0.1, the background stays
    frames = np.stack([base, moved, base, moved])
    aus = np.zeros((4, A))
    aus[1::2, 0] = A * 0.05  # mean AU change per step = 0.05
    st = temporal_stability(frames, mask, aus)
    assert st.outside_change == pytest.approx(0.0, abs=1e-7)
    assert st.inside_change == pytest.approx(0.1, rel=1e-5)
    assert st.au_change == pytest.approx(0.05)
    assert st.flicker == pytest.approx(2.0, rel=1e-5)
    assert st.n_still == 0 and np.isnan(st.still_inside_change)


def test_still_driver_change_is_flicker():
    h, w = 20, 20
    mask = _disc_mask(h, w, 6)
    rng = np.random.default_rng(1)
    frames = np.clip(0.5 + 0.02 * rng.standard_normal((5, h, w, 3)) * mask[None, :, :, None], 0, 1)
    st = temporal_stability(frames.astype(np.float32), mask, np.zeros((5, A)))
    assert st.n_still == 4 and st.still_inside_change > 0.01
    assert np.isnan(st.flicker)  # no AU change at all: the ratio is undefined
    assert st.outside_change == 0


def test_au_changes_and_bad_lengths():
    assert au_changes(np.array([[0.0, 0.0], [0.2, 0.4]])) == pytest.approx([0.3])
    with pytest.raises(InputError):
        temporal_stability(np.zeros((3, 4, 4, 3), np.uint8), np.ones((4, 4)), np.zeros((2, A)))
    with pytest.raises(InputError):
        frame_changes(np.zeros((3, 4, 4, 3), np.uint8), np.ones((5, 5)))


# ------------------------------------------------------------------ seam

def test_identical_output_has_zero_seam():
    rng = np.random.default_rng(2)
    src = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    seam = seam_stats(src, src, _disc_mask(40, 50, 12))
    assert seam.boundary_step == 0 and seam.band_step == 0 and seam.gradient_excess == 0
    assert seam.n_border_pairs > 0


def test_known_step_across_mask_border():
    h, w = 40, 40
    mask = np.zeros((h, w), np.float32)
    mask[10:30, 10:30] = 1.0
    src = np.full((h, w, 3), 0.5, np.float32)
    out = src.copy()
    out[mask > 0.5] += 0.2  # a hard paste that brightens the region by 0.2
    seam = seam_stats(out, src, mask, band=2)
    assert seam.boundary_step == pytest.approx(0.2, rel=1e-5)
    assert seam.inner_band_diff == pytest.approx(0.2, rel=1e-5)
    assert seam.outer_band_diff == pytest.approx(0.0, abs=1e-7)
    assert seam.band_step == pytest.approx(0.2, rel=1e-5)
    assert seam.gradient_excess > 0.05
    assert seam.n_border_pairs == 4 * 20  # 20 pairs across each side of the square


def test_feathered_paste_has_smaller_seam_than_hard_paste():
    from scipy import ndimage

    h, w = 64, 64
    hard = _disc_mask(h, w, 20)
    soft = ndimage.gaussian_filter(hard, 4)
    src = np.full((h, w, 3), 0.4, np.float32)
    change = np.full((h, w, 3), 0.7, np.float32)
    hard_out = hard[..., None] * change + (1 - hard[..., None]) * src
    soft_out = soft[..., None] * change + (1 - soft[..., None]) * src
    assert seam_stats(soft_out, src, hard).boundary_step < 0.5 * seam_stats(hard_out, src, hard).boundary_step


def test_seam_needs_a_border():
    src = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(InputError):
        seam_stats(src, src, np.ones((8, 8)))
    with pytest.raises(InputError):
        seam_stats(src, src, np.ones((7, 8)))


# ------------------------------------------------------------------ attention

@pytest.mark.parametrize("value,near0,near1", [(0.0, 1.0, 0.0), (1.0, 0.0, 1.0), (0.5, 0.0, 0.0)])
def test_attention_stats_of_constant_masks(value, near0, near1):
    st = attention_stats(np.full((2, 1, 16, 16), value, np.float32))
    assert st.mean == pytest.approx(value) and st.std == pytest.approx(0.0)
    assert st.frac_near_0 == near0 and st.frac_near_1 == near1


def test_attention_stats_half_and_half():
    a = np.zeros((1, 1, 4, 4))
    a[..., :2] = 1.0
    st = attention_stats(a)
    assert st.mean == 0.5 and st.frac_near_0 == 0.5 and st.frac_near_1 == 0.5 and st.std == 0.5
    with pytest.raises(InputError):
        attention_stats(a + 2)
