"""`reenact animate SOURCE SCRIPT OUT`: render an AU trajectory script on a photo.

Animate the face in SOURCE along SCRIPT: keyframes of Action Units or named presets (emotions,
blink, winks) with easing and layers, or an AU table (reenact aus / OpenFace / py-feat CSV). OUT
is an .mp4, or a folder that gets one PNG per frame. See docs/reenact.md and
pipelines/examples/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reenact.au.script import load_script
from reenact.commands import options
from reenact.device import pick_device
from reenact.errors import InputError, OutputError
from reenact.io.files import check_distinct, check_writable, check_writable_folder
from reenact.pipelines import AnimatePipeline


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", type=Path, help="photo of a face")
    p.add_argument("script", type=Path, help="AU script (.yaml/.yml/.json) or AU table (.csv)")
    p.add_argument("out", type=Path, help="output .mp4, or a new folder for PNG frames")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate for an AU table without timestamps (scripts set their own)")
    p.add_argument("--relative", action="store_true",
                   help="add the script's values to the source face's own AUs (default: use them as is)")
    options.add_render_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.fps is not None and args.fps <= 0:
        raise InputError(f"--fps must be > 0, got {args.fps}")
    config = options.render_config(args)
    frames_dir = args.out.suffix.lower() != ".mp4"
    _check_paths(args, frames_dir=frames_dir)
    script = load_script(args.script, fps=args.fps)
    device = pick_device(args.device)
    pipeline = AnimatePipeline.from_pretrained(args.weights, config, model=args.model).to(device)
    result = pipeline(args.source, script.values, script.fps, args.out, frames_dir=frames_dir,
                      progress=not args.quiet, relative=args.relative or script.relative)
    if not args.quiet:
        what = "PNG frames in" if frames_dir else "video"
        print(f"wrote {what} {args.out}")
        print(result.summary())
    return 0


def _check_paths(args: argparse.Namespace, *, frames_dir: bool) -> None:
    """OUT is none of the inputs and can be written, before any work."""
    check_distinct({"source photo": args.source, "script": args.script, "--weights": args.weights},
                   {"output": args.out})
    if not frames_dir:
        check_writable(args.out)
        return
    parent = args.out.parent if str(args.out.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"output folder {parent} does not exist; create it first")
    check_writable_folder(parent)
