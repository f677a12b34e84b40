"""Face photos -> aligned, AU-labelled 128x128 crops in compact shards with a JSON manifest.

Every face is cut with exactly the crop used at inference (``reenact.face.align.align_face`` +
``warp_to_crop``) and labelled with the project's AU extractor (``reenact.au.blendshapes.aus_from_face``) on
the detection in the (possibly upscaled) original photo, so training labels and inference AUs come
from the same measurement.

``prepare_dataset`` is the whole ``reenact prepare-data`` job: every photo of the input folders
detected, filtered (too dark, no face, too small, turned too far), cropped, labelled and written
by ``reenact.training.shards.ShardWriter`` (the data set's layout is described there).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from reenact.au.blendshapes import aus_from_face, interocular
from reenact.errors import ImageReadError, InputError, OutputError
from reenact.face.align import align_face, warp_to_crop
from reenact.face.tracking import FaceObservation, FaceTracker, TrackerConfig
from reenact.io.files import is_inside
from reenact.io.images import IMAGE_SUFFIXES, load_image
from reenact.training.shards import ShardWriter


@dataclass(frozen=True)
class PrepareConfig:
    """Options of ``reenact prepare-data``."""

    crop_size: int = 128  # side of the aligned crop (the generator's image_size)
    min_side: int = 256  # photos whose short side is smaller are upscaled before detection
    min_interocular: float = 16.0  # px in the (upscaled) photo; smaller faces are skipped
    max_yaw: float = 40.0  # degrees; more turned faces are skipped
    min_brightness: float = 15.0  # mean 0..255; darker photos (blank frames) are skipped
    held_out_fraction: float = 0.02  # identities held out for evaluation, besides ``held_out_prefixed``
    held_out_prefixed: int = 3  # identities held out from each data set with a performer-prefix key
    seed: int = 0


@dataclass(frozen=True)
class PreparedFace:
    """One aligned, labelled face: crop (S, S, 3) uint8 RGB; aus (23,) float32 in [0, 1]."""

    crop: np.ndarray
    aus: np.ndarray
    pose: tuple[float, float, float]


@dataclass(frozen=True)
class SourceFolder:
    """An input folder and how its file names map to identities.

    ``identity_chars`` > 0: the identity is the first that many characters of the file name
    (TFEID: performer = 2 characters); 0: every file is its own identity (its stem).
    """

    path: Path
    name: str
    identity_chars: int = 0

    def identity(self, file: Path) -> str:
        key = file.name[: self.identity_chars] if self.identity_chars else file.stem
        return f"{self.name}:{key}"


# Data sets whose file names start with a performer id (the identity key for the hold-out).
KNOWN_IDENTITY_PREFIX = {"tfeid": 2}


def source_folder(path: str | Path, identity_chars: int | None = None) -> SourceFolder:
    """Describe an input folder; identity_chars None: use the known rule for its name, else 0."""
    path = Path(path)
    name = path.name.lower() or "data"
    if identity_chars is None:
        identity_chars = KNOWN_IDENTITY_PREFIX.get(name, 0)
    return SourceFolder(path=path, name=name, identity_chars=identity_chars)


def upscale_small(image: np.ndarray, min_side: int) -> np.ndarray:
    """Bicubic upscale so the short side is at least ``min_side`` (small crops help MediaPipe)."""
    h, w = image.shape[:2]
    if min(h, w) >= min_side:
        return image
    s = min_side / min(h, w)
    size = (round(w * s), round(h * s))
    return np.asarray(Image.fromarray(image).resize(size, Image.BICUBIC))


def crop_face(image: np.ndarray, face: FaceObservation, crop_size: int) -> np.ndarray:
    """The canonical aligned crop (S, S, 3) uint8 of ``face`` in ``image`` (H, W, 3) uint8."""
    alignment = align_face(face.landmarks, crop_size)
    frame = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1)[None].float()  # (1, 3, H, W)
    m = torch.from_numpy(alignment.frame_to_crop)[None].float()  # (1, 2, 3)
    crop = warp_to_crop(frame, m, crop_size)[0]  # (3, S, S) in 0..255
    return crop.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def skip_reason(image: np.ndarray, face: FaceObservation | None, config: PrepareConfig) -> str | None:
    """Why a photo gives no usable training face, or None when it does."""
    if float(image.mean()) < config.min_brightness:
        return "too dark (blank frame)"
    if face is None:
        return "no face found"
    if float(interocular(face.landmarks)) < config.min_interocular:
        return "face too small"
    if abs(face.pose[0]) > config.max_yaw:
        return "face turned too far"
    return None


def prepare_face(image: np.ndarray, face: FaceObservation, config: PrepareConfig) -> PreparedFace:
    """Crop and label one detected face (``image`` is the photo the face was detected in)."""
    return PreparedFace(crop=crop_face(image, face, config.crop_size),
                        aus=aus_from_face(face).astype(np.float32), pose=face.pose)


#: (the photo's input folder, the photo): one photo to prepare.
PhotoJob = tuple[SourceFolder, Path]


def list_photos(folder: Path) -> list[Path]:
    """Every image file under ``folder`` (recursively), sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def photo_jobs(folders: Sequence[str | os.PathLike], out: str | os.PathLike, *, max_per_dir: int = 0,
               seed: int = 0) -> list[PhotoJob]:
    """The photos to prepare from each folder (at most ``max_per_dir`` each, chosen at random).

    Raises:
        InputError: a folder does not exist, or no photos at all. OutputError: the data set
            folder ``out`` holds an input folder.
    """
    jobs: list[PhotoJob] = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise InputError(f"{folder} is not a folder; give folders of face photos")
        if is_inside(folder, out):
            raise OutputError(f"the data set folder {out} holds the photo folder {folder}; give -o a "
                              "new folder outside the photos")
        photos = list_photos(folder)
        if max_per_dir and len(photos) > max_per_dir:
            photos = sorted(random.Random(seed).sample(photos, max_per_dir))
        src = source_folder(folder)
        jobs += [(src, p) for p in photos]
    if not jobs:
        names = ", ".join(map(str, folders))
        raise InputError(f"no photos found under {names}; give folders of JPEG/PNG faces")
    return jobs


