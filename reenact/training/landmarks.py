"""Landmark data for fitting the AU rig: tracked talking clips and detected photos.

Every face becomes a row: its 478 MediaPipe landmarks in the pixels of the image it was found in,
its AUs (``reenact.au.blendshapes``, ``TABLE_AU_NAMES``), its head pose, and a ``group``: rows of one group
show the same person (one clip, or one performer of a posed set) and may be paired with each
other; group -1 marks unrelated photos (one identity each, never paired).

``collect_landmarks`` runs over clips and photo folders and returns a ``LandmarkSet``; ``save`` /
``load`` keep it as one .npz (no pixels are stored, only measurements).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reenact.au.blendshapes import aus_from_face
from reenact.errors import ReenactError
from reenact.face.tracking import FaceObservation, FaceTracker, TrackerConfig
from reenact.io.images import list_images, load_image
from reenact.io.video import iter_frames, probe_video
from reenact.training.prepare import upscale_small

ProgressFn = Callable[[int], None]


@dataclass(frozen=True, eq=False)
class LandmarkSet:
    """Measured faces (N rows).

    Attributes:
        landmarks: (N, 478, 3) float32, pixels of the (possibly upscaled) image.
        aus: (N, 23) float32 in [0, 1], ``TABLE_AU_NAMES`` order.
        pose: (N, 3) float32 yaw, pitch, roll in degrees.
        group: (N,) int32; rows with the same group >= 0 show the same person; -1: unrelated.
        frame: (N,) int32 frame index within a clip (0 for photos).
        group_names: name of each group (clip stem, or dataset:performer).
        files: (N,) source file of each row (clip or photo path).
    """

    landmarks: np.ndarray
    aus: np.ndarray
    pose: np.ndarray
    group: np.ndarray
    frame: np.ndarray
    group_names: tuple[str, ...]
    files: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.group)

    def save(self, path: str | Path) -> None:
        np.savez_compressed(path, landmarks=self.landmarks, aus=self.aus, pose=self.pose,
                            group=self.group, frame=self.frame, group_names=np.array(self.group_names),
                            files=np.array(self.files))

    @classmethod
    def load(cls, path: str | Path) -> LandmarkSet:
        with np.load(path) as z:
            return cls(landmarks=z["landmarks"], aus=z["aus"], pose=z["pose"], group=z["group"],
                       frame=z["frame"], group_names=tuple(str(x) for x in z["group_names"]),
                       files=tuple(str(x) for x in z["files"]))

    @classmethod
    def concat(cls, parts: Sequence[LandmarkSet]) -> LandmarkSet:
        """One set from several, group ids renumbered so they stay distinct."""
        names: list[str] = []
        groups = []
        for part in parts:
            g = part.group.copy()
            g[g >= 0] += len(names)
            groups.append(g)
            names += part.group_names
        cat = np.concatenate
        return cls(landmarks=cat([p.landmarks for p in parts]), aus=cat([p.aus for p in parts]),
                   pose=cat([p.pose for p in parts]), group=cat(groups).astype(np.int32),
                   frame=cat([p.frame for p in parts]).astype(np.int32), group_names=tuple(names),
                   files=tuple(f for p in parts for f in p.files))


def _rows(faces: Iterable[tuple[FaceObservation, int, int, str]], names: Sequence[str]) -> LandmarkSet:
    lms, aus, pose, group, frame, files = [], [], [], [], [], []
    for face, g, k, file in faces:
        lms.append(face.landmarks)
        aus.append(aus_from_face(face))
        pose.append(face.pose)
        group.append(g)
        frame.append(k)
        files.append(file)
    n = len(lms)
    return LandmarkSet(
        landmarks=np.asarray(lms, np.float32).reshape(n, 478, 3),
        aus=np.asarray(aus, np.float32).reshape(n, -1),
        pose=np.asarray(pose, np.float32).reshape(n, 3), group=np.asarray(group, np.int32),
        frame=np.asarray(frame, np.int32), group_names=tuple(names), files=tuple(files))


def track_clips(clips: Sequence[str | Path], *, every: int = 1, max_frames: int | None = None,
                progress: ProgressFn | None = None) -> LandmarkSet:
    """Track the largest face through each clip (VIDEO mode); one group per clip.

    Args:
        every: keep every k-th frame (tracking still sees every frame).
        max_frames: frames read from the start of each clip.
    """
    def faces():
        for g, clip in enumerate(clips):
            info = probe_video(clip)
            with FaceTracker(TrackerConfig(max_faces=1), video=True) as tracker:
                k = 0
                for chunk in iter_frames(clip, info=info):
                    for frame in chunk:
                        if max_frames is not None and k >= max_frames:
                            break
                        face = tracker.track(frame, round(k * 1000.0 / info.fps))
                        if face is not None and k % every == 0:
                            yield face, g, k, str(clip)
                        k += 1
            if progress is not None:
                progress(1)

    return _rows(faces(), [Path(c).stem for c in clips])


def detect_photos(paths: Sequence[str | Path], *, groups: Sequence[int] | None = None,
                  group_names: Sequence[str] = (), min_side: int = 256, max_yaw: float = 40.0,
                  progress: ProgressFn | None = None) -> LandmarkSet:
    """Detect the largest face in each photo (IMAGE mode, small photos upscaled first).

    Args:
        groups: group id per photo (same person = same id); None: every photo unrelated (-1).
        max_yaw: more turned faces are skipped.
    """
    groups = list(groups) if groups is not None else [-1] * len(paths)

    def faces():
        with FaceTracker(TrackerConfig(max_faces=1)) as tracker:
            for path, g in zip(paths, groups, strict=True):
                try:
                    image = upscale_small(load_image(path), min_side)
                except ReenactError:  # a broken photo in a data set is skipped
                    continue
                face = tracker.detect(image)
                if face is not None and abs(face.pose[0]) <= max_yaw:
                    yield face, g, 0, str(path)
                if progress is not None:
                    progress(1)

    return _rows(faces(), group_names)


def tfeid_groups(folder: str | Path) -> tuple[list[Path], list[int], list[str]]:
    """TFEID photos with one group per performer (the first two characters of the name)."""
    paths = list_images(folder)
    performers = sorted({p.name[:2] for p in paths})
    index = {k: i for i, k in enumerate(performers)}
    return paths, [index[p.name[:2]] for p in paths], [f"tfeid:{k}" for k in performers]
