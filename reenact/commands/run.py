"""`reenact SOURCE DRIVER OUT` (= `reenact run ...`): reenact a photo with a driving video.

Make the face in SOURCE perform the expressions of the face in DRIVER, frame by frame, pasted back
into the full photo; write OUT (mp4, the driver's frame rate, length and audio). See
docs/reenact.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reenact.au.lids import LID_READINGS
from reenact.commands import options
from reenact.device import pick_device
from reenact.errors import InputError
from reenact.io.images import is_image_path
from reenact.pipelines import PipelineConfig, ReenactPipeline
from reenact.pipelines.base import MOTIONS
from reenact.render.transfer import MODES, REFERENCES, TransferConfig, parse_only


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", type=Path, help="photo of a face (jpg/png/webp ...)")
    p.add_argument("driver", type=Path, help="driving video with a face")
    p.add_argument("out", type=Path, help="output video (.mp4)")
    options.config_option(p, "--mode", TransferConfig, "mode", choices=MODES,
                          help="relative: the source's own AUs + the driver's change from its neutral face; "
                               "absolute: copy the driver's AU values (default %(default)s)")
    options.config_option(p, "--strength", TransferConfig, "strength",
                          help="multiplier of the transferred expression (default %(default)s)")
    options.config_option(p, "--reference", TransferConfig, "reference", choices=REFERENCES,
                          help="relative mode: the driver's change is measured from its calmest frames "
                               "(neutral) or from its first frame (first: when the photo shows that "
                               "expression) (default %(default)s)")
    options.config_option(p, "--rig-gain", TransferConfig, "rig_gain",
                          help="warp-guided models: the share (0-1, a power) of the AU rig's read-back "
                               "calibration gains the driver's AUs move the face by; 1 moves it as far "
                               "as a scripted request, 0 as far as real faces moved per unit of the "
                               "reading (default %(default)s)")
    options.config_option(p, "--motion", PipelineConfig, "motion", choices=MOTIONS,
                          help="warp-guided models: move the face by the rig of the transferred AUs (aus), "
                               "or by the driver's own pose-free landmark motion (landmarks: keeps speech "
                               "lip shapes) (default %(default)s)")
    options.config_option(p, "--lids", PipelineConfig, "lids", choices=LID_READINGS,
                          help="the driver's blinks: read from its lids' geometry against its own open "
                               "eyes (geometry: two lowered lids stay two lowered lids) or from "
                               "MediaPipe's blink scores (blendshapes) (default %(default)s)")
    p.add_argument("--only", default=None, metavar="LIST",
                   help="transfer only these AU groups/AUs, comma-separated: brows, eyes, mouth, nose, "
                        "cheeks, or names like AU12,AU45_L (default: all)")
    options.add_smoothing_options(p)
    options.config_option(p, "--driver-face-index", PipelineConfig, "driver_face_index", type=int,
                          metavar="K", help="follow the K-th face of the driver from the left; default: the "
                                            "largest")
    p.add_argument("--preview", nargs="?", const="", default=None, metavar="PATH",
                   help="also write a side-by-side video (driver | output); default path OUT.preview.mp4")
    p.add_argument("--plot", nargs="?", const="", default=None, metavar="PATH",
                   help="also write the plot of the driver's AUs; default path OUT.aus.png")
    options.config_option(p, "--max-frames", PipelineConfig, "max_frames", type=int, metavar="N",
                          help="render only the first N frames of the driver (audio cut to match)")
    options.add_render_options(p)
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    """The ``PipelineConfig`` of a `reenact SOURCE DRIVER OUT` command line (checked)."""
    options.check_index("driver-face-index", args.driver_face_index)
    if args.max_frames is not None and args.max_frames < 1:
        raise InputError(f"--max-frames must be >= 1, got {args.max_frames}")
    transfer = TransferConfig(mode=args.mode, strength=args.strength, only=parse_only(args.only),
                              reference=args.reference, rig_gain=args.rig_gain)
    smoothing = options.smoothing_config(args)
    return options.render_config(args, max_frames=args.max_frames, driver_face_index=args.driver_face_index,
                                 motion=args.motion, lids=args.lids, smoothing=smoothing,
                                 transfer=transfer)


def _side_path(out: Path, value: str | None, suffix: str) -> Path | None:
    if value is None:
        return None
    return Path(value) if value else out.with_name(out.stem + suffix)


def run(args: argparse.Namespace) -> int:
    if is_image_path(args.driver):
        raise InputError(f"the driver {args.driver} is a still image, and reenact needs a video; to animate "
                         "a photo without one, use `reenact animate PHOTO SCRIPT OUT` (an AU script) or "
                         "`reenact render-batch` (AU targets)")
    config = config_from_args(args)
    preview = _side_path(args.out, args.preview, ".preview.mp4")
    plot = _side_path(args.out, args.plot, ".aus.png")
    device = pick_device(args.device)
    pipeline = ReenactPipeline.from_pretrained(args.weights, config, model=args.model).to(device)
    result = pipeline(args.source, args.driver, args.out, preview=preview, plot=plot, progress=not args.quiet)
    if not args.quiet:
        wrote = [str(p) for p in (result.path, result.preview_path, result.plot_path) if p is not None]
        print(f"wrote {', '.join(wrote)}")
        print(result.summary())
    return 0
