"""``AUTrack``: the per-frame Action Units of one face through a clip or a list of images.

Values follow ``reenact.au.space.TABLE_AU_NAMES`` (23 values in [0, 1], subject's left/right);
frames without a face are NaN until a gap policy (``reenact.au.smoothing``) fills them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from reenact.au.space import TABLE_AU_NAMES
from reenact.errors import InputError


@dataclass(frozen=True, eq=False)
class AUTrack:
    """Per-frame AU intensities of one face through a clip (or through a list of images).

    Attributes:
        values: (T, len(names)) float32 in [0, 1], columns in ``names`` order
            (``TABLE_AU_NAMES``: 17 bilateral AUs, then AU12/AU14/AU45 left and right, subject's
            sides). Rows are NaN where no face was found, until a gap policy fills them
            (``reenact.au.smoothing``).
        found: (T,) bool, whether the tracker found the face in each frame (a gap policy
            fills values but never changes ``found``).
        pose: (T, 3) float32 head pose in degrees (yaw, pitch, roll); NaN where no face.
        fps: frames per second of the clip; 0.0 for a list of unrelated images.
        names: column names of ``values``.
        sources: for a list of images, the file of each row; empty for a clip.
        landmarks: (T, 478, 3) float32 pixel landmarks (NaN where no face) when the extraction
            was asked to keep them (landmark motion transfer), else None (~5.7 KB a frame).
        lids: (T, 2) float32 each eye's opening (``blendshapes.lid_apertures``: subject's right,
            left; NaN where no face), or None (a track made without them).
    """

    values: np.ndarray
    found: np.ndarray
    pose: np.ndarray
    fps: float
    names: tuple[str, ...] = TABLE_AU_NAMES
    sources: tuple[str, ...] = ()
    landmarks: np.ndarray | None = None
    lids: np.ndarray | None = None

    def __post_init__(self) -> None:
        t = len(self.found)
        if self.values.shape != (t, len(self.names)):
            raise InputError(f"AUTrack values must be (T={t}, {len(self.names)}), got {self.values.shape}")
        if self.pose.shape != (t, 3):
            raise InputError(f"AUTrack pose must be (T={t}, 3), got {self.pose.shape}")
        if self.sources and len(self.sources) != t:
            raise InputError(f"AUTrack has {t} rows but {len(self.sources)} sources")
        if self.fps < 0:
            raise InputError(f"AUTrack fps must be >= 0, got {self.fps}")
        if self.landmarks is not None and self.landmarks.shape[:1] != (t,):
            raise InputError(f"AUTrack landmarks must have T={t} rows, got {self.landmarks.shape}")
        if self.lids is not None and self.lids.shape != (t, 2):
            raise InputError(f"AUTrack lids must be (T={t}, 2), got {self.lids.shape}")

    def __len__(self) -> int:
        return len(self.found)

    @property
    def timestamps(self) -> np.ndarray:
        """(T,) float64 seconds of each frame (frame / fps); NaN for unrelated images (fps 0)."""
        if self.fps <= 0:
            return np.full(len(self), np.nan)
        return np.arange(len(self)) / self.fps

    @property
    def missing(self) -> np.ndarray:
        """(T,) bool: rows whose values are not known (NaN), i.e. not filled by a gap policy."""
        return np.isnan(self.values).any(axis=1)

    def column(self, name: str) -> np.ndarray:
        """(T,) values of one AU column, e.g. ``track.column("AU12_L")``."""
        if name not in self.names:
            raise KeyError(f"unknown AU column {name!r}; known: {', '.join(self.names)}")
        return self.values[:, self.names.index(name)]

    @classmethod
    def concatenate(cls, tracks: list[AUTrack]) -> AUTrack:
        """One track of consecutive parts of a clip (the same fps and columns), in order."""
        first = tracks[0]
        if any(t.fps != first.fps or t.names != first.names for t in tracks):
            raise InputError("AUTrack parts must have the same fps and columns")
        landmarks = None
        if all(t.landmarks is not None for t in tracks):
            landmarks = np.concatenate([t.landmarks for t in tracks])
        lids = np.concatenate([t.lids for t in tracks]) if all(t.lids is not None for t in tracks) else None
        return cls(values=np.concatenate([t.values for t in tracks]),
                   found=np.concatenate([t.found for t in tracks]),
                   pose=np.concatenate([t.pose for t in tracks]), fps=first.fps, names=first.names,
                   sources=sum((t.sources for t in tracks), ()), landmarks=landmarks, lids=lids)

    def replace(self, **changes) -> AUTrack:
        """A copy with some fields replaced (the track itself is immutable)."""
        return dataclasses.replace(self, **changes)
