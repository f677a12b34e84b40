"""The AU plot: panels by region, sides paired (solid left, dashed right), no-face spans shaded."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.au.plot import PANELS, plot_au_track, save_au_plot
from reenact.au.space import TABLE_AU_NAMES
from reenact.au.track import AUTrack


def _track(t: int = 60, fps: float = 25.0) -> AUTrack:
    rng = np.random.default_rng(1)
    values = rng.uniform(0, 1, (t, len(TABLE_AU_NAMES))).astype(np.float32)
    found = np.ones(t, bool)
    found[10:15] = False
    found[40:42] = False
    values[~found] = np.nan
    pose = np.zeros((t, 3), np.float32)
    pose[~found] = np.nan
    return AUTrack(values=values, found=found, pose=pose, fps=fps)


def _grey_spans(ax) -> int:
    from matplotlib.patches import Polygon, Rectangle

    return sum(1 for p in ax.patches if isinstance(p, (Polygon, Rectangle)))


def test_clip_plot_layout():
    import matplotlib.pyplot as plt

    fig = plot_au_track(_track(), title="synthetic")
    try:
        axes = fig.axes
        assert len(axes) == len(PANELS) + 1  # regions + head pose
        assert [ax.get_ylabel() for ax in axes[:-1]] == [p for p, _ in PANELS]
        assert all(_grey_spans(ax) == 2 for ax in axes)  # both no-face stretches, every panel
        eyes = {ln.get_label(): ln for ln in axes[1].get_lines() if not ln.get_label().startswith("_")}
        assert eyes["AU45 blink (left)"].get_linestyle() == "-"
        assert eyes["AU45 blink (right)"].get_linestyle() == "--"
        assert eyes["AU45 blink (left)"].get_color() == eyes["AU45 blink (right)"].get_color()
        assert any("[weak]" in label for label in eyes)
    finally:
        plt.close(fig)


@pytest.mark.parametrize("n", [1, 4])
def test_stills_plot(tmp_path, n):
    track = _track(t=n, fps=0.0).replace(sources=tuple(f"img{i}.jpg" for i in range(n)))
    path = save_au_plot(track, tmp_path / "stills.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_save_plot_is_atomic(tmp_path):
    from reenact.errors import OutputError

    with pytest.raises(OutputError):
        save_au_plot(_track(), tmp_path / "missing" / "p.png")
    assert list(tmp_path.iterdir()) == []
