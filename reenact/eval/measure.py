"""Measuring rendered faces against their source: one ``SourceMeter`` per source face.

What is measured where:
- a square window around the source face (``MEASURE_ZOOM`` x its landmark box, the same pixels
  in every output, since the models edit the face in place): AUs re-read by MediaPipe, the dlib
  identity descriptor, and sharpness / colour / speckle inside the source's face oval eroded by
  ``MASK_ERODE`` of the face size (hair and background never count);
- dlib's 68 points (``reenact.eval.geometry``), searched near the source's dlib face: geometry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from reenact.au.blendshapes import aus_from_face
from reenact.au.space import TABLE_AU_NAMES
from reenact.errors import NoFaceError
from reenact.eval.geometry import DlibFace, FaceGeometry, FaceLandmarks68, face_geometry, square_window
from reenact.eval.identity import (
    box_from_landmarks,
    descriptor_box,
    identity_available,
    identity_distance,
    shared_describer,
)
from reenact.eval.image_metrics import FaceQuality, FaceQualityMeter
from reenact.face.paste import face_size, signed_distance
from reenact.face.tracking import FACE_OVAL, FaceObservation, FaceTracker, box_iou
from reenact.model.editor import SourceFace

#: Side of the measured window around the source face, in units of its landmark box.
MEASURE_ZOOM = 2.0
#: A dlib detection with at least this IoU with a MediaPipe face box is that face.
SAME_FACE_IOU = 0.3
#: The face mask of the pixel metrics is the face oval shrunk by this fraction of the face size.
MASK_ERODE = 0.04


def measure_aus(images: Sequence[np.ndarray], *, tracker: FaceTracker, upscale_below: int = 256,
                ) -> tuple[np.ndarray, list[FaceObservation | None]]:
    """Re-measure AUs on images with the project's extractor (IMAGE mode).

    Of several faces in an image, the one nearest the image centre is measured; images smaller
    than ``upscale_below`` are upscaled first (MediaPipe misses faces that fill a tiny image).
    Returns ((K, 23) with NaN rows where no face was found, the faces, in the given images'
    coordinates).
    """
    rows, faces = [], []
    for image in images:
        scale = 1.0
        if max(image.shape[:2]) < upscale_below:
            scale = upscale_below / max(image.shape[:2])
            size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
            image = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BICUBIC))
        face = _nearest_to_centre(tracker.detect_all(image), image.shape[:2])
        if face is not None and scale != 1.0:
            face = FaceObservation(landmarks=face.landmarks / scale, blendshapes=face.blendshapes,
                                   transform=face.transform, image_size=face.image_size)
        faces.append(face)
        missing = np.full(len(TABLE_AU_NAMES), np.nan, np.float32)
        rows.append(aus_from_face(face) if face is not None else missing)
    return np.stack(rows), faces


def _nearest_to_centre(faces: list[FaceObservation], size: tuple[int, int]) -> FaceObservation | None:
    if not faces:
        return None
    cy, cx = size[0] / 2, size[1] / 2
    return min(faces, key=lambda f: ((f.box[0] + f.box[2]) / 2 - cx) ** 2
               + ((f.box[1] + f.box[3]) / 2 - cy) ** 2)


class IdentityMeter:
    """Identity distances to a source (dlib's 128-D descriptor), or NaN when unavailable."""

    def __init__(self, enabled: bool = True):
        self.available = enabled and identity_available()
        self._describer = shared_describer() if self.available else None

    def descriptor(self, image: np.ndarray, face: FaceObservation | None) -> np.ndarray | None:
        """(128,) descriptor of the face in dlib's own detector box: the detection that overlaps
        the MediaPipe face most (IoU >= ``SAME_FACE_IOU``), else ``descriptor_box`` of its
        landmarks; no face: the face dlib is surest of.

        dlib's 5-point alignment expects its detector's boxes: in the top-trimmed landmark box
        used before, a 1 px shift of a group photo's face (multi_face.jpg #3) moved its identity
        distance to itself by 0.44, in dlib's box by 0.08.
        """
        if self._describer is None:
            return None
        box = None
        if face is not None:
            hint = descriptor_box(face.landmarks)
            found = [(box_iou(b, hint), b) for b in self._describer.detect(image)]
            best = max(found, default=(0.0, None))
            box = best[1] if best[0] >= SAME_FACE_IOU else hint
        try:
            return self._describer.describe(image, box)
        except NoFaceError:
            return None

    @staticmethod
    def distance(a: np.ndarray | None, b: np.ndarray | None) -> float:
        return identity_distance(a, b) if a is not None and b is not None else float("nan")


def face_mask(face: FaceObservation, offset: tuple[int, int], size: tuple[int, int], *,
              erode: float = MASK_ERODE) -> np.ndarray:
    """(h, w) bool: the face oval of ``face`` shrunk by ``erode`` x its size, in a window whose
    top-left corner is at ``offset`` (x, y) of the photo."""
    oval = face.landmarks[list(FACE_OVAL), :2].astype(np.float64) - np.asarray(offset, np.float64)
    return signed_distance(oval, size) > erode * face_size(face.landmarks)


@dataclass(frozen=True)
class GeometryReading:
    """dlib's reading of one image: its 68 points (None: nothing found) and their geometry."""

    face: DlibFace | None
    geometry: FaceGeometry | None

    @property
    def fallback(self) -> bool:
        """The points were placed in a hint box because dlib's detector found no face."""
        return self.face is not None and not self.face.detected


class SourceMeter:
    """A source face measured once, and each output measured against it.

    Args:
        source: the pipeline's ``SourceFace`` (photo and selected face).
        tracker: an IMAGE-mode ``FaceTracker`` (AUs of the source window).
        identity: the identity meter.
        landmarks: dlib's 68-point model, or None to skip geometry.
    """

    def __init__(self, source: SourceFace, *, tracker: FaceTracker, identity: IdentityMeter,
                 landmarks: FaceLandmarks68 | None):
        self.source = source
        self.identity = identity
        self.landmarks = landmarks
        window, left, top = square_window(source.image, source.face.box, MEASURE_ZOOM, pad="constant")
        self.source_window = window
        self.mask = face_mask(source.face, (left, top), window.shape[:2])
        self._quality = FaceQualityMeter(window, self.mask)
        aus, (face,) = measure_aus([window], tracker=tracker)
        self.source_aus = aus[0]
        self.source_descriptor = identity.descriptor(window, face)
        hint = box_from_landmarks(source.face.landmarks)  # where to look; dlib finds its own box
        self.source_reading = self.read_geometry(source.image, hint)

    def window(self, image: np.ndarray) -> np.ndarray:
        """The measured window of an output (same pixels as ``source_window``)."""
        return square_window(image, self.source.face.box, MEASURE_ZOOM, pad="constant")[0]

    def quality(self, window: np.ndarray) -> FaceQuality:
        """Sharpness, colour and speckle of an output window vs the source's, in the face mask."""
        return self._quality(window)

    def identity_distance(self, window: np.ndarray, face: FaceObservation | None) -> float:
        """dlib identity distance of an output window's face to the source's (NaN: unavailable)."""
        return self.identity.distance(self.source_descriptor, self.identity.descriptor(window, face))

    def read_geometry(self, image: np.ndarray, hint=None) -> GeometryReading:
        """dlib's 68 points and geometry of the face near ``hint`` (default: the source's dlib box)."""
        if self.landmarks is None:
            return GeometryReading(None, None)
        if hint is None:
            hint = self.source_reading.face.box if self.source_reading.face is not None else None
        face = self.landmarks.find(image, hint)
        return GeometryReading(face, face_geometry(face.points) if face is not None else None)
