"""The Action Unit space used everywhere in reenact.

Conventions (written once, here):
- Intensities are floats in [0, 1]. OpenFace's AU*_r scale 0..5 maps to ours by dividing by 5.
- "Left" and "right" are the SUBJECT's own left and right (as FACS and ARKit use them), not the
  image's: in an unmirrored photo the subject's left eye is on the image's right.
- The 17 GANimation AUs are bilateral values. For the AUs that can be one-sided (``SIDED_AUS``)
  we also keep a left and a right value; the bilateral value is their mean.
- The generator's conditioning vector (``COND_NAMES``, 20 values) is the 17 AUs with each sided
  AU replaced by its left and right value: a wink is AU45_L=1, AU45_R=0; a half smile is
  AU12_L>0, AU12_R=0. A horizontal flip of the image swaps each _L/_R pair (``flip_cond``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

AU_NAMES: tuple[str, ...] = (
    "AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12",
    "AU14", "AU15", "AU17", "AU20", "AU23", "AU25", "AU26", "AU45",
)
AU_DESCRIPTIONS: dict[str, str] = {
    "AU01": "inner brow raiser", "AU02": "outer brow raiser", "AU04": "brow lowerer",
    "AU05": "upper lid raiser", "AU06": "cheek raiser", "AU07": "lid tightener",
    "AU09": "nose wrinkler", "AU10": "upper lip raiser", "AU12": "lip corner puller",
    "AU14": "dimpler", "AU15": "lip corner depressor", "AU17": "chin raiser",
    "AU20": "lip stretcher", "AU23": "lip tightener", "AU25": "lips part",
    "AU26": "jaw drop", "AU45": "blink",
}
SIDED_AUS: tuple[str, ...] = ("AU12", "AU14", "AU45")
SIDE_NAMES: tuple[str, ...] = tuple(f"{au}_{s}" for au in SIDED_AUS for s in ("L", "R"))
#: Columns of an AU table: the 17 bilateral AUs, then the left/right pairs.
TABLE_AU_NAMES: tuple[str, ...] = AU_NAMES + SIDE_NAMES
#: The generator's conditioning layout (20 values): bilateral AUs, sided AUs split in two.
COND_NAMES: tuple[str, ...] = tuple(
    n for au in AU_NAMES for n in ((f"{au}_L", f"{au}_R") if au in SIDED_AUS else (au,))
)
COND_DIM = len(COND_NAMES)

# Ekman/Friesen prototypes (Du et al. 2014) as in ganimation.md; AU16 of disgust is not in the
# 17-AU set, so disgust uses 9+10+15. Values are the full-intensity targets; presets scale them.
EMOTION_PROTOTYPES: dict[str, dict[str, float]] = {
    "happy": {"AU06": 0.8, "AU12": 1.0, "AU25": 0.4},
    "sad": {"AU01": 0.8, "AU04": 0.7, "AU15": 0.8},
    "surprise": {"AU01": 0.9, "AU02": 0.9, "AU05": 0.8, "AU25": 0.9, "AU26": 0.9},
    "fear": {"AU01": 0.8, "AU02": 0.6, "AU04": 0.6, "AU05": 0.8, "AU07": 0.5, "AU20": 0.8,
             "AU25": 0.7, "AU26": 0.6},
    "anger": {"AU04": 1.0, "AU05": 0.5, "AU07": 0.8, "AU23": 0.8},
    "disgust": {"AU09": 0.9, "AU10": 0.8, "AU15": 0.5},
    "contempt": {"AU12_L": 0.8, "AU14_L": 0.8},
}
GESTURES: dict[str, dict[str, float]] = {
    "wink_left": {"AU45_L": 1.0},
    "wink_right": {"AU45_R": 1.0},
    "blink": {"AU45": 1.0},
    "half_smile_left": {"AU12_L": 0.9},
    "half_smile_right": {"AU12_R": 0.9},
    "neutral": {},
}
PRESETS: dict[str, dict[str, float]] = {**EMOTION_PROTOTYPES, **GESTURES}


def _sided_pairs() -> list[tuple[int, int, int]]:
    """(bilateral index, left index, right index) in TABLE_AU_NAMES for each sided AU."""
    idx = {n: i for i, n in enumerate(TABLE_AU_NAMES)}
    return [(idx[au], idx[f"{au}_L"], idx[f"{au}_R"]) for au in SIDED_AUS]


def table_from_values(values: Mapping[str, float]) -> np.ndarray:
    """Build one AU-table row (len(TABLE_AU_NAMES),) from named values.

    Bilateral names set both sides; ``AU12_L`` style names set one side. The bilateral value of
    a sided AU is then recomputed as the mean of its sides.

    Raises:
        KeyError: for a name that is not an AU of reenact's AU space.
    """
    row = np.zeros(len(TABLE_AU_NAMES), np.float32)
    idx = {n: i for i, n in enumerate(TABLE_AU_NAMES)}
    for name, value in values.items():
        if name not in idx:
            raise KeyError(f"unknown AU {name!r}; known: {', '.join(TABLE_AU_NAMES)}")
        if name in SIDED_AUS:
            row[idx[f"{name}_L"]] = value
            row[idx[f"{name}_R"]] = value
        row[idx[name]] = value
    return sync_bilateral(row[None])[0]


def sync_bilateral(table: np.ndarray) -> np.ndarray:
    """Set each sided AU's bilateral column to the mean of its sides. table: (N, 23)."""
    out = np.array(table, np.float32, copy=True)
    for b, left, right in _sided_pairs():
        out[:, b] = 0.5 * (out[:, left] + out[:, right])
    return out


def preset(name: str, intensity: float = 1.0) -> np.ndarray:
    """AU-table row (23,) for a named preset (emotion prototype or gesture) at an intensity."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return table_from_values({k: v * intensity for k, v in PRESETS[name].items()})


def table_to_cond(table: np.ndarray) -> np.ndarray:
    """AU table rows (N, 23) -> conditioning vectors (N, 20), both in [0, 1]."""
    idx = {n: i for i, n in enumerate(TABLE_AU_NAMES)}
    return np.ascontiguousarray(np.asarray(table, np.float32)[:, [idx[n] for n in COND_NAMES]])


def cond_to_table(cond: np.ndarray) -> np.ndarray:
    """Conditioning vectors (N, 20) -> AU table rows (N, 23) (bilateral = mean of sides)."""
    cond = np.asarray(cond, np.float32)
    table = np.zeros((cond.shape[0], len(TABLE_AU_NAMES)), np.float32)
    idx = {n: i for i, n in enumerate(TABLE_AU_NAMES)}
    for j, n in enumerate(COND_NAMES):
        table[:, idx[n]] = cond[:, j]
    return sync_bilateral(table)


def flip_permutation(names: Sequence[str]) -> list[int]:
    """Index permutation that swaps every ``*_L`` column with its ``*_R`` partner."""
    pos = {n: i for i, n in enumerate(names)}
    perm = []
    for n in names:
        if n.endswith("_L"):
            perm.append(pos[n[:-2] + "_R"])
        elif n.endswith("_R"):
            perm.append(pos[n[:-2] + "_L"])
        else:
            perm.append(pos[n])
    return perm


COND_FLIP = flip_permutation(COND_NAMES)
TABLE_FLIP = flip_permutation(TABLE_AU_NAMES)


def flip_cond(cond: np.ndarray) -> np.ndarray:
    """Conditioning vectors (..., 20) of the horizontally flipped face (left and right swapped)."""
    return np.asarray(cond)[..., COND_FLIP]