def check_new_folder(out: str | os.PathLike) -> Path:
    """A data set goes into a new or empty folder.

    Raises:
        OutputError: ``out`` exists and is not empty.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise OutputError(f"{out} exists and is not empty; choose a new data set folder")
    return out


def prepare_dataset(jobs: Sequence[PhotoJob], out: str | os.PathLike, config: PrepareConfig = PrepareConfig(),
                    *, jpeg_quality: int = 0, progress: Callable[[int], None] | None = None) -> dict:
    """Detect, filter, crop and label every photo of ``jobs`` into a new data set folder ``out``.

    Args:
        jobs: the photos (``photo_jobs``).
        out: the data set folder: new, or empty (created).
        config: detection limits, crop size, hold-out.
        jpeg_quality: 0 for raw uint8 shards, else JPEG-packed shards at this quality.
        progress: called with 1 after each photo.

    Returns:
        The manifest written (``reenact.training.shards``): n, shards, samples, skipped ...

    Raises:
        OutputError: ``out`` exists and is not empty.
    """
    out = check_new_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    writer = ShardWriter(out, config, jpeg_quality=jpeg_quality)
    with FaceTracker(TrackerConfig()) as tracker:  # the largest of up to 4 faces
        for src, path in jobs:
            _prepare_photo(tracker, writer, src, path, config)
            if progress is not None:
                progress(1)
    return writer.finish()


def _prepare_photo(tracker: FaceTracker, writer: ShardWriter, src: SourceFolder, path: Path,
                   config: PrepareConfig) -> None:
    """One photo: its face added to ``writer``, or why it was skipped."""
    try:
        image = load_image(path)
    except ImageReadError:
        writer.skip("unreadable image")
        return
    image = upscale_small(image, config.min_side)
    face = tracker.detect(image) if image.mean() >= config.min_brightness else None
    reason = skip_reason(image, face, config)
    if reason:
        writer.skip(reason)
        return
    writer.add(prepare_face(image, face, config), file=str(path.relative_to(src.path)), dataset=src.name,
               identity=src.identity(path), chars=src.identity_chars)
