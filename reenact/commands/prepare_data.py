"""`reenact prepare-data DIR [DIR ...] -o DATASET`: face photos -> aligned, AU-labelled shards."""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from reenact.commands.run import add_max_pixels_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare-data", help="detect, align and AU-label the faces of photo folders into a training set",
        description="Detect the face in every photo under each DIR (recursively), cut the canonical "
                    "aligned crop used at inference, label it with reenact's AU extractor and write "
                    "shards, a manifest (with held-out identities) and an AU histogram into DATASET.")
    p.add_argument("dirs", nargs="*", type=Path, metavar="DIR", help="folders of face photos")
    p.add_argument("-o", "--out", type=Path, required=True, metavar="DATASET", help="output folder")
    p.add_argument("--max-per-dir", type=int, default=0,
                   help="use at most this many photos per DIR, chosen at random (0: all)")
    p.add_argument("--crop-size", type=int, default=128, help="side of the aligned crop in pixels")
    p.add_argument("--seed", type=int, default=0, help="seed of the subset and of the hold-out")
    p.add_argument("--jpeg", type=int, default=0, metavar="QUALITY",
                   help="store the crops as JPEG at this quality (~4 KB a face) instead of raw uint8")
    p.add_argument("--repack", type=Path, metavar="DATASET",
                   help="copy a prepared DATASET to -o with JPEG shards (--jpeg quality, default 92)")
    add_max_pixels_option(p)
    p.set_defaults(func=run)


def _list_photos(folder: Path) -> list[Path]:
    from reenact.io.images import IMAGE_SUFFIXES

    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _list_jobs(args: argparse.Namespace) -> list:
    """(source folder, photo) for every photo to prepare, each DIR checked."""
    from reenact.errors import InputError, OutputError
    from reenact.io.files import is_inside
    from reenact.training.prepare import source_folder

    jobs = []
    for folder in args.dirs:
        if not folder.is_dir():
            raise InputError(f"{folder} is not a folder; give folders of face photos")
        if is_inside(folder, args.out):
            raise OutputError(f"the data set folder {args.out} holds the photo folder {folder}; give -o a "
                              "new folder outside the photos")
        src = source_folder(folder)
        photos = _list_photos(folder)
        if args.max_per_dir and len(photos) > args.max_per_dir:
            photos = sorted(random.Random(args.seed).sample(photos, args.max_per_dir))
        jobs += [(src, p) for p in photos]
    if not jobs:
        dirs = ", ".join(map(str, args.dirs))
        raise InputError(f"no photos found under {dirs}; give folders of JPEG/PNG faces")
    return jobs


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from reenact.errors import ImageReadError, InputError, OutputError
    from reenact.face.tracking import FaceTracker, TrackerConfig
    from reenact.io.images import load_image
    from reenact.training.prepare import (
        PrepareConfig,
        ShardWriter,
        prepare_face,
        skip_reason,
        upscale_small,
    )

    if args.repack:
        from reenact.training.prepare import repack_jpeg

        if args.out.exists() and any(args.out.iterdir()):
            raise OutputError(f"{args.out} exists and is not empty; choose a new data set folder")
        packed = repack_jpeg(args.repack, args.out, quality=args.jpeg or 92)
        size = sum((args.out / n).stat().st_size for n in packed["shards"]) / 1e6
        print(f"{packed['n']} faces of {args.repack} repacked as JPEG into {args.out} ({size:.1f} MB)")
        return 0
    if not args.dirs:
        raise InputError("give folders of face photos (or --repack DATASET)")
    config = PrepareConfig(crop_size=args.crop_size, seed=args.seed)
    jobs = _list_jobs(args)
    if args.out.exists() and any(args.out.iterdir()):
        raise OutputError(f"{args.out} exists and is not empty; choose a new data set folder")
    args.out.mkdir(parents=True, exist_ok=True)

    writer = ShardWriter(args.out, config, jpeg_quality=args.jpeg)
    with FaceTracker(TrackerConfig()) as tracker:  # the largest of up to 4 faces
        for src, path in tqdm(jobs, desc="prepare-data", unit="img", smoothing=0.05):
            try:
                image = load_image(path)
            except ImageReadError:
                writer.skip("unreadable image")
                continue
            image = upscale_small(image, config.min_side)
            face = tracker.detect(image) if image.mean() >= config.min_brightness else None
            reason = skip_reason(image, face, config)
            if reason:
                writer.skip(reason)
                continue
            writer.add(prepare_face(image, face, config), file=str(path.relative_to(src.path)),
                       dataset=src.name, identity=src.identity(path), chars=src.identity_chars)
    manifest = writer.finish()
    n_held = sum(s["held_out"] for s in manifest["samples"])
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(manifest["skipped"].items())) or "none"
    print(f"{manifest['n']} faces from {len(jobs)} photos into {args.out} "
          f"({', '.join(f'{k}: {v}' for k, v in manifest['datasets'].items())}); "
          f"{n_held} faces of {len(manifest['held_out_identities'])} identities held out; skipped: {skipped}")
    return 0 if manifest["n"] else 1
