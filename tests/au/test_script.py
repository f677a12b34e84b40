"""AU scripts: keyframes, presets, easing, layers, AU tables, errors naming line and field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reenact.au.script import load_script
from reenact.au.space import TABLE_AU_NAMES, preset
from reenact.errors import InputError, ScriptError
from reenact.pipelines.demo import EXAMPLE_SCRIPT

COL = {n: i for i, n in enumerate(TABLE_AU_NAMES)}
EXAMPLE = EXAMPLE_SCRIPT


def write(tmp_path, text: str, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_linear_keyframes_and_length(tmp_path):
    s = load_script(write(tmp_path, "fps: 10\nkeyframes:\n  - {t: 0, preset: neutral}\n"
                                    "  - {t: 1, preset: happy, intensity: 0.5}\n"))
    assert s.fps == 10 and len(s) == 11  # up to and including the last keyframe
    au12 = s.values[:, COL["AU12"]]
    np.testing.assert_allclose(au12, np.linspace(0, 0.5, 11), atol=1e-6)
    np.testing.assert_allclose(s.values[-1], preset("happy", 0.5), atol=1e-6)


def test_easing_hold_and_ease_in_out(tmp_path):
    text = ("fps: 4\nduration: 3\nkeyframes:\n  - {t: 0, aus: {AU26: 0}}\n"
            "  - {t: 1, aus: {AU26: 1}, ease: hold}\n  - {t: 2, aus: {AU26: 0}, ease: ease-in-out}\n")
    v = load_script(write(tmp_path, text)).values[:, COL["AU26"]]
    assert len(v) == 12
    np.testing.assert_allclose(v[:5], [0, 0, 0, 0, 1])  # held, then the jump at t=1
    np.testing.assert_allclose(v[5:9], [1 - 0.15625, 0.5, 0.15625, 0.0], atol=1e-6)  # smoothstep
    assert (v[9:] == 0).all()  # after the last keyframe: its value


def test_layers_blink_over_smile(tmp_path):
    s = load_script(EXAMPLE)
    assert s.fps == 25 and len(s) == 100
    t = np.arange(len(s)) / s.fps
    au12, au45, au45_l, au45_r = (s.values[:, COL[n]] for n in ("AU12", "AU45", "AU45_L", "AU45_R"))
    assert au45[(t > 0.5) & (t < 0.7)].max() > 0.7 and au45[0] == 0
    assert au45[(t > 0.8) & (t < 2.9)].max() == 0
    assert au12[np.argmin(abs(t - 0.58))] > 0.3  # the smile goes on under the blink
    wink = np.argmin(abs(t - 3.08))
    assert au45_l[wink] == pytest.approx(1.0) and au45_r[wink] == 0  # a one-sided wink
    assert au12.max() == pytest.approx(0.9, abs=1e-6)


def test_over_and_add_blends(tmp_path):
    text = """fps: 2
duration: 1
layers:
  - keyframes: [{t: 0, preset: happy}]
  - blend: over
    keyframes: [{t: 0, aus: {AU12: 0.2}}]
  - blend: add
    keyframes: [{t: 0, aus: {AU26: 0.3}}]
"""
    v = load_script(write(tmp_path, text)).values[0]
    assert v[COL["AU12"]] == pytest.approx(0.2) and v[COL["AU06"]] == pytest.approx(0.8)
    assert v[COL["AU26"]] == pytest.approx(0.3)


def test_json_scripts(tmp_path):
    p = write(tmp_path, '{"fps": 5, "keyframes": [{"t": 0, "preset": "sad", "intensity": 0.5}]}', "s.json")
    s = load_script(p)
    assert len(s) == 1 and s.values[0, COL["AU15"]] == pytest.approx(0.4)


def test_an_au_table_is_a_script(tmp_path, media):
    s = load_script(media("OpenFace_Test.csv"), fps=30)
    assert s.values.shape[1] == 23 and len(s) > 1
    assert 0 <= s.values.min() and s.values.max() <= 1 and not np.isnan(s.values).any()


@pytest.mark.parametrize("text, where", [
    ("fps: 25\nkeyframes:\n  - {t: 0, preset: neutral}\n  - {t: 1, preset: happi}\n",
     "line 4: keyframes[1].preset: unknown preset 'happi'"),
    ("fps: 25\nkeyframes:\n  - t: 0\n    aus:\n      AU99: 0.5\n",
     "line 5: keyframes[0].aus.AU99: unknown AU"),
    ("fps: 25\nkeyframes:\n  - t: 0\n    aus: {AU12: 1.5}\n", "line 4: keyframes[0].aus.AU12: must be in"),
    ("fps: -3\nkeyframes:\n  - {t: 0, preset: happy}\n", "line 1: fps: must be > 0"),
    ("fps: 25\nlayers:\n  - keyframes:\n    - {t: 2, preset: happy}\n    - {t: 1, preset: sad}\n",
     "line 5: layers[0].keyframes[1].t: keyframe times must not decrease"),
    ("fps: 25\nkeyframes:\n  - {t: 0, preset: happy, ease: bounce}\n",
     "line 3: keyframes[0].ease: unknown easing"),
    ("fps: 25\nkeyframez: []\n", "line 2: keyframez: unknown field"),
    ("fps: 25\nkeyframes:\n  - {t: 0}\n", "line 3: keyframes[0]: a keyframe needs a preset or aus"),
    ("fps: 25\nkeyframes: [\n  {t: 0, preset: happy\n", "not valid YAML/JSON"),
])
def test_bad_scripts_name_line_and_field(tmp_path, text, where):
    with pytest.raises(ScriptError) as err:
        load_script(write(tmp_path, text))
    msg = str(err.value)
    assert where in msg and "s.yaml" in msg and "\n" not in msg


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(InputError):
        load_script(tmp_path / "none.yaml")
    p = tmp_path / "b.yaml"
    p.write_bytes(bytes(range(256)))
    with pytest.raises(ScriptError):
        load_script(p)
