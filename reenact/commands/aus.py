"""`reenact aus INPUT -o OUT.csv [--plot OUT.png]`: per-frame Action Units of a video, image or folder.

Track the face in a video (or in each image) and write its Action Unit intensities, head pose and
face-found flag as a CSV, one row per frame (or image), optionally with a plot of the
trajectories. See docs/aus.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from reenact.au.extract import AU_BACKENDS, ExtractConfig, extract_aus
from reenact.au.plot import check_plot_path, save_au_plot
from reenact.au.tables import write_au_table
from reenact.commands import options
from reenact.errors import InputError
from reenact.face.tracking import TrackerConfig
from reenact.io.files import check_distinct, check_writable
from reenact.io.images import is_image_path, list_images
from reenact.io.video import probe_video


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", type=Path, help="a video file, an image, or a folder of images")
    p.add_argument("-o", "--output", type=Path, required=True, help="output CSV file")
    p.add_argument("--plot", type=Path, default=None, help="also write a plot of the AUs (.png/.svg/.pdf)")
    options.add_smoothing_options(p)
    options.config_option(p, "--face-index", TrackerConfig, "face_index", type=int, metavar="K",
                          help="track the K-th face from the image's left (0-based) instead of the largest")
    p.add_argument("--openface", action="store_true",
                   help="write the CSV in OpenFace's convention (AU*_r on 0..5, no left/right)")
    options.config_option(p, "--backend", ExtractConfig, "backend", choices=AU_BACKENDS,
                          help="AU estimator: mediapipe (offline) or pyfeat (optional: needs py-feat and its"
                               " Hugging Face weights; AUs are probabilities) (default %(default)s)")
    p.add_argument("--raw", action="store_true", help="write unsmoothed values (same as --smooth none)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    options.add_max_pixels_option(p)
    p.set_defaults(func=run)


def _config(args: argparse.Namespace) -> ExtractConfig:
    options.check_index("face-index", args.face_index)
    smoothing = options.smoothing_config(args, method="none" if args.raw else None)
    if args.backend != "mediapipe" and args.face_index is not None:
        raise InputError("--face-index works with the mediapipe backend only")
    return ExtractConfig(backend=args.backend, tracker=TrackerConfig(face_index=args.face_index),
                         smoothing=smoothing)


def _total(path: Path) -> int | None:
    if path.is_dir():
        return len(list_images(path))
    if is_image_path(path):
        return 1
    return probe_video(path).n_frames


def _check_paths(args: argparse.Namespace) -> None:
    """Fail on bad outputs and missing inputs before any long work."""
    if not args.input.exists():
        raise InputError(f"input {args.input} does not exist; check the path")
    inputs = list_images(args.input) if args.input.is_dir() else [args.input]
    check_distinct({"input": inputs}, {"-o": args.output, "--plot": args.plot})
    if args.plot is not None:
        check_plot_path(args.plot)
    check_writable(args.output)
    if args.plot is not None:
        check_writable(args.plot)


def _warn_skipped(skipped, total: int) -> None:
    for _, why in skipped:
        print(f"reenact: warning: skipped an unreadable image: {why}", file=sys.stderr)
    if skipped:
        print(f"reenact: warning: {len(skipped)} of {total} images skipped (unreadable)", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    config = _config(args)
    _check_paths(args)
    total = _total(args.input)
    with tqdm(total=total, unit="frame", desc=f"aus {args.input.name}", disable=args.quiet,
              dynamic_ncols=True) as bar:
        result = extract_aus(args.input, config, progress=bar.update)
    _warn_skipped(result.skipped, total)
    if args.plot is not None:
        save_au_plot(result.track, args.plot, raw=result.raw if config.smoothing.method != "none" else None,
                     title=args.input.name)
    try:
        write_au_table(result.track, args.output, openface=args.openface)
    except BaseException:
        if args.plot is not None:  # keep outputs all-or-nothing
            args.plot.unlink(missing_ok=True)
        raise
    found = int(result.raw.found.sum())
    if not args.quiet:
        skipped = f", {len(result.skipped)} unreadable images skipped" if result.skipped else ""
        print(f"wrote {args.output} ({len(result.track)} rows, face in {found}{skipped})"
              + (f" and {args.plot}" if args.plot is not None else ""))
    return 0
