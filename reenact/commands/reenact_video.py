"""`reenact SOURCE DRIVER OUT` (= `reenact run ...`): reenact a photo with a driving video.

The shared options of the three rendering commands (weights, device, precision, batch size,
face choice, encoding) are defined here and reused by `animate` and `render-batch`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reenact.errors import InputError


def add_common_options(p: argparse.ArgumentParser, *, video: bool = True) -> None:
    """Options every rendering command shares."""
    from reenact.model.registry import DEFAULT_MODEL, MODELS

    p.add_argument("--model", choices=tuple(MODELS), default=None,
                   help=f"face model (default {DEFAULT_MODEL}, or ganimation for a generator's --weights); "
                        "none renders the photo unchanged")
    p.add_argument("--weights", type=Path, default=None, metavar="PATH",
                   help="the model's weights (.safetensors); default: those registered in "
                        "weights/manifest.json")
    p.add_argument("--face-index", type=int, default=None, metavar="K",
                   help="animate the K-th face of the photo from the left (0-based); default: the largest")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA when present, else CPU), cpu, cuda, cuda:1 ...")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="CPU threads of torch and OpenCV (default 1: the pipeline's own threads and ffmpeg "
                        "use the other cores; 0 = the libraries' defaults)")
    p.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto",
                   help="auto: bf16 autocast where the device runs it natively (CUDA, AMX CPUs), else fp32")
    p.add_argument("--batch-size", type=int, default=None, metavar="N",
                   help="frames per generator batch (default 16 on CPU, 64 on CUDA)")
    p.add_argument("--no-attention-paste", action="store_true",
                   help="paste G's composed 128x128 crop instead of using its attention at full "
                        "resolution (for comparison; blurrier)")
    if video:
        p.add_argument("--crf", type=int, default=18, help="x264 quality, 0 (lossless) .. 51 (default 18)")
        p.add_argument("--preset", default="veryfast",
                       help="x264 preset: ultrafast, superfast, veryfast (default), faster, fast, medium, "
                            "slow, slower, veryslow")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    add_max_pixels_option(p)


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "run", help="reenact a photo with a driving video: reenact SOURCE DRIVER OUT",
        description="Make the face in SOURCE perform the expressions of the face in DRIVER, frame by "
                    "frame, pasted back into the full photo; write OUT (mp4, the driver's frame rate, "
                    "length and audio). See docs/reenact.md.",
    )
    p.add_argument("source", type=Path, help="photo of a face (jpg/png/webp ...)")
    p.add_argument("driver", type=Path, help="driving video with a face")
    p.add_argument("out", type=Path, help="output video (.mp4)")
    p.add_argument("--mode", choices=("relative", "absolute"), default="relative",
                   help="relative (default): the source's own AUs + the driver's change from its "
                        "neutral face; absolute: copy the driver's AU values")
    p.add_argument("--strength", type=float, default=1.0, help="multiplier of the transferred expression")
    p.add_argument("--reference", choices=("neutral", "first"), default="neutral",
                   help="relative mode: the driver's change is measured from its calmest frames (neutral, "
                        "default) or from its first frame (first: when the photo shows that expression)")
    p.add_argument("--motion", choices=("aus", "landmarks"), default="aus",
                   help="warp-guided models: move the face by the rig of the transferred AUs (aus), or by "
                        "the driver's own pose-free landmark motion (landmarks: keeps speech lip shapes)")
    p.add_argument("--only", default=None, metavar="LIST",
                   help="transfer only these AU groups/AUs, comma-separated: brows, eyes, mouth, nose, "
                        "cheeks, or names like AU12,AU45_L (default: all)")
    p.add_argument("--smooth", choices=("savgol", "one_euro", "none"), default="savgol",
                   help="temporal filter of the driver's AUs (default savgol, zero-phase)")
    p.add_argument("--gaps", choices=("interpolate", "hold", "missing"), default="interpolate",
                   help="driver frames without a face: interpolate short gaps (default), hold the last "
                        "value, or missing (the source rests there)")
    p.add_argument("--max-gap", type=float, default=0.5, metavar="SECONDS",
                   help="longest gap that --gaps interpolate bridges (default 0.5 s)")
    p.add_argument("--driver-face-index", type=int, default=None, metavar="K",
                   help="follow the K-th face of the driver from the left; default: the largest")
    p.add_argument("--preview", nargs="?", const="", default=None, metavar="PATH",
                   help="also write a side-by-side video (driver | output); default path OUT.preview.mp4")
    p.add_argument("--plot", nargs="?", const="", default=None, metavar="PATH",
                   help="also write the plot of the driver's AUs; default path OUT.aus.png")
    p.add_argument("--max-frames", type=int, default=None, metavar="N",
                   help="render only the first N frames of the driver (audio cut to match)")
    add_common_options(p)
    p.set_defaults(func=run)
    return p


def pick_device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise InputError(f"unknown device {name!r}; use auto, cpu or cuda") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    return device


def _check_index(name: str, value: int | None) -> None:
    if value is not None and value < 0:
        raise InputError(f"--{name} must be >= 0, got {value}")


def common_config(args: argparse.Namespace, **extra):
    """The PipelineConfig fields shared by the rendering commands (and the CPU thread count,
    which is process-wide, set here)."""
    from reenact.pipeline import set_cpu_threads

    if args.threads < 0:
        raise InputError(f"--threads must be >= 0, got {args.threads}")
    set_cpu_threads(args.threads or None)
    from reenact.encode import EncodeConfig
    from reenact.paste import PasteConfig
    from reenact.tracking import TrackerConfig

    _check_index("face-index", args.face_index)
    if args.batch_size is not None and args.batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {args.batch_size}")
    fields = dict(batch_size=args.batch_size, precision=args.precision,
                  tracker=TrackerConfig(face_index=args.face_index),
                  paste=PasteConfig(use_attention=not args.no_attention_paste))
    if hasattr(args, "crf"):
        if not 0 <= args.crf <= 51:
            raise InputError(f"--crf must be in 0..51, got {args.crf}")
        fields["encode"] = EncodeConfig(crf=args.crf, preset=args.preset)  # checks the preset
    return fields | extra


def _default_side_path(out: Path, value: str | None, suffix: str) -> Path | None:
    if value is None:
        return None
    return Path(value) if value else out.with_name(out.stem + suffix)


def config_from_args(args: argparse.Namespace):
    from reenact.pipeline import PipelineConfig
    from reenact.smoothing import SmoothingConfig
    from reenact.transfer import TransferConfig, parse_only

    _check_index("driver-face-index", args.driver_face_index)
    if args.max_gap < 0:
        raise InputError(f"--max-gap must be >= 0 seconds, got {args.max_gap}")
    if args.max_frames is not None and args.max_frames < 1:
        raise InputError(f"--max-frames must be >= 1, got {args.max_frames}")
    return PipelineConfig(**common_config(
        args, max_frames=args.max_frames, driver_face_index=args.driver_face_index, motion=args.motion,
        smoothing=SmoothingConfig(method=args.smooth, gaps=args.gaps, max_gap_s=args.max_gap),
        transfer=TransferConfig(mode=args.mode, strength=args.strength, only=parse_only(args.only),
                                reference=args.reference)))


def build_pipeline(args: argparse.Namespace, config):
    from reenact.pipeline import ReenactPipeline

    device = pick_device(args.device)
    return ReenactPipeline.from_pretrained(args.weights, config, model=args.model).to(device)


def summary(result) -> str:
    t = result.timings
    return (f"{result.n_frames} frames in {t.total_s:.1f} s ({t.fps:.1f} fps, {result.device}, "
            f"{result.precision}; "
            f"decode {t.decode_s:.1f} s, track+AUs {t.track_s:.1f} s, warp {t.warp_s:.1f} s, "
            f"generate {t.generate_s:.1f} s, paste {t.paste_s:.1f} s, encode {t.encode_s:.1f} s)")


def add_max_pixels_option(p: argparse.ArgumentParser) -> None:
    """--max-pixels, for every command that reads photos (reenact.images.max_pixels)."""
    p.add_argument("--max-pixels", type=int, default=None, metavar="N",
                   help="refuse images of more than N pixels (default 50000000, i.e. 50 megapixels; "
                        "also $REENACT_MAX_PIXELS)")


def run(args: argparse.Namespace) -> int:
    from reenact.images import is_image_path

    if is_image_path(args.driver):
        raise InputError(f"the driver {args.driver} is a still image, and reenact needs a video; to animate "
                         "a photo without one, use `reenact animate PHOTO SCRIPT OUT` (an AU script) or "
                         "`reenact render-batch` (AU targets)")
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    preview = _default_side_path(args.out, args.preview, ".preview.mp4")
    plot = _default_side_path(args.out, args.plot, ".aus.png")
    pipeline = build_pipeline(args, config)
    result = pipeline(args.source, args.driver, args.out, preview=preview, plot=plot, progress=not args.quiet)
    if not args.quiet:
        wrote = [str(p) for p in (result.path, result.preview_path, result.plot_path) if p is not None]
        print(f"wrote {', '.join(wrote)}")
        print(summary(result))
    return 0
