"""Image reading: one convention for every still image reenact takes in.

Convention: an image is a numpy array (H, W, 3) uint8 RGB, EXIF orientation applied (the array
looks the way a photo viewer shows the file), grey images expanded to RGB, and transparency
composited on white.

Size limit: an image of more than ``max_pixels()`` pixels (default ``DEFAULT_MAX_PIXELS``, 50
megapixels, about 4 bytes a pixel while decoding) is refused with one line before it is decoded.
Raise it with the CLI's ``--max-pixels N``, ``set_max_pixels(N)`` or the environment variable
``REENACT_MAX_PIXELS``. PIL's own decompression-bomb limit is lifted to match when it is lower.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from reenact.errors import ImageReadError

#: File suffixes (lower case) treated as images by ``list_images`` and the CLI.
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
#: Largest image read by default, in pixels (width x height): 50 megapixels.
DEFAULT_MAX_PIXELS = 50_000_000
#: Environment variable that raises (or lowers) the limit, e.g. REENACT_MAX_PIXELS=200000000.
MAX_PIXELS_ENV = "REENACT_MAX_PIXELS"
_max_pixels: list[int | None] = [None]  # set_max_pixels (the CLI's --max-pixels) wins over the env


def set_max_pixels(n: int | None) -> None:
    """Set the pixel limit of ``load_image`` for this process (None: back to env/default).

    Raises:
        ImageReadError: n < 1.
    """
    if n is not None and n < 1:
        raise ImageReadError(f"--max-pixels must be >= 1, got {n}")
    _max_pixels[0] = n


def max_pixels() -> int:
    """The pixel limit: ``set_max_pixels``, else $REENACT_MAX_PIXELS, else ``DEFAULT_MAX_PIXELS``.

    Raises:
        ImageReadError: the environment variable is not a positive integer.
    """
    if _max_pixels[0] is not None:
        return _max_pixels[0]
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(float(text))
    except ValueError:
        value = 0
    if value < 1:
        raise ImageReadError(f"{MAX_PIXELS_ENV}={text!r} is not a positive number of pixels; fix or unset it")
    return value


def _too_large(path: Path, pixels: int, limit: int) -> ImageReadError:
    return ImageReadError(
        f"{path} has {pixels / 1e6:.3g} megapixels, over the limit of {limit / 1e6:.3g}; shrink it, or raise "
        f"the limit with --max-pixels N (or {MAX_PIXELS_ENV}=N)")


def is_image_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` has an image suffix (the file itself is not opened)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB.

    EXIF orientation is applied, grey and palette images become RGB, and an alpha channel is
    composited on a white background.

    Raises:
        ImageReadError: the file is missing, is a folder, is not a readable image, or has more
            pixels than ``max_pixels()``.
    """
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"image {path} does not exist; check the path")
    if path.is_dir():
        raise ImageReadError(f"{path} is a folder, not an image; give an image file")
    limit = max_pixels()
    if Image.MAX_IMAGE_PIXELS is not None and limit > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = limit  # the user asked for more than PIL's bomb guard allows
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our limit decides
            with Image.open(path) as img:
                if img.width * img.height > limit:
                    raise _too_large(path, img.width * img.height, limit)
                img = ImageOps.exif_transpose(img)
                rgb = _to_rgb(img)
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise _too_large(path, int(found.group(1)) if found else limit + 1, limit) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(
            f"{path} is not a readable image ({type(exc).__name__}); give a JPEG or PNG file"
        ) from exc
    return rgb


def _to_rgb(img) -> np.ndarray:
    """PIL image of any mode -> (H, W, 3) uint8 RGB, alpha composited on white."""
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
