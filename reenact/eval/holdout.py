"""The identities of ../shared/media/talking held out for evaluation: never train on them.

Self-reenactment on these clips is the development check of every model (``reenact eval
--self-reenact``); training code must skip them (``is_held_out``). An identity is
``<folder>/<file stem>`` (``mead/W011_front_angry_level3_001``), held out when it starts with one
of ``HELD_OUT_IDENTITIES``: whole speakers, never single clips.
"""

from __future__ import annotations

import os
from pathlib import Path

#: MEAD actor W011 (8 clips) and the styletalk speakers feifeili (3 clips) and reagan (1 clip).
HELD_OUT_IDENTITIES: tuple[str, ...] = ("mead/W011", "styletalk/feifeili", "styletalk/reagan")


def clip_identity(path: str | os.PathLike) -> str:
    """``<parent folder>/<file stem>`` of a clip, the key ``HELD_OUT_IDENTITIES`` is matched on."""
    path = Path(path)
    return f"{path.parent.name}/{path.stem}"


def is_held_out(path: str | os.PathLike) -> bool:
    """Whether a clip (or a frame file named after one) shows a held-out speaker."""
    key = clip_identity(path)
    return any(key.startswith(prefix) for prefix in HELD_OUT_IDENTITIES)


def held_out_clips(folder: str | os.PathLike) -> list[Path]:
    """The held-out .mp4 clips under ``folder`` (e.g. ../shared/media/talking), sorted."""
    return sorted(p for p in Path(folder).rglob("*.mp4") if is_held_out(p))
