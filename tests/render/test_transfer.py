"""Expression transfer: relative/absolute modes, strength, AU groups, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.au.space import TABLE_AU_NAMES, preset, table_from_values
from reenact.errors import InputError
from reenact.render.transfer import TransferConfig, parse_only, selected_columns, transfer_aus

COL = {n: i for i, n in enumerate(TABLE_AU_NAMES)}


def driver_track() -> tuple[np.ndarray, np.ndarray]:
    neutral = table_from_values({"AU12": 0.1, "AU04": 0.2})
    frames = np.stack([neutral, preset("happy", 0.8), preset("surprise", 1.0), preset("wink_left")])
    return frames, neutral


def test_relative_adds_the_drivers_change_to_the_source():
    drv, neutral = driver_track()
    src = table_from_values({"AU12": 0.5})  # a smiling source
    out = transfer_aus(src, drv, neutral=neutral)
    assert out.shape == (4, 23) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], src, atol=1e-6)  # the driver at rest -> the source as is
    # smile grows by the driver's change (0.8 - 0.1), clipped at 1
    assert out[1, COL["AU12"]] == pytest.approx(min(0.5 + 0.8 - 0.1, 1.0))
    assert out[2, COL["AU26"]] == pytest.approx(preset("surprise")[COL["AU26"]])
    assert out[3, COL["AU45_L"]] == pytest.approx(1.0) and out[3, COL["AU45_R"]] == 0.0
    assert out[3, COL["AU45"]] == pytest.approx(0.5)  # bilateral = mean of the sides
    assert (out >= 0).all() and (out <= 1).all()


def test_absolute_copies_the_driver_at_strength_one():
    drv, neutral = driver_track()
    src = table_from_values({"AU12": 0.5})
    np.testing.assert_allclose(transfer_aus(src, drv, config=TransferConfig(mode="absolute")), drv, atol=1e-6)
    half = transfer_aus(src, drv, config=TransferConfig(mode="absolute", strength=0.5))
    np.testing.assert_allclose(half, 0.5 * (src + drv), atol=1e-6)


def test_strength_scales_the_change():
    drv, neutral = driver_track()
    src = np.zeros(23, np.float32)
    zero = transfer_aus(src, drv, neutral=neutral, config=TransferConfig(strength=0.0))
    np.testing.assert_allclose(zero, np.zeros_like(drv))
    a = transfer_aus(src, drv, neutral=neutral, config=TransferConfig(strength=0.5))
    b = transfer_aus(src, drv, neutral=neutral, config=TransferConfig(strength=1.0))
    assert a[2, COL["AU26"]] == pytest.approx(0.5 * b[2, COL["AU26"]])


def test_only_mouth_keeps_the_sources_eyes_and_brows():
    drv, neutral = driver_track()
    src = table_from_values({"AU01": 0.3})
    out = transfer_aus(src, drv, neutral=neutral, config=TransferConfig(only=("mouth",)))
    assert (out[:, COL["AU01"]] == 0.3).all() and (out[:, COL["AU45_L"]] == 0).all()
    assert out[2, COL["AU26"]] > 0.5


def test_only_accepts_groups_and_au_names():
    m = selected_columns(parse_only("eyes, au12_l"))
    chosen = {n for n, s in zip(TABLE_AU_NAMES, m, strict=True) if s}
    assert chosen == {"AU05", "AU07", "AU45", "AU45_L", "AU45_R", "AU12_L"}
    assert selected_columns(()).all() and parse_only(None) == ()


def test_bad_input():
    drv, neutral = driver_track()
    src = np.zeros(23, np.float32)
    with pytest.raises(InputError, match="gap policy"):
        bad = drv.copy()
        bad[1] = np.nan
        transfer_aus(src, bad, neutral=neutral)
    with pytest.raises(InputError, match="neutral"):
        transfer_aus(src, drv)
    with pytest.raises(InputError):
        transfer_aus(src[:20], drv, neutral=neutral)
    with pytest.raises(InputError, match="unknown AU or group"):
        TransferConfig(only=("lips",))
    with pytest.raises(InputError):
        TransferConfig(mode="mirror")
    with pytest.raises(InputError):
        TransferConfig(strength=-1)
