"""Image reading: one convention for every still image reenact takes in.

Convention: an image is a numpy array (H, W, 3) uint8 RGB, EXIF orientation applied (the array
looks the way a photo viewer shows the file), grey images expanded to RGB, and transparency
composited on white.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from reenact.errors import ImageReadError

#: File suffixes (lower case) treated as images by ``list_images`` and the CLI.
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def is_image_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` has an image suffix (the file itself is not opened)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB.

    EXIF orientation is applied, grey and palette images become RGB, and an alpha channel is
    composited on a white background.

    Raises:
        ImageReadError: the file is missing, is a folder, or is not a readable image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"image {path} does not exist; check the path")
    if path.is_dir():
        raise ImageReadError(f"{path} is a folder, not an image; give an image file")
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            rgb = _to_rgb(img)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(
            f"{path} is not a readable image ({type(exc).__name__}); give a JPEG or PNG file"
        ) from exc
    return rgb


def _to_rgb(img) -> np.ndarray:
    """PIL image of any mode -> (H, W, 3) uint8 RGB, alpha composited on white."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, np.float32)
        scale = 255.0 / max(float(arr.max()), 1.0)
        img = Image.fromarray(np.clip(arr * scale, 0, 255).astype(np.uint8))
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), np.uint8))


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder`` (not recursive), sorted by name.

    Raises:
        ImageReadError: the folder does not exist or holds no image files.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageReadError(f"{folder} is not a folder; give a folder of images")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and is_image_path(p))
    if not paths:
        raise ImageReadError(
            f"folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)}); add some or give a file"
        )
    return paths
