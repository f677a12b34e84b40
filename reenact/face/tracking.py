"""Face tracking with MediaPipe FaceLandmarker (478 landmarks, 52 blendshapes, face transform).

Conventions:
- Images are RGB uint8 numpy arrays (H, W, 3).
- Landmarks are in PIXELS of the image they came from: (478, 3) float32 with x right, y down;
  z is MediaPipe's relative depth scaled by the image width.
- Pose angles are degrees: yaw (turn, + = subject looks to the image's left), pitch (nod),
  roll (tilt), read from the 4x4 face transform.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from reenact.errors import InputError, WeightsError
from reenact.face import mp_results
from reenact.weights import fetch

# Index sets into the 478-point mesh (MediaPipe topology).
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67,
             109)


@dataclass(frozen=True)
class TrackerConfig:
    """Options of the face tracker."""

    max_faces: int = 4  # faces detected per image; the selection picks one of them
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    face_index: int | None = None  # None: the largest face; k: the k-th face from the left


@dataclass(frozen=True)
class FaceObservation:
    """One face in one image.

    Attributes:
        landmarks: (478, 3) float32, pixels (x, y) and scaled depth z.
        blendshapes: (52,) float32 in [0, 1], MediaPipe order (``BLENDSHAPE_NAMES``).
        transform: (4, 4) float32 face transform (canonical face -> camera).
        image_size: (h, w) of the image the face was found in.
    """

    landmarks: np.ndarray
    blendshapes: np.ndarray
    transform: np.ndarray
    image_size: tuple[int, int]

    @property
    def box(self) -> tuple[float, float, float, float]:
        """Landmark bounding box (x0, y0, x1, y1) in pixels."""
        xy = self.landmarks[:, :2]
        return (float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()),
                float(xy[:, 1].max()))

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return (x1 - x0) * (y1 - y0)

    @property
    def pose(self) -> tuple[float, float, float]:
        """(yaw, pitch, roll) in degrees."""
        return pose_from_transform(self.transform)


@dataclass(frozen=True)
class FaceTrack:
    """The selected face in each frame of a clip (None where no face was found)."""

    faces: tuple[FaceObservation | None, ...]
    fps: float
    image_size: tuple[int, int]
    blendshape_names: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.faces)

    @property
    def found(self) -> np.ndarray:
        """(T,) bool: whether a face was found in each frame."""
        return np.array([f is not None for f in self.faces], bool)


BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft",
    "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight",
    "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft",
    "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen",
    "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower",
    "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)


def pose_from_transform(transform: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from a 4x4 face transform (rotation part, Y-X-Z order)."""
    r = np.asarray(transform, np.float64)[:3, :3]
    scale = np.linalg.norm(r[:, 0])
    r = r / max(scale, 1e-9)
    pitch = np.degrees(np.arcsin(np.clip(-r[1, 2], -1.0, 1.0)))
    yaw = np.degrees(np.arctan2(r[0, 2], r[2, 2]))
    roll = np.degrees(np.arctan2(r[1, 0], r[1, 1]))
    return float(yaw), float(pitch), float(roll)


def select_face(faces: list[FaceObservation], face_index: int | None) -> FaceObservation | None:
    """Pick the largest face (face_index None) or the face_index-th from the image's left."""
    if not faces:
        return None
    if face_index is None:
        return max(faces, key=lambda f: f.area)
    ordered = sorted(faces, key=lambda f: f.box[0])
    if face_index >= len(ordered):
        return None
    return ordered[face_index]


# A face whose box is under this share of the photo's long side is read again on a crop: about
# 20 px of MediaPipe's 128 px view of the photo (the astronaut's face, 0.21 of its photo, reads well)
SMALL_FACE = 1 / 6


def refine_face(image: np.ndarray, face: FaceObservation, tracker: FaceTracker, *, zoom: float = 2.0,
                side: int = 512, small: float = SMALL_FACE) -> FaceObservation:
    """``face`` re-read by MediaPipe on a crop around it, when it is small in ``image``.

    MediaPipe frames a face from a 128 px view of the whole image; in a group photo a face a
    tenth of the photo wide comes out badly framed and its blendshapes wrong (a wide smile read
    as AU15 1.0 and AU12 0). On a square crop of ``zoom`` x the face's box, scaled to ``side``
    pixels, the same face reads right (its box moved by a fifth of its size here). Landmarks are
    mapped back to ``image`` pixels. Of the crop's faces, the one whose centre is nearest the
    original's and inside its box is taken; when there is none, the original is kept.
    """
    h, w = image.shape[:2]
    x0, y0, x1, y1 = face.box
    long_side = max(x1 - x0, y1 - y0)
    if long_side >= small * max(h, w):
        return face
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, zoom * long_side / 2
    left, top = int(max(0, round(cx - half))), int(max(0, round(cy - half)))
    right, bottom = int(min(w, round(cx + half))), int(min(h, round(cy + half)))
    scale = side / max(right - left, bottom - top)
    crop = Image.fromarray(np.ascontiguousarray(image[top:bottom, left:right]))
    crop = np.asarray(crop.resize((round((right - left) * scale), round((bottom - top) * scale)),
                                  Image.Resampling.BICUBIC))
    best = None
    for found in tracker.detect_all(crop):
        lm = found.landmarks / np.float32(scale) + np.array([left, top, 0], np.float32)
        candidate = FaceObservation(landmarks=lm.astype(np.float32), blendshapes=found.blendshapes,
                                    transform=found.transform, image_size=(h, w))
        a, b, c, d = candidate.box
        mx, my = (a + c) / 2, (b + d) / 2
        off = (mx - cx) ** 2 + (my - cy) ** 2
        if x0 <= mx <= x1 and y0 <= my <= y1 and (best is None or off < best[0]):
            best = (off, candidate)
    return best[1] if best is not None else face


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


