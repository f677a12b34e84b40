"""Temporal smoothing of AU tracks, gap filling for frames without a face, neutral baseline.

Order of work in ``smooth_track``: first the gap policy fills (or keeps missing) the rows of
frames where no face was found, then the filter runs over each stretch of known rows.

Filters (``SmoothingConfig.method``):
- "savgol" (default, offline): Savitzky-Golay (scipy.signal.savgol_filter), zero-phase, so it
  adds no lag. A cubic fit over 0.21 s (5 frames at 24 fps, 7 at 30; half power at ~5.7 Hz at
  24 fps, so speech-rate mouth motion at 4 Hz keeps 91% of its amplitude) removes about 40% of
  the raw track's frame-to-frame jitter and keeps a real 5-frame blink's peak frame and height;
  longer windows remove more jitter but flatten mouth motion and short blinks. Measured in
  docs/aus.md (``python benchmarks/bench_aus.py --smoothing``).
- "one_euro" (causal, for live use): the One-Euro filter (Casiez et al., CHI 2012), an adaptive
  low-pass whose cut-off rises with speed: still stretches are smoothed hard, fast moves (a
  blink) pass with little lag. It only looks at past frames.
- "none": values as tracked.

Gap policies (``SmoothingConfig.gaps``) for frames where no face was found:
- "interpolate" (default): gaps of at most ``max_gap_s`` seconds between two found frames are
  linearly interpolated; longer gaps hold the last found value, and frames before the first
  found one take the first found value.
- "hold": every gap holds the last found value (the first found value before it).
- "missing": rows stay NaN; downstream code decides (``AUTrack.missing``).
``AUTrack.found`` always keeps what the tracker saw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import savgol_filter

from reenact.au.space import TABLE_AU_NAMES, sync_bilateral
from reenact.au.track import AUTrack
from reenact.errors import InputError, NoFaceError

METHODS = ("savgol", "one_euro", "none")
GAP_POLICIES = ("interpolate", "hold", "missing")
# Pose (degrees) is divided by this before One-Euro so that one set of speeds fits AUs and pose.
_POSE_UNIT_DEG = 30.0


@dataclass(frozen=True)
class SmoothingConfig:
    """Options of temporal smoothing and gap filling (see the module docstring)."""

    method: str = "savgol"  # savgol (zero-phase, offline) | one_euro (causal) | none
    gaps: str = "interpolate"  # interpolate | hold | missing: frames where no face was found
    max_gap_s: float = 0.5  # longest gap (seconds) that "interpolate" bridges linearly
    savgol_window_s: float = 0.21  # Savitzky-Golay window in seconds (rounded to odd frames >= 5)
    savgol_order: int = 3  # Savitzky-Golay polynomial order
    one_euro_min_cutoff: float = 1.0  # One-Euro cut-off at rest (Hz): lower = smoother when still
    one_euro_beta: float = 5.0  # One-Euro speed coefficient: higher = less lag on fast moves
    one_euro_d_cutoff: float = 1.0  # One-Euro cut-off of the speed estimate (Hz)
    smooth_pose: bool = True  # filter head pose with the same method

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InputError(f"smoothing method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.gaps not in GAP_POLICIES:
            raise InputError(f"gap policy must be one of {', '.join(GAP_POLICIES)}, got {self.gaps!r}")
        if self.max_gap_s < 0 or self.savgol_window_s <= 0 or self.one_euro_min_cutoff <= 0:
            raise InputError("max_gap_s must be >= 0; savgol_window_s and one_euro_min_cutoff > 0")


def savgol_window(fps: float, config: SmoothingConfig = SmoothingConfig()) -> int:
    """Savitzky-Golay window length in frames for a frame rate: odd, >= order + 2 and >= 5."""
    n = int(round(config.savgol_window_s * fps))
    n = max(n, config.savgol_order + 2, 5)
    return n if n % 2 else n + 1


# -- gaps -------------------------------------------------------------------------------------


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True in a (T,) bool mask."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def fill_gaps(values: np.ndarray, *, policy: str = "interpolate", max_gap: int = 12) -> np.ndarray:
    """Fill rows that are NaN (frames without a face) by a gap policy.

    Args:
        values: (T, C) float array, NaN rows where unknown.
        policy: "interpolate" (linear across gaps of at most ``max_gap`` frames, hold otherwise),
            "hold", or "missing" (return unchanged).
        max_gap: longest gap in frames that "interpolate" bridges.

    Returns:
        (T, C) float32; all-NaN input comes back unchanged.
    """
    out = np.array(values, np.float32, copy=True)
    if policy == "missing":
        return out
    if policy not in GAP_POLICIES:
        raise InputError(f"gap policy must be one of {', '.join(GAP_POLICIES)}, got {policy!r}")
    missing = np.isnan(out).any(axis=1)
    if missing.all() or not missing.any():
        return out
    first = int(np.argmin(missing))
    for start, stop in _runs(missing):
        if start == 0:
            out[:stop] = out[first]
            continue
        before = out[start - 1]
        if stop < len(out) and policy == "interpolate" and stop - start <= max_gap:
            w = (np.arange(1, stop - start + 1, dtype=np.float32) / (stop - start + 1))[:, None]
            out[start:stop] = (1 - w) * before + w * out[stop]
        else:
            out[start:stop] = before
    return out


# -- filters ----------------------------------------------------------------------------------


def savgol(values: np.ndarray, window: int, order: int = 3) -> np.ndarray:
    """Zero-phase Savitzky-Golay filter along time of (T, C) values; NaN rows split stretches.

    Stretches shorter than the window use the longest odd window that fits (> order), or stay
    as they are.
    """
    x = np.asarray(values, np.float32)
    out = x.copy()
    for start, stop in _runs(~np.isnan(x).any(axis=1)):
        n = stop - start
        win = min(window, n if n % 2 else n - 1)
        if win <= order:
            continue
        out[start:stop] = savgol_filter(x[start:stop], win, order, axis=0, mode="interp")
    return out


def _alpha(cutoff: np.ndarray | float, fps: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau * fps)


def one_euro(values: np.ndarray, fps: float, *, min_cutoff: float = 1.0, beta: float = 5.0,
             d_cutoff: float = 1.0) -> np.ndarray:
    """Causal One-Euro filter (Casiez et al. 2012) along time of (T, C) values.

    Each output row depends only on the rows before it. NaN rows stay NaN and restart the filter.
    Speeds are in value units per second, so ``beta`` depends on the values' scale.
    """
    x = np.asarray(values, np.float32)
    out = x.copy()
    a_d = _alpha(d_cutoff, fps)
    for start, stop in _runs(~np.isnan(x).any(axis=1)):
        prev = x[start].astype(np.float64)
        d_prev = np.zeros_like(prev)
        for t in range(start + 1, stop):
            d = (x[t] - prev) * fps
            d_prev = a_d * d + (1 - a_d) * d_prev
            a = _alpha(min_cutoff + beta * np.abs(d_prev), fps)
            prev = a * x[t] + (1 - a) * prev
            out[t] = prev
    return out


def filter_values(values: np.ndarray, fps: float, config: SmoothingConfig, scale: float = 1.0) -> np.ndarray:
    """Filter (T, C) values along time by ``config.method`` (``scale``: the unit of One-Euro speeds)."""
    if config.method == "savgol":
        return savgol(values, savgol_window(fps, config), config.savgol_order)
    if config.method == "one_euro":
        return one_euro(values / scale, fps, min_cutoff=config.one_euro_min_cutoff,
                        beta=config.one_euro_beta, d_cutoff=config.one_euro_d_cutoff) * scale
    return np.asarray(values, np.float32).copy()


def smooth_track(track: AUTrack, config: SmoothingConfig = SmoothingConfig()) -> AUTrack:
    """Fill gaps by ``config.gaps``, then filter AUs (and pose) by ``config.method``.

    A track of unrelated images (fps 0) comes back as it is: rows without a face stay NaN. Values stay in
    [0, 1]; the bilateral value of each sided AU is recomputed as the mean of its sides.

    Returns:
        A new AUTrack; ``found`` is unchanged.
    """
    if track.fps <= 0:  # unrelated images: nothing to interpolate or filter between rows
        return track.replace(values=track.values.copy(), pose=track.pose.copy())
    max_gap = int(round(config.max_gap_s * track.fps))
    values = fill_gaps(track.values, policy=config.gaps, max_gap=max_gap)
    pose = fill_gaps(track.pose, policy=config.gaps, max_gap=max_gap)
    if config.method != "none":
        values = np.clip(filter_values(values, track.fps, config), 0.0, 1.0)
        if config.smooth_pose:
            pose = filter_values(pose, track.fps, config, scale=_POSE_UNIT_DEG)
    if tuple(track.names) == TABLE_AU_NAMES:
        values = sync_bilateral(values)
    return track.replace(values=values.astype(np.float32), pose=pose.astype(np.float32))


def neutral_baseline(track: AUTrack, *, quantile: float = 0.2) -> np.ndarray:
    """The driver's resting face: (len(names),) float32 AU values in [0, 1].

    The frames with the least expression (summed AU intensity, blinks left out, in the lowest
    ``quantile`` of the track's found frames) are taken as resting; the baseline is their
    per-AU median. Relative transfer adds ``track - baseline`` to a target's own neutral.

    Raises:
        NoFaceError: the track has no found frame.
    """
    known = track.found & ~track.missing
    if not known.any():
        raise NoFaceError("the AU track has no frame with a face; a neutral baseline needs one")
    rows = track.values[known]
    expressive = [i for i, n in enumerate(track.names) if not n.startswith("AU45")]
    energy = rows[:, expressive].sum(axis=1)
    calm = rows[energy <= np.quantile(energy, quantile)]
    base = np.median(calm, axis=0).astype(np.float32)
    if tuple(track.names) == TABLE_AU_NAMES:
        base = sync_bilateral(base[None])[0]
    return base
