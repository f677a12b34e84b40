import numpy as np
import pytest

from reenact.au import space as au


def test_cond_layout_has_sides_for_sided_aus():
    assert au.COND_DIM == 20
    assert "AU12_L" in au.COND_NAMES and "AU12" not in au.COND_NAMES
    assert len(au.TABLE_AU_NAMES) == 23


def test_table_cond_roundtrip_and_bilateral_mean():
    row = au.table_from_values({"AU12_L": 0.8, "AU01": 0.3})
    names = list(au.TABLE_AU_NAMES)
    assert row[names.index("AU12")] == pytest.approx(0.4)
    back = au.cond_to_table(au.table_to_cond(row[None]))[0]
    np.testing.assert_allclose(back, row)


def test_flip_swaps_sides_only():
    cond = au.table_to_cond(au.preset("wink_left")[None])
    flipped = au.flip_cond(cond)[0]
    names = list(au.COND_NAMES)
    assert flipped[names.index("AU45_R")] == 1.0 and flipped[names.index("AU45_L")] == 0.0
    np.testing.assert_array_equal(au.flip_cond(au.flip_cond(cond)), cond)


def test_unknown_au_and_preset_raise():
    with pytest.raises(KeyError):
        au.table_from_values({"AU99": 1.0})
    with pytest.raises(KeyError):
        au.preset("joy")
