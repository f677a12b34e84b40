"""The source face: a photo -> its selected face, aligned once, with its own AUs.

Every render starts here: the pipelines, the studio's slider path and the evaluation harness
all find the source face this way (the largest face, or the k-th from the left with
``face_index``, as ``--face-index`` counts), so a face is chosen and aligned the same everywhere.
"""

from __future__ import annotations

import numpy as np

from reenact.au.blendshapes import aus_from_face
from reenact.errors import NoFaceError
from reenact.face.align import align_face
from reenact.face.tracking import FaceTracker, refine_face, select_face
from reenact.model.editor import SourceFace


def find_source_face(image: np.ndarray, tracker: FaceTracker, *, face_index: int | None = None,
                     crop_size: int = 128) -> SourceFace:
    """Detect the faces of ``image``, select one (a small one read again on a crop around it,
    ``refine_face``), align it to the ``crop_size`` canonical crop.

    Args:
        image: (H, W, 3) uint8 RGB photo.
        tracker: an IMAGE-mode ``FaceTracker`` (entered).
        face_index: None for the largest face, k for the k-th from the left (0-based).
        crop_size: side of the model's aligned crop (``editor.crop_size``).

    Raises:
        NoFaceError: no face, or fewer faces than ``face_index`` + 1.
    """
    faces = tracker.detect_all(image)
    if not faces:
        raise NoFaceError("no face found in the source photo; use a photo with a clearly visible, "
                          "roughly frontal face")
    face = select_face(faces, face_index)
    if face is None:
        raise NoFaceError(f"the source photo shows {len(faces)} face(s); --face-index {face_index} does not "
                          f"exist (use 0..{len(faces) - 1}, counted from the left)")
    face = refine_face(image, face, tracker)  # a small face in a big photo: read again on a crop
    alignment = align_face(face.landmarks, crop_size)
    return SourceFace(image=image, face=face, alignment=alignment, aus=aus_from_face(face),
                      n_faces=len(faces))