_QUIET_LOCK = threading.Lock()
_QUIET: dict = {"depth": 0, "saved": -1, "devnull": -1}  # one redirect shared by every thread


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence C++ log lines (MediaPipe/absl, TFLite) written to fd 2 while the block runs.

    MediaPipe prints several warnings when a landmarker is created and on its first inference;
    they would bury the CLI's one-line messages. Set REENACT_VERBOSE=1 to see them. fd 2 belongs
    to the process, so blocks in several threads (trackers starting at once) share one redirect:
    the first to enter silences it, the last to leave restores it (two blocks that each saved and
    restored fd 2 themselves could restore the silenced one, and the process lost its stderr).
    """
    if os.environ.get("REENACT_VERBOSE"):
        yield
        return
    with _QUIET_LOCK:
        if _QUIET["depth"] == 0:
            try:
                sys.stderr.flush()
                saved = os.dup(2)
            except (OSError, ValueError):  # no real fd 2 (e.g. some notebooks): nothing to silence
                saved = -1
            if saved >= 0:
                _QUIET["saved"], _QUIET["devnull"] = saved, os.open(os.devnull, os.O_WRONLY)
                os.dup2(_QUIET["devnull"], 2)
        _QUIET["depth"] += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _QUIET["depth"] -= 1
            if _QUIET["depth"] == 0 and _QUIET["saved"] >= 0:
                os.dup2(_QUIET["saved"], 2)
                os.close(_QUIET["saved"])
                os.close(_QUIET["devnull"])
                _QUIET["saved"] = _QUIET["devnull"] = -1


class FaceTracker:
    """MediaPipe FaceLandmarker in IMAGE mode (``detect``) or VIDEO mode (``track``).

    Use as a context manager, or call ``close()``: MediaPipe otherwise complains at exit.
    """

    def __init__(self, config: TrackerConfig = TrackerConfig(), *, model_path: Path | None = None,
                 video: bool = False):
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError as exc:  # pragma: no cover - mediapipe is a core dependency
            raise WeightsError(f"mediapipe is not installed ({exc}); run `make setup`") from exc
        if model_path is None:
            model_path = fetch("face_landmarker")
        self.config = config
        self.video = video
        self._mp = mp
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path)),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_faces=config.max_faces,
            min_face_detection_confidence=config.min_detection_confidence,
            min_face_presence_confidence=config.min_presence_confidence,
            min_tracking_confidence=config.min_tracking_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        with quiet_native_stderr():
            self._landmarker = vision.FaceLandmarker.create_from_options(options)
        self._last_ts = -1
        self._warm = False

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def _first_call_quiet(self):
        """MediaPipe logs on its first inference too: silence that call only."""
        if self._warm:
            return contextlib.nullcontext()
        self._warm = True
        return quiet_native_stderr()

    def _faces(self, method: str, image: np.ndarray, *args) -> list[FaceObservation]:
        """The faces MediaPipe finds in ``image`` (``mp_results.detect``), landmarks in pixels."""
        h, w = image.shape[:2]
        mp_image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=image)
        with self._first_call_quiet():
            found = mp_results.detect(self._landmarker, method, mp_image, *args)
        scale = np.array([w, h, w], np.float32)
        return [FaceObservation(landmarks=points * scale, blendshapes=scores, transform=transform,
                                image_size=(h, w)) for points, scores, transform in found]

    def detect_all(self, image: np.ndarray) -> list[FaceObservation]:
        """All faces in one RGB uint8 image (IMAGE mode)."""
        if self.video:
            raise InputError("this tracker is in video mode; use track() or a new FaceTracker")
        return self._faces("detect", _check_image(image))

    def detect(self, image: np.ndarray) -> FaceObservation | None:
        """The selected face (largest, or ``config.face_index``) in one image, or None."""
        return select_face(self.detect_all(image), self.config.face_index)

    def track(self, frame: np.ndarray, timestamp_ms: int) -> FaceObservation | None:
        """The selected face in the next frame of a clip (VIDEO mode; timestamps must rise)."""
        if not self.video:
            raise InputError("this tracker is in image mode; create it with video=True")
        frame = _check_image(frame)
        ts = max(int(timestamp_ms), self._last_ts + 1)
        self._last_ts = ts
        return select_face(self._faces("detect_for_video", frame, ts), self.config.face_index)

    def track_frames(self, frames: Iterable[np.ndarray], fps: float) -> Iterator[FaceObservation | None]:
        """Track the selected face through consecutive frames."""
        for i, frame in enumerate(frames):
            yield self.track(frame, round(i * 1000.0 / fps))


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, 'shape', type(image))
        raise InputError(f"expected an RGB image of shape (H, W, 3), got {shape}")
    if image.dtype != np.uint8:
        raise InputError(f"expected a uint8 image, got {image.dtype}")
    return np.ascontiguousarray(image)
