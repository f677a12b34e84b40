"""AU trajectory plots: one panel per face region, sides paired, frames without a face shaded.

Layout (top to bottom): brows, eyes, mouth corners, lips and jaw, head pose. Each AU has one
colour; a sided AU draws its subject's-left value solid and its right value dashed in that
colour, so a wink or a half smile stands out as two lines parting. Weak AUs (``WEAK_AUS``) are
dotted. Grey spans mark frames where no face was found. ``raw`` (optional) is drawn thin and
faint behind the smoothed values, which shows what smoothing did.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from reenact.au.blendshapes import WEAK_AUS
from reenact.au.space import AU_DESCRIPTIONS, COND_NAMES
from reenact.au.track import AUTrack
from reenact.errors import OutputError
from reenact.io.files import atomic_output

#: Image formats a plot can be written in (by the file's suffix; no suffix writes PNG).
PLOT_SUFFIXES: tuple[str, ...] = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".webp", ".tif", ".tiff",
                                  ".eps", ".ps", ".svgz")

#: Panels: title and the AU columns drawn in it.
PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Brows", ("AU01", "AU02", "AU04")),
    ("Eyes", ("AU05", "AU06", "AU07", "AU45_L", "AU45_R")),
    ("Mouth corners", ("AU12_L", "AU12_R", "AU14_L", "AU14_R", "AU15", "AU20", "AU10", "AU09")),
    ("Lips and jaw", ("AU17", "AU23", "AU25", "AU26")),
)
_POSE_NAMES = ("yaw", "pitch", "roll")


def _spans(mask: np.ndarray) -> list[tuple[int, int]]:
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _label(name: str) -> str:
    au, _, side = name.partition("_")
    text = f"{au} {AU_DESCRIPTIONS[au]}"
    if side:
        text += " (left)" if side == "L" else " (right)"
    if au in WEAK_AUS:
        text += " [weak]"
    return text


def _style(name: str) -> dict:
    au, _, side = name.partition("_")
    if au in WEAK_AUS:
        return {"linestyle": ":", "linewidth": 1.3}
    return {"linestyle": "--" if side == "R" else "-", "linewidth": 1.6}


def _panel_rows() -> list[tuple[str, str]]:
    """(panel, AU column) in drawing order, top to bottom."""
    return [(panel, name) for panel, names in PANELS for name in names]


def _plot_stills(track: AUTrack, title: str | None):
    """Unrelated images: bars for one image, an AU x image heat map for several."""
    import matplotlib.pyplot as plt

    rows = _panel_rows()
    labels = [f"{panel[:5].lower()} | {_label(name)}" for panel, name in rows]
    values = np.stack([track.column(name) for _, name in rows])  # (n_aus, n_images)
    n = len(track)
    if n == 1:
        fig, ax = plt.subplots(figsize=(9, 8))
        colours = plt.get_cmap("tab10").colors
        panels = [p for p, _ in PANELS]
        y = np.arange(len(rows))[::-1]
        ax.barh(y, np.nan_to_num(values[:, 0]), color=[colours[panels.index(p)] for p, _ in rows])
        ax.set_yticks(y, labels, fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_xlabel("intensity")
        ax.grid(axis="x", alpha=0.3)
    else:
        fig, ax = plt.subplots(figsize=(max(6, 2 + 0.5 * n), 8))
        im = ax.imshow(values, aspect="auto", vmin=0, vmax=1, cmap="magma")
        ax.set_yticks(np.arange(len(rows)), labels, fontsize=8)
        names = track.sources or tuple(str(i) for i in range(n))
        ax.set_xticks(np.arange(n), names, rotation=45, ha="right", fontsize=7)
        fig.colorbar(im, ax=ax, label="intensity", fraction=0.04)
        for j in np.flatnonzero(~track.found):
            ax.axvspan(j - 0.5, j + 0.5, color="0.7", hatch="//", alpha=0.6)
    found = int(track.found.sum())
    pose = "" if n != 1 or not track.found[0] else (
        "; head yaw {:.0f}, pitch {:.0f}, roll {:.0f} deg".format(*track.pose[0]))
    fig.suptitle(f"{title + ': ' if title else ''}Action Units ({n} image{'s' if n > 1 else ''}, "
                 f"face in {found}{pose})", fontsize=11)
    fig.tight_layout()
    return fig


def plot_au_track(track: AUTrack, *, raw: AUTrack | None = None, title: str | None = None):
    """A matplotlib Figure of the track's AU trajectories and head pose.

    A clip is drawn as trajectories over time; unrelated images (fps 0) as bars (one image) or
    a heat map of AUs x images (several; images without a face hatched).

    Args:
        track: the AUs to draw (usually the smoothed track).
        raw: optional unsmoothed track of the same length, drawn faint behind ``track``.
        title: figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if track.fps <= 0:
        return _plot_stills(track, title)

    x, xlabel = track.timestamps, "time (s)"
    marker = "o" if len(track) < 3 else None
    fig, axes = plt.subplots(len(PANELS) + 1, 1, figsize=(12, 11), sharex=True,
                             gridspec_kw={"height_ratios": [1] * len(PANELS) + [0.8]})
    colours = plt.get_cmap("tab10").colors
    no_face = ~track.found
    dx = (x[1] - x[0]) if len(x) > 1 else 1.0
    for ax, (panel, names) in zip(axes, PANELS, strict=False):
        bases = list(dict.fromkeys(n.split("_")[0] for n in names))
        for name in names:
            colour = colours[bases.index(name.split("_")[0]) % len(colours)]
            if raw is not None:
                ax.plot(x, raw.column(name), color=colour, alpha=0.25, linewidth=0.8)
            ax.plot(x, track.column(name), color=colour, label=_label(name), marker=marker,
                    markersize=4, **_style(name))
        ax.set_ylim(-0.03, 1.03)
        ax.set_ylabel(panel, fontsize=11, fontweight="bold")
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)
        ax.grid(alpha=0.25)
    pose_ax = axes[-1]
    for j, name in enumerate(_POSE_NAMES):
        pose_ax.plot(x, track.pose[:, j], color=colours[j], label=f"head {name} (deg)", marker=marker,
                     markersize=4, linewidth=1.3)
    pose_ax.set_ylabel("Head pose", fontsize=11, fontweight="bold")
    pose_ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)
    pose_ax.grid(alpha=0.25)
    pose_ax.set_xlabel(xlabel)
    for ax in axes:
        for i, (start, stop) in enumerate(_spans(no_face)):
            ax.axvspan(x[start] - dx / 2, x[stop - 1] + dx / 2, color="0.6", alpha=0.3, linewidth=0,
                       label="no face" if i == 0 and ax is axes[0] else None)
    if no_face.any():
        axes[0].legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)
    found = int(track.found.sum())
    summary = f"{len(track)} frames, face in {found}, {track.fps:.2f} fps"
    fig.suptitle(f"{title + ': ' if title else ''}Action Units ({summary}; L solid, R dashed)",
                 fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


def check_plot_path(path: str | os.PathLike) -> Path:
    """Fail before any work if the plot's suffix is not an image format matplotlib writes.

    Raises:
        OutputError: an unsupported suffix (e.g. ``.txt``).
    """
    path = Path(path)
    if path.suffix and path.suffix.lower() not in PLOT_SUFFIXES:
        raise OutputError(f"plot {path}: {path.suffix} is not an image format; end it in one of "
                          f"{', '.join(PLOT_SUFFIXES)}")
    return path


def save_au_plot(track: AUTrack, path: str | os.PathLike, *, raw: AUTrack | None = None,
                 title: str | None = None, dpi: int = 110) -> Path:
    """Draw ``plot_au_track`` and write it as an image (PNG/SVG/PDF by suffix), atomically.

    Raises:
        OutputError: the output path cannot be written, or its suffix is not an image format.
    """
    import matplotlib.pyplot as plt

    path = check_plot_path(path)
    fig = plot_au_track(track, raw=raw, title=title)
    try:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".").lower() or "png")
    finally:
        plt.close(fig)
    return path


