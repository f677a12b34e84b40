"""`reenact animate SOURCE SCRIPT OUT`: render an AU trajectory script on a photo."""

from __future__ import annotations

import argparse
from pathlib import Path

from reenact.commands.reenact_video import (
    add_common_options,
    common_config,
    pick_device,
    sigterm_as_interrupt,
    summary,
)
from reenact.errors import InputError


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "animate", help="render an AU script (YAML/JSON keyframes, or an AU table) on a photo",
        description="Animate the face in SOURCE along SCRIPT: keyframes of Action Units or named "
                    "presets (emotions, blink, winks) with easing and layers, or an AU table "
                    "(reenact aus / OpenFace / py-feat CSV). OUT is an .mp4, or a folder that gets "
                    "one PNG per frame. See docs/reenact.md and pipelines/examples/.",
    )
    p.add_argument("source", type=Path, help="photo of a face")
    p.add_argument("script", type=Path, help="AU script (.yaml/.yml/.json) or AU table (.csv)")
    p.add_argument("out", type=Path, help="output .mp4, or a new folder for PNG frames")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate for an AU table without timestamps (scripts set their own)")
    p.add_argument("--relative", action="store_true",
                   help="add the script's values to the source face's own AUs (default: use them as is)")
    add_common_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    with sigterm_as_interrupt():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from reenact.pipeline import PipelineConfig, ReenactPipeline
    from reenact.script import load_script

    if args.fps is not None and args.fps <= 0:
        raise InputError(f"--fps must be > 0, got {args.fps}")
    config = PipelineConfig(**common_config(args))
    frames_dir = args.out.suffix.lower() != ".mp4"
    script = load_script(args.script, fps=args.fps)
    pipeline = ReenactPipeline.from_pretrained(args.weights, config, model=args.model)
    pipeline = pipeline.to(pick_device(args.device))
    result = pipeline.animate(args.source, script.values, script.fps, args.out, frames_dir=frames_dir,
                              progress=not args.quiet, relative=args.relative or script.relative)
    if not args.quiet:
        what = "PNG frames in" if frames_dir else "video"
        print(f"wrote {what} {args.out}")
        print(summary(result))
    return 0
