"""Expression transfer: the driver's AU track -> the generator's targets for the source face.

Modes (``TransferConfig.mode``):
- "relative" (default): ``target = source + strength * (driver - driver_neutral)``, clipped to
  [0, 1]. The source keeps its own resting expression (a smiling photo stays a smiling photo at
  rest) and performs the driver's CHANGES; differences between people's resting faces and
  between how strongly the AU extractor reads two faces cancel out.
- "absolute": ``target = source + strength * (driver - source)``: at strength 1 the source
  copies the driver's AU values as measured.

AUs outside ``only`` keep the source's own value. Groups: ``AU_GROUPS`` (brows, eyes, mouth,
nose, cheeks); a sided AU (AU12/AU14/AU45) named bilaterally selects both sides.

All AU rows follow ``reenact.au.space.TABLE_AU_NAMES`` (23 values in [0, 1]); the bilateral value of
each sided AU is re-derived from its sides at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenact.au.space import AU_NAMES, SIDED_AUS, TABLE_AU_NAMES, sync_bilateral
from reenact.errors import InputError

REFERENCES = ("neutral", "first")
MODES = ("relative", "absolute")
AU_GROUPS: dict[str, tuple[str, ...]] = {
    "brows": ("AU01", "AU02", "AU04"),
    "eyes": ("AU05", "AU07", "AU45"),
    "cheeks": ("AU06",),
    "nose": ("AU09",),
    "mouth": ("AU10", "AU12", "AU14", "AU15", "AU17", "AU20", "AU23", "AU25", "AU26"),
}


@dataclass(frozen=True)
class TransferConfig:
    """How the driver's AUs become the source's targets."""

    mode: str = "relative"  # relative: source + driver's change from its reference | absolute
    strength: float = 1.0  # multiplier of the transferred change (0 = the source as it is)
    only: tuple[str, ...] = ()  # AU groups or AU names to transfer; empty = all
    # relative mode's reference face of the driver: "neutral" (its calmest frames) or "first" (its
    # first frame with a face; right when the photo shows the driver's starting expression, as in
    # self-reenactment)
    reference: str = "neutral"
    # warp-guided models: the share (a power, 0-1) of the AU rig's read-back calibration gains the
    # driver's AUs move the face by (``reenact.model.rig_gain``): 1 as scripted targets, 0 the
    # regression's own scale (what real faces moved per unit of MediaPipe's reading)
    rig_gain: float = 0.5

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"transfer mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.reference not in REFERENCES:
            raise InputError(f"reference must be one of {', '.join(REFERENCES)}, got {self.reference!r}")
        if not np.isfinite(self.strength) or self.strength < 0:
            raise InputError(f"strength must be a number >= 0, got {self.strength}")
        if not 0.0 <= self.rig_gain <= 1.0:
            raise InputError(f"rig gain must lie in [0, 1], got {self.rig_gain}")
        selected_columns(self.only)  # validates names


def parse_only(text: str | None) -> tuple[str, ...]:
    """``"mouth,AU45"`` -> ("mouth", "AU45"); None or "" -> () (everything)."""
    if not text:
        return ()
    return tuple(p.strip() for p in text.split(",") if p.strip())


def selected_columns(only: tuple[str, ...]) -> np.ndarray:
    """(23,) bool mask of TABLE_AU_NAMES columns that ``only`` selects (all when empty).

    Raises:
        InputError: an entry that is neither a group nor an AU name.
    """
    if not only:
        return np.ones(len(TABLE_AU_NAMES), bool)
    names: set[str] = set()
    for item in only:
        key = item.strip()
        if key.lower() in AU_GROUPS:
            names.update(AU_GROUPS[key.lower()])
        elif key.upper() in TABLE_AU_NAMES:
            names.add(key.upper())
        else:
            raise InputError(f"unknown AU or group {item!r} in --only; use groups "
                             f"{', '.join(AU_GROUPS)} or AU names like {AU_NAMES[0]}, AU12_L")
    for au in SIDED_AUS:
        if au in names:
            names.update((f"{au}_L", f"{au}_R"))
    return np.array([n in names for n in TABLE_AU_NAMES], bool)


def transfer_aus(source: np.ndarray, driver: np.ndarray, *, neutral: np.ndarray | None = None,
                 config: TransferConfig = TransferConfig()) -> np.ndarray:
    """The source's target AUs for each driver frame.

    Args:
        source: (23,) the source face's own AUs, [0, 1].
        driver: (T, 23) the driver's (smoothed, gap-filled) AUs, [0, 1].
        neutral: (23,) the driver's resting face (``reenact.au.smoothing.neutral_baseline``);
            needed for relative mode.
        config: mode, strength, AU selection.

    Returns:
        (T, 23) float32 targets in [0, 1].

    Raises:
        InputError: wrong shapes, NaN rows in the driver, or relative mode without a neutral.
    """
    source = np.asarray(source, np.float32)
    driver = np.asarray(driver, np.float32)
    n = len(TABLE_AU_NAMES)
    if source.shape != (n,) or driver.ndim != 2 or driver.shape[1] != n:
        raise InputError(f"expected source ({n},) and driver (T, {n}) AUs, "
                         f"got {source.shape} and {driver.shape}")
    if np.isnan(driver).any():
        raise InputError("the driver's AU track has frames without values; apply a gap policy first")
    if config.mode == "relative":
        if neutral is None:
            raise InputError("relative transfer needs the driver's neutral baseline")
        change = driver - np.asarray(neutral, np.float32)[None]
    else:
        change = driver - source[None]
    target = source[None] + config.strength * change
    keep = ~selected_columns(config.only)
    target[:, keep] = source[keep]
    return sync_bilateral(np.clip(target, 0.0, 1.0))
