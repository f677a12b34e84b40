"""Smoothing, gap policies and the neutral baseline: known answers and the real clip."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.au.smoothing import (
    SmoothingConfig,
    fill_gaps,
    neutral_baseline,
    one_euro,
    savgol,
    savgol_window,
    smooth_track,
)
from reenact.au.space import TABLE_AU_NAMES
from reenact.au.track import AUTrack
from reenact.errors import InputError, NoFaceError
from tests.aus_fixtures import WL_BLINK, WL_BLINK_SHORT, WL_STILL, wl_raw_track

AU45 = TABLE_AU_NAMES.index("AU45")


def _jitter(x: np.ndarray) -> float:
    """Mean absolute second difference over time: frame-to-frame noise, blind to slow motion."""
    return float(np.abs(np.diff(x, 2, axis=0)).mean())


def _track(values: np.ndarray, found: np.ndarray | None = None, fps: float = 25.0) -> AUTrack:
    t = len(values)
    found = np.ones(t, bool) if found is None else found
    pose = np.zeros((t, 3), np.float32)
    pose[~found] = np.nan
    return AUTrack(values=values.astype(np.float32), found=found, pose=pose, fps=fps)


# -- gaps -------------------------------------------------------------------------------------


def test_fill_gaps_known_answers():
    x = np.array([[0.0], [np.nan], [np.nan], [0.3], [np.nan], [np.nan], [np.nan], [np.nan], [0.9],
                  [np.nan]], np.float32)
    interp = fill_gaps(x, policy="interpolate", max_gap=3)
    np.testing.assert_allclose(interp[:4, 0], [0.0, 0.1, 0.2, 0.3], atol=1e-6)  # short gap: linear
    np.testing.assert_allclose(interp[4:8, 0], 0.3)  # gap of 4 > max_gap: hold
    assert interp[9, 0] == pytest.approx(0.9)  # trailing gap: hold
    hold = fill_gaps(x, policy="hold")
    np.testing.assert_allclose(hold[:, 0], [0, 0, 0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.9, 0.9], atol=1e-6)
    missing = fill_gaps(x, policy="missing")
    assert np.isnan(missing[[1, 2, 4, 9]]).all()
    lead = fill_gaps(np.array([[np.nan], [0.5], [0.7]]), policy="interpolate", max_gap=5)
    assert lead[0, 0] == pytest.approx(0.5)  # before the first face: the first found value
    with pytest.raises(InputError, match="gap policy"):
        fill_gaps(x, policy="zero")


def test_smooth_track_policies_keep_found():
    values = np.tile(np.linspace(0.2, 0.6, 20, dtype=np.float32)[:, None], (1, 23))
    found = np.ones(20, bool)
    found[5:8] = False
    values[~found] = np.nan
    track = _track(values, found)
    for gaps in ("interpolate", "hold"):
        out = smooth_track(track, SmoothingConfig(method="savgol", gaps=gaps))
        assert not out.missing.any() and np.isfinite(out.pose).all()
        assert (out.found == found).all()
        assert out.values.min() >= 0 and out.values.max() <= 1
    out = smooth_track(track, SmoothingConfig(method="savgol", gaps="interpolate", max_gap_s=1.0))
    np.testing.assert_allclose(out.values[:, 0], np.linspace(0.2, 0.6, 20), atol=1e-5)  # a ramp survives
    kept = smooth_track(track, SmoothingConfig(method="one_euro", gaps="missing"))
    assert (kept.missing == ~found).all()


def test_config_rejects_unknown_names():
    with pytest.raises(InputError, match="smoothing method"):
        SmoothingConfig(method="kalman")
    with pytest.raises(InputError, match="gap policy"):
        SmoothingConfig(gaps="zeros")


def test_savgol_window_is_odd_and_scales_with_fps():
    assert savgol_window(23.976) == 5
    assert savgol_window(30.0) == 7
    assert savgol_window(60.0) == 13
    assert savgol_window(5.0) == 5
    assert all(savgol_window(f) % 2 == 1 for f in (10, 24, 25, 29.97, 50, 120))


# -- filters on the real clip -----------------------------------------------------------------


@pytest.fixture(scope="module")
def raw():
    return wl_raw_track()


@pytest.mark.parametrize("method, most", [("savgol", 0.65), ("one_euro", 0.6)])
def test_filters_remove_jitter_on_still_stretches(raw, method, most):
    out = smooth_track(raw, SmoothingConfig(method=method))
    ratios = [_jitter(out.values[s:e]) / _jitter(raw.values[s:e]) for s, e in WL_STILL]
    assert np.mean(ratios) < most, f"{method} kept {np.mean(ratios):.0%} of the jitter"


def test_savgol_keeps_blink_timing_and_height(raw):
    """Zero phase: a real 5-frame blink keeps its peak frame and >= 90% of its height."""
    out = smooth_track(raw, SmoothingConfig(method="savgol"))
    for blink, min_height in ((WL_BLINK, 0.9), (WL_BLINK_SHORT, 0.5)):
        window = slice(blink - 4, blink + 5)
        raw_peak = raw.values[window, AU45]
        smooth_peak = out.values[window, AU45]
        assert abs(int(np.argmax(smooth_peak)) - int(np.argmax(raw_peak))) <= 1
        assert smooth_peak.max() >= min_height * raw_peak.max()


def test_one_euro_blinks_without_lag(raw):
    out = smooth_track(raw, SmoothingConfig(method="one_euro"))
    for blink in (WL_BLINK, WL_BLINK_SHORT):
        window = slice(blink - 4, blink + 5)
        assert abs(int(np.argmax(out.values[window, AU45])) - int(np.argmax(raw.values[window, AU45]))) <= 1
        assert out.values[window, AU45].max() >= 0.7 * raw.values[window, AU45].max()


def test_one_euro_is_causal(raw):
    x = raw.values[:120]
    changed = x.copy()
    changed[60:] = 1.0 - changed[60:]
    a = one_euro(x, raw.fps)
    b = one_euro(changed, raw.fps)
    np.testing.assert_array_equal(a[:60], b[:60])
    assert not np.allclose(a[60:], b[60:])


def test_default_savgol_passes_speech_rate_motion():
    """A 4 Hz mouth movement (syllable rate) keeps most of its amplitude, 10 Hz jitter does not."""
    fps = 24.0
    t = np.arange(240) / fps
    out = {}
    for hz in (4.0, 10.0):
        wave = (0.5 + 0.3 * np.sin(2 * np.pi * hz * t))[:, None].astype(np.float32)
        smooth = savgol(wave, savgol_window(fps), SmoothingConfig().savgol_order)
        out[hz] = float(np.ptp(smooth[20:-20]) / np.ptp(wave[20:-20]))
    assert out[4.0] > 0.85
    assert out[10.0] < 0.5


def test_savgol_is_zero_phase():
    t = np.arange(101, dtype=np.float32)
    bump = np.exp(-0.5 * ((t - 50) / 6.0) ** 2)[:, None]
    out = savgol(bump, 7, 3)
    assert int(np.argmax(out)) == 50
    np.testing.assert_allclose(out[::-1], out, atol=1e-5)  # a symmetric input stays symmetric


def test_sided_aus_stay_in_sync(raw):
    out = smooth_track(raw, SmoothingConfig(method="one_euro"))
    np.testing.assert_allclose(out.column("AU45"), 0.5 * (out.column("AU45_L") + out.column("AU45_R")),
                               atol=1e-6)


# -- neutral baseline -------------------------------------------------------------------------


def test_neutral_baseline_ignores_expressions_and_blinks():
    rng = np.random.default_rng(0)
    rest = np.full(23, 0.05, np.float32)
    values = np.tile(rest, (100, 1)) + rng.normal(0, 0.005, (100, 23)).astype(np.float32)
    values[30:60, TABLE_AU_NAMES.index("AU12")] = 0.9  # a long smile
    values[10:14, AU45] = 1.0  # a blink
    found = np.ones(100, bool)
    found[80:] = False
    values[80:] = np.nan
    base = neutral_baseline(_track(np.clip(values, 0, 1), found))
    np.testing.assert_allclose(base, rest, atol=0.02)


def test_neutral_baseline_on_real_clip(raw):
    base = neutral_baseline(raw)
    assert base.shape == (23,) and np.isfinite(base).all()
    # Resting: no smile, and no more expression than the clip's median frame.
    assert base[TABLE_AU_NAMES.index("AU12")] < 0.1
    assert base.sum() <= np.median(raw.values.sum(axis=1))


def test_neutral_baseline_needs_a_face():
    values = np.full((5, 23), np.nan, np.float32)
    with pytest.raises(NoFaceError):
        neutral_baseline(_track(values, np.zeros(5, bool)))