def plot_rig(rig, *, names: tuple[str, ...] | None = None):
    """A figure of each AU's displacement field on the rig's mean face (front view, one panel per
    conditioning value; arrows at 1 unit of the AU, colour = length in canonical cm)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = names or COND_NAMES
    cols = 5
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 3.4 * rows))
    mean = rig.mean[:468]
    for ax, name in zip(axes.ravel(), names, strict=False):
        d = rig.bases[COND_NAMES.index(name), :468]
        length = np.linalg.norm(d[:, :2], axis=1)
        ax.scatter(mean[:, 0], mean[:, 1], s=1, c="0.8")
        moving = length > 0.05
        ax.quiver(mean[moving, 0], mean[moving, 1], d[moving, 0], d[moving, 1], length[moving],
                  angles="xy", scale_units="xy", scale=1.0, width=0.006, cmap="viridis", clim=(0, 1.5))
        ax.set_title(f"{name}: {AU_DESCRIPTIONS[name.split('_')[0]]}" + (" (left)" if name.endswith("_L")
                     else " (right)" if name.endswith("_R") else ""), fontsize=8)
        ax.set_aspect("equal")
        ax.invert_yaxis()
        ax.axis("off")
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    fig.suptitle("AU rig: landmark displacement per AU unit (canonical face, cm; "
                 "subject's left = image right)")
    fig.tight_layout()
    return fig


def save_rig_plot(rig, path: str | os.PathLike) -> Path:
    """``plot_rig`` written atomically to ``path`` (png/pdf/svg)."""
    import matplotlib.pyplot as plt

    path = check_plot_path(path)
    fig = plot_rig(rig)
    try:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=110, format=path.suffix.lstrip(".").lower())
    finally:
        plt.close(fig)
    return path
