"""`reenact prepare-data DIR [DIR ...] -o DATASET`: face photos -> aligned, AU-labelled shards.

Detect the face in every photo under each DIR (recursively), cut the canonical aligned crop used
at inference, label it with reenact's AU extractor and write shards, a manifest (with held-out
identities) and an AU histogram into DATASET.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from reenact.commands import options
from reenact.errors import InputError
from reenact.training.prepare import PrepareConfig, check_new_folder, photo_jobs, prepare_dataset
from reenact.training.shards import repack_jpeg


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dirs", nargs="*", type=Path, metavar="DIR", help="folders of face photos")
    p.add_argument("-o", "--out", type=Path, required=True, metavar="DATASET", help="output folder")
    p.add_argument("--max-per-dir", type=int, default=0,
                   help="use at most this many photos per DIR, chosen at random (0: all)")
    options.config_option(p, "--crop-size", PrepareConfig, "crop_size",
                          help="side of the aligned crop in pixels (default %(default)s)")
    options.config_option(p, "--seed", PrepareConfig, "seed", help="seed of the subset and of the hold-out")
    p.add_argument("--jpeg", type=int, default=0, metavar="QUALITY",
                   help="store the crops as JPEG at this quality (~4 KB a face) instead of raw uint8")
    p.add_argument("--repack", type=Path, metavar="DATASET",
                   help="copy a prepared DATASET to -o with JPEG shards (--jpeg quality, default 92)")
    options.add_max_pixels_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.repack:
        return _repack(args)
    if not args.dirs:
        raise InputError("give folders of face photos (or --repack DATASET)")
    config = PrepareConfig(crop_size=args.crop_size, seed=args.seed)
    jobs = photo_jobs(args.dirs, args.out, max_per_dir=args.max_per_dir, seed=args.seed)
    check_new_folder(args.out)  # before the progress bar
    with tqdm(total=len(jobs), desc="prepare-data", unit="img", smoothing=0.05) as bar:
        manifest = prepare_dataset(jobs, args.out, config, jpeg_quality=args.jpeg, progress=bar.update)
    n_held = sum(s["held_out"] for s in manifest["samples"])
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(manifest["skipped"].items())) or "none"
    print(f"{manifest['n']} faces from {len(jobs)} photos into {args.out} "
          f"({', '.join(f'{k}: {v}' for k, v in manifest['datasets'].items())}); "
          f"{n_held} faces of {len(manifest['held_out_identities'])} identities held out; skipped: {skipped}")
    return 0 if manifest["n"] else 1


def _repack(args: argparse.Namespace) -> int:
    check_new_folder(args.out)
    packed = repack_jpeg(args.repack, args.out, quality=args.jpeg or 92)
    size = sum((args.out / n).stat().st_size for n in packed["shards"]) / 1e6
    print(f"{packed['n']} faces of {args.repack} repacked as JPEG into {args.out} ({size:.1f} MB)")
    return 0
