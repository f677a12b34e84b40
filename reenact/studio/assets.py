"""What the studio page shows and downloads: the AU sliders' layout, presets, bundled examples,
PNG encoding of edits, and AU values as our CSV or a YAML keyframe script."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import cv2
import numpy as np
import yaml
from PIL import Image

from reenact.au.script import build_script, parse_text
from reenact.au.space import (
    AU_DESCRIPTIONS,
    COND_NAMES,
    EMOTION_PROTOTYPES,
    GESTURES,
    SIDED_AUS,
    TABLE_AU_NAMES,
    table_from_values,
)
from reenact.au.tables import write_au_table
from reenact.au.track import AUTrack
from reenact.io.images import load_image, max_pixels
from reenact.render.transfer import AU_GROUPS
from reenact.studio.errors import NotFoundError
from reenact.weights import WEIGHTS_DIR, cache_dir, fetch, load_manifest

#: The sliders by face region (FACS's own grouping of the 17 AUs).
SLIDER_GROUPS: dict[str, tuple[str, ...]] = {
    "brows": ("AU01", "AU02", "AU04"),
    "eyes": ("AU05", "AU07", "AU45"),
    "cheeks": ("AU06",),
    "nose": ("AU09",),
    "mouth": ("AU10", "AU12", "AU14", "AU15", "AU20", "AU23", "AU25"),
    "jaw": ("AU17", "AU26"),
}
#: Bundled example photos: name -> registered media file ("astronaut": scikit-image's, public domain).
EXAMPLE_PHOTOS: dict[str, str] = {
    "astronaut": "skimage:astronaut",
    "single_face": "media/single_face.jpg",
    "multi_face": "media/multi_face.jpg",
    "black_and_white": "media/BWPictureHuman.jpg",
}
EXAMPLE_VIDEOS: dict[str, str] = {
    "single_face": "media/single_face.mp4",
    "talking": "media/WolfgangLanger_Pexels.mp4",
}
SCRIPT_HEADER = ("# reenact AU script, made in reenact studio: absolute AU values of one face.\n"
                 "# Render it with: reenact animate PHOTO script.yaml OUT.mp4 (see docs/reenact.md)\n")


def page_info(model: str, max_photo_bytes: int, max_video_bytes: int) -> dict:
    """The page's layout and choices (``GET /api/info``)."""
    presets = {name: _cond(values) for name, values in {**EMOTION_PROTOTYPES, **GESTURES}.items()}
    groups = [{"name": g, "aus": [{"name": au, "description": AU_DESCRIPTIONS[au], "sided": au in SIDED_AUS}
                                  for au in aus]} for g, aus in SLIDER_GROUPS.items()]
    return {
        "model": model,
        "groups": groups,
        "cond_names": list(COND_NAMES),
        "emotions": list(EMOTION_PROTOTYPES), "gestures": [g for g in GESTURES if g != "neutral"],
        "presets": presets,
        "transfer_groups": list(AU_GROUPS),
        "examples": {"photos": [n for n in EXAMPLE_PHOTOS if _available(EXAMPLE_PHOTOS[n])],
                     "videos": [n for n in EXAMPLE_VIDEOS if _available(EXAMPLE_VIDEOS[n])]},
        "limits": {"photo_bytes": max_photo_bytes, "video_bytes": max_video_bytes, "pixels": max_pixels()},
    }


def _cond(values: dict[str, float]) -> dict[str, float]:
    """A preset's values as slider values (sided AUs split into _L/_R), the nonzero ones."""
    row = table_from_values(values)
    return {n: float(row[TABLE_AU_NAMES.index(n)]) for n in COND_NAMES if row[TABLE_AU_NAMES.index(n)] > 0}


def _available(entry: str) -> bool:
    """Whether an example is on this machine (never fetched just to list it)."""
    if entry.startswith("skimage:"):

        return importlib.util.find_spec("skimage") is not None

    item = load_manifest().get(entry)
    return item is not None and any((d / item.file).is_file() for d in (WEIGHTS_DIR, cache_dir()))


def example_photo(name: str) -> np.ndarray:
    """(H, W, 3) uint8 of a bundled example photo. Raises NotFoundError for an unknown name."""
    entry = EXAMPLE_PHOTOS.get(name)
    if entry is None or not _available(entry):
        raise NotFoundError(f"no example photo {name!r} here; upload a photo instead")
    if entry == "skimage:astronaut":
        from skimage import data

        return np.ascontiguousarray(data.astronaut())

    return load_image(fetch(entry, quiet=True))


def example_video(name: str) -> Path:
    entry = EXAMPLE_VIDEOS.get(name)
    if entry is None or not _available(entry):
        raise NotFoundError(f"no example video {name!r} here; upload a video instead")

    return fetch(entry, quiet=True)


def scaled(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` resized by ``scale`` (area filter; the image itself when scale is 1)."""
    if scale >= 1.0:
        return image

    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def png_bytes(image: np.ndarray, *, fast: bool = False) -> bytes:
    """PNG of an (H, W, 3) uint8 image (zlib level 1 when ``fast``: the slider path)."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=1 if fast else 6)
    return buf.getvalue()


def save_png(image: np.ndarray, path: Path, *, fast: bool = False) -> Path:
    path.write_bytes(png_bytes(image, fast=fast))
    return path


def region_png(region: np.ndarray, box: tuple[int, int, int, int], scale: float
               ) -> tuple[bytes, tuple[int, int, int, int]]:
    """An edited box at display scale: (PNG bytes, (x0, y0, x1, y1) in display pixels)."""
    if scale < 1.0:
        x0, y0, x1, y1 = (round(v * scale) for v in box)
        x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
        region = cv2.resize(region, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        box = (x0, y0, x1, y1)
    return png_bytes(region, fast=True), tuple(box)


def write_target_csv(target: np.ndarray, pose: tuple[float, float, float], path: Path) -> Path:
    """One AU row as our AU table (``reenact aus``'s CSV; ``reenact animate`` reads it)."""
    track = AUTrack(values=np.asarray(target, np.float32)[None], found=np.ones(1, bool),
                    pose=np.asarray([pose], np.float32), fps=25.0)
    return write_au_table(track, path)


def script_yaml(keys: list[dict], *, fps: float, duration: float | None = None) -> str:
    """A YAML keyframe script (``reenact.au.script``) of keyframes {t, aus: (23,) row, ease}."""
    frames = []
    for key in keys:
        row = np.asarray(key["aus"], np.float32)
        aus = {n: round(float(row[TABLE_AU_NAMES.index(n)]), 4) for n in COND_NAMES}
        frame = {"t": round(float(key["t"]), 4), "aus": aus}
        if key.get("ease", "linear") != "linear":
            frame["ease"] = key["ease"]
        frames.append(frame)
    data = {"fps": float(fps)} | ({"duration": round(duration, 4)} if duration is not None else {})
    data["keyframes"] = frames
    return SCRIPT_HEADER + yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=200)


def parse_script(text: str):
    """The ``AUScript`` of a script's text (``reenact.au.script``'s checks: ScriptError on a bad field)."""
    data, where = parse_text(text, Path("script.yaml"))
    return build_script(data, where, Path("script.yaml"))

