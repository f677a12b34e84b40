"""Landmark motion transfer: the driver's own pose-free landmark motion, for warp-guided models.

AUs describe 17 muscles; speech moves the lips in ways they do not (rounded vowels, a bitten lip,
an asymmetric jaw). In landmark mode the driver's tracked landmarks are put into the canonical face
frame (``reenact.model.mesh``; head pose removed with the rig's rigid points), their displacement
from the driver's rest face (the median of its calmest frames) is smoothed like the AUs and
handed to the editor, which applies it to the source face in the source's own head pose.

Canonical units are the same for every face (the pose fit removes scale), so a displacement
carries over between faces of different sizes; it keeps the driver's amplitudes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenact.au.smoothing import SmoothingConfig, fill_gaps, filter_values
from reenact.au.space import AU_NAMES, TABLE_AU_NAMES
from reenact.au.track import AUTrack
from reenact.errors import InputError
from reenact.model.rig import AURig, au_regions
from reenact.render.transfer import selected_columns

MOTIONS = ("aus", "landmarks")


@dataclass(frozen=True)
class MotionConfig:
    """Options of landmark motion."""

    rest_fraction: float = 0.1  # rest face: median of this fraction of the calmest frames
    strength: float = 1.0
    only: tuple[str, ...] = ()  # AU groups/names: motion kept in their regions only (empty: all)
    reference: str = "neutral"  # the rest face: "neutral" (calmest frames) or "first" (first face)


def canonical_track(landmarks: np.ndarray, rig: AURig) -> np.ndarray:
    """(T, 478, 3) pixel landmarks (NaN rows allowed) -> the same in the canonical frame."""
    out = np.full(landmarks.shape, np.nan, np.float32)
    for t, lm in enumerate(landmarks):
        if np.isfinite(lm).all():
            out[t] = rig.pose(lm).to_canonical(lm)
    return out


def region_weights(only: tuple[str, ...], rig: AURig) -> np.ndarray | None:
    """(478,) weights of the landmarks the selected AUs move (None: everything moves)."""
    if not only:
        return None
    columns = selected_columns(only)
    regions = au_regions(rig.mean)
    chosen = {n.split("_")[0] for n, c in zip(TABLE_AU_NAMES, columns, strict=True) if c}
    return np.max([regions[au] for au in AU_NAMES if au in chosen], axis=0)


def landmark_motion(track: AUTrack, rig: AURig, *, smoothing: SmoothingConfig = SmoothingConfig(),
                    config: MotionConfig = MotionConfig()) -> np.ndarray:
    """(T, 478, 3) float32 canonical displacement of the driver from its rest face per frame.

    Frames without a face take the gap policy of ``smoothing``; those still unknown rest (zero).

    Raises:
        InputError: the track holds no landmarks (extract with ``keep_landmarks=True``).
    """
    if track.landmarks is None:
        raise InputError("landmark motion needs the driver's landmarks; track it with keep_landmarks=True")
    canon = canonical_track(track.landmarks, rig)
    found = np.isfinite(canon).all(axis=(1, 2))
    if not found.any():
        raise InputError("no face found in any driver frame")
    flat = canon.reshape(len(canon), -1)
    if track.fps > 0:  # smooth the trajectory (gaps filled), then measure it from the rest face
        flat = fill_gaps(flat, policy=smoothing.gaps, max_gap=int(round(smoothing.max_gap_s * track.fps)))
        if smoothing.method != "none":
            flat = filter_values(flat, track.fps, smoothing, scale=0.1)  # NaN runs stay NaN
    smooth = flat.reshape(canon.shape)
    if config.reference == "first":
        rest = smooth[int(np.argmax(found))]
    else:
        energy = np.nansum(np.nan_to_num(track.values), axis=1)
        calm = np.flatnonzero(found)[np.argsort(energy[found])]
        rest = np.median(smooth[calm[: max(1, int(np.ceil(config.rest_fraction * len(calm))))]], 0)
    motion = np.nan_to_num(smooth - rest[None]) * config.strength
    weights = region_weights(config.only, rig)
    if weights is not None:
        motion = motion * weights[None, :, None]
    return motion.astype(np.float32)


def check_motion(name: str) -> str:
    if name not in MOTIONS:
        raise InputError(f"motion must be one of {', '.join(MOTIONS)}, got {name!r}")
    return name
