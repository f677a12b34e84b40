"""MediaPipe FaceLandmarker results read straight into numpy.

mediapipe 1.2's Python API turns every result into Python objects, one ``NormalizedLandmark``
dataclass per point (478 a face) and one ``Category`` per blendshape, which the tracker then
turns back into arrays. Measured here on a 512x512 clip: tracking took 10.4-10.6 ms of CPU a
frame that way and 9.4-9.7 ms reading the arrays directly, most of it Python holding the GIL. ``detect``
below makes the same C call as ``FaceLandmarker.detect`` / ``detect_for_video`` (through the
landmarker's own serial dispatcher, so errors are raised the same way) and reads the C result
with ``np.ctypeslib``; where the landmarker lacks the private parts this relies on (another
mediapipe release), it takes the public call and converts its objects instead.

A face is ``(points (478, 3) float32 normalised x, y, z; blendshape scores (52,) float32;
transform (4, 4) float32)``, in MediaPipe's order.
"""

from __future__ import annotations

import ctypes

import numpy as np

Face = tuple[np.ndarray, np.ndarray, np.ndarray]

try:  # the C result struct of mediapipe 1.2 (pinned in pyproject.toml)
    from mediapipe.tasks.python.vision.face_landmarker import MpFaceLandmarkerResultC
except ImportError:  # pragma: no cover - another mediapipe layout: the public API only
    MpFaceLandmarkerResultC = None

_C_CALLS = {"detect": "MpFaceLandmarkerDetectImage", "detect_for_video": "MpFaceLandmarkerDetectForVideo"}


def detect(landmarker, method: str, image, *args) -> list[Face]:
    """The faces of ``landmarker.<method>(image, *args)`` ("detect", or "detect_for_video" with
    its timestamp) as arrays."""
    lib, handle = getattr(landmarker, "_lib", None), getattr(landmarker, "_handle", None)
    pointer = getattr(image, "_image_ptr", None)
    if MpFaceLandmarkerResultC is None or lib is None or handle is None or pointer is None:
        return from_objects(getattr(landmarker, method)(image, *args))
    result = MpFaceLandmarkerResultC()
    getattr(lib, _C_CALLS[method])(handle, pointer, None, *args, ctypes.byref(result))
    try:
        return from_c(result)
    finally:
        lib.MpFaceLandmarkerCloseResult(ctypes.byref(result))


def from_c(result) -> list[Face]:
    """Copies of the arrays in a ``MpFaceLandmarkerResultC`` (valid until it is closed)."""
    faces = []
    for i in range(result.face_landmarks_count):
        marks = result.face_landmarks[i]
        rows = _float_fields(marks.landmarks, marks.landmarks_count, ("x", "y", "z"))
        points = np.stack([rows["x"], rows["y"], rows["z"]], 1)
        scores = np.zeros(0, np.float32)
        if i < result.face_blendshapes_count:
            cats = result.face_blendshapes[i]
            scores = _float_fields(cats.categories, cats.categories_count, ("score",))["score"]
        transform = np.zeros((0,), np.float32)
        if i < result.facial_transformation_matrixes_count:
            m = result.facial_transformation_matrixes[i]
            if m.data and m.rows and m.cols:  # column-major in C
                transform = np.ctypeslib.as_array(m.data, shape=(m.cols, m.rows)).T
        faces.append((points, np.array(scores, np.float32), np.array(transform, np.float32)))
    return faces


def _float_fields(pointer, count: int, names: tuple[str, ...]) -> np.ndarray:
    """A numpy view of the float32 fields ``names`` of a C array of ``count`` structs (the
    structs also hold strings, which numpy cannot view, so only these fields are mapped)."""
    struct = pointer._type_
    offsets = [getattr(struct, n).offset for n in names]
    dtype = np.dtype({"names": list(names), "formats": [np.float32] * len(names), "offsets": offsets,
                      "itemsize": ctypes.sizeof(struct)})
    if count == 0 or not pointer:
        return np.zeros(0, dtype)
    buffer = (ctypes.c_char * (count * dtype.itemsize)).from_address(ctypes.addressof(pointer.contents))
    return np.frombuffer(buffer, dtype)


def from_objects(result) -> list[Face]:
    """The same arrays from the public ``FaceLandmarkerResult``."""
    faces = []
    for i, marks in enumerate(result.face_landmarks):
        points = np.array([(p.x, p.y, p.z) for p in marks], np.float32)
        scores = (np.array([c.score for c in result.face_blendshapes[i]], np.float32)
                  if i < len(result.face_blendshapes) else np.zeros(0, np.float32))
        transform = (np.asarray(result.facial_transformation_matrixes[i], np.float32)
                     if i < len(result.facial_transformation_matrixes) else np.zeros((0,), np.float32))
        faces.append((points, scores, transform))
    return faces
