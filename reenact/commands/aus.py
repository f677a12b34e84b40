"""`reenact aus INPUT -o OUT.csv [--plot OUT.png]`: per-frame Action Units of a video, image or folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reenact.commands.run import add_max_pixels_option
from reenact.errors import InputError


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "aus", help="per-frame Action Units of a video, an image or a folder of images",
        description="Track the face in a video (or in each image) and write its Action Unit "
                    "intensities, head pose and face-found flag as a CSV, one row per frame "
                    "(or image), optionally with a plot of the trajectories. See docs/aus.md.",
    )
    p.add_argument("input", type=Path, help="a video file, an image, or a folder of images")
    p.add_argument("-o", "--output", type=Path, required=True, help="output CSV file")
    p.add_argument("--plot", type=Path, default=None, help="also write a plot of the AUs (.png/.svg/.pdf)")
    p.add_argument("--smooth", choices=("savgol", "one_euro", "none"), default="savgol",
                   help="temporal filter: savgol (zero-phase, default), one_euro (causal), none")
    p.add_argument("--gaps", choices=("interpolate", "hold", "missing"), default="interpolate",
                   help="frames without a face: interpolate short gaps (default), hold the last "
                        "value, or leave them empty")
    p.add_argument("--max-gap", type=float, default=0.5, metavar="SECONDS",
                   help="longest gap that --gaps interpolate bridges (default 0.5 s)")
    p.add_argument("--face-index", type=int, default=None, metavar="K",
                   help="track the K-th face from the image's left (0-based) instead of the largest")
    p.add_argument("--openface", action="store_true",
                   help="write the CSV in OpenFace's convention (AU*_r on 0..5, no left/right)")
    p.add_argument("--backend", choices=("mediapipe", "pyfeat"), default="mediapipe",
                   help="AU estimator: mediapipe (default, offline) or pyfeat (optional: needs "
                        "py-feat and its Hugging Face weights; AUs are probabilities)")
    p.add_argument("--raw", action="store_true", help="write unsmoothed values (same as --smooth none)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_max_pixels_option(p)
    p.set_defaults(func=run)
    return p


def _config(args: argparse.Namespace):
    from reenact.au.extract import ExtractConfig
    from reenact.au.smoothing import SmoothingConfig
    from reenact.face.tracking import TrackerConfig

    if args.face_index is not None and args.face_index < 0:
        raise InputError(f"--face-index must be >= 0, got {args.face_index}")
    if args.max_gap < 0:
        raise InputError(f"--max-gap must be >= 0 seconds, got {args.max_gap}")
    if args.backend != "mediapipe" and args.face_index is not None:
        raise InputError("--face-index works with the mediapipe backend only")
    return ExtractConfig(
        backend=args.backend,
        tracker=TrackerConfig(face_index=args.face_index),
        smoothing=SmoothingConfig(method="none" if args.raw else args.smooth, gaps=args.gaps,
                                  max_gap_s=args.max_gap),
    )


def _total(path: Path) -> int | None:
    from reenact.io.images import is_image_path, list_images
    from reenact.io.video import probe_video

    if path.is_dir():
        return len(list_images(path))
    if is_image_path(path):
        return 1
    return probe_video(path).n_frames


def _check_paths(args: argparse.Namespace) -> None:
    """Fail on bad outputs and missing inputs before any long work."""
    from reenact.au.plot import check_plot_path
    from reenact.io.files import check_distinct, check_writable
    from reenact.io.images import list_images

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
    from tqdm import tqdm

    from reenact.au.extract import extract_aus
    from reenact.au.plot import save_au_plot
    from reenact.au.tables import write_au_table

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
