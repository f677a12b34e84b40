"""What the commands share: options read from the config dataclasses, and the rendering options.

A default or a set of choices is written once, in the stage's config dataclass or next to it
(``SmoothingConfig.max_gap_s = 0.5``, ``reenact.au.smoothing.METHODS``); ``config_option`` reads
it from there into argparse, and the config checks the value when the command builds it. Help
texts say ``%(default)s``, so ``--help`` shows the dataclass's value.

Not a command: the commands (``reenact.commands.<name>``) import this module, never each other.
"""

from __future__ import annotations

import argparse
import builtins
import dataclasses
from pathlib import Path

from reenact.au.smoothing import GAP_POLICIES, METHODS, SmoothingConfig
from reenact.device import PRECISIONS, set_cpu_threads
from reenact.errors import InputError
from reenact.face.paste import PasteConfig
from reenact.face.tracking import TrackerConfig
from reenact.io.encode import X264_PRESETS, EncodeConfig
from reenact.model.registry import DEFAULT_MODEL, MODELS
from reenact.pipelines import PipelineConfig


def field_default(config: type, name: str):
    """The default of field ``name`` of the dataclass ``config`` (its default_factory called)."""
    for f in dataclasses.fields(config):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            raise TypeError(f"{config.__name__}.{name} has no default")
    raise TypeError(f"{config.__name__} has no field {name!r}")


def config_option(p: argparse.ArgumentParser, flag: str, config: type, name: str, *, help: str,
                  choices: tuple | None = None, type=None, metavar: str | None = None) -> None:
    """``flag`` for the field ``name`` of ``config``: its default, its type (that of the default
    unless given) and ``choices`` come from the stage, not from the command."""
    default = field_default(config, name)
    kind = type if type is not None else (None if default is None or choices else builtins.type(default))
    p.add_argument(flag, default=default, type=kind, choices=choices, metavar=metavar, help=help)


def add_max_pixels_option(p: argparse.ArgumentParser) -> None:
    """--max-pixels, for every command that reads photos (``reenact.io.images.max_pixels``)."""
    p.add_argument("--max-pixels", type=int, default=None, metavar="N",
                   help="refuse images of more than N pixels (default 50000000, i.e. 50 megapixels; "
                        "also $REENACT_MAX_PIXELS)")


def add_threads_option(p: argparse.ArgumentParser) -> None:
    """--threads, for every command that runs the pipeline (``reenact.device.set_cpu_threads``)."""
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="CPU threads of torch and OpenCV (default 1: the pipeline's own threads and ffmpeg "
                        "use the other cores; 0 = the libraries' defaults)")


def apply_threads(args: argparse.Namespace) -> None:
    """Set --threads for the process (checked): torch's and OpenCV's kernel threads."""
    if args.threads < 0:
        raise InputError(f"--threads must be >= 0, got {args.threads}")
    set_cpu_threads(args.threads or None)


def add_smoothing_options(p: argparse.ArgumentParser) -> None:
    """--smooth, --gaps, --max-gap: the driver's AU smoothing (``SmoothingConfig``)."""
    config_option(p, "--smooth", SmoothingConfig, "method", choices=METHODS,
                  help="temporal filter of the AUs: savgol (zero-phase), one_euro (causal) or none "
                       "(default %(default)s)")
    config_option(p, "--gaps", SmoothingConfig, "gaps", choices=GAP_POLICIES,
                  help="frames without a face: interpolate short gaps, hold the last value, or missing "
                       "(left empty; the source rests there) (default %(default)s)")
    config_option(p, "--max-gap", SmoothingConfig, "max_gap_s", metavar="SECONDS",
                  help="longest gap that --gaps interpolate bridges (default %(default)s s)")


def smoothing_config(args: argparse.Namespace, *, method: str | None = None) -> SmoothingConfig:
    """The ``SmoothingConfig`` of --smooth/--gaps/--max-gap (checked)."""
    if args.max_gap < 0:
        raise InputError(f"--max-gap must be >= 0 seconds, got {args.max_gap}")
    return SmoothingConfig(method=method or args.smooth, gaps=args.gaps, max_gap_s=args.max_gap)


def add_render_options(p: argparse.ArgumentParser, *, video: bool = True) -> None:
    """Options every rendering command shares (``PipelineConfig`` and its stages)."""
    p.add_argument("--model", choices=tuple(MODELS), default=None,
                   help=f"face model (default {DEFAULT_MODEL}, or ganimation for a generator's --weights); "
                        "none renders the photo unchanged")
    p.add_argument("--weights", type=Path, default=None, metavar="PATH",
                   help="the model's weights (.safetensors); default: those registered in "
                        "weights/manifest.json")
    config_option(p, "--face-index", TrackerConfig, "face_index", type=int, metavar="K",
                  help="animate the K-th face of the photo from the left (0-based); default: the largest")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA when present, else CPU), cpu, cuda, cuda:1 ...")
    add_threads_option(p)
    config_option(p, "--precision", PipelineConfig, "precision", choices=PRECISIONS,
                  help="auto: bf16 autocast where the device runs it natively (CUDA, AMX CPUs), else fp32 "
                       "(default %(default)s)")
    config_option(p, "--batch-size", PipelineConfig, "batch_size", type=int, metavar="N",
                  help="frames per generator batch (default 16 on CPU, 64 on CUDA)")
    config_option(p, "--workers", PipelineConfig, "workers", type=int, metavar="N",
                  help="threads that track parts of the driver and edit batches at once (default 2 "
                       "where there are 2 or more cores, else 1)")
    p.add_argument("--no-attention-paste", action="store_true",
                   help="paste G's composed 128x128 crop instead of using its attention at full "
                        "resolution (for comparison; blurrier)")
    if video:
        config_option(p, "--crf", EncodeConfig, "crf",
                      help="x264 quality, 0 (lossless) .. 51 (default %(default)s)")
        config_option(p, "--preset", EncodeConfig, "preset", metavar="PRESET",
                      help=f"x264 preset: {', '.join(X264_PRESETS)} (default %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    add_max_pixels_option(p)


def check_index(name: str, value: int | None) -> None:
    """A --face-index-like option is None or >= 0."""
    if value is not None and value < 0:
        raise InputError(f"--{name} must be >= 0, got {value}")


def render_config(args: argparse.Namespace, **fields) -> PipelineConfig:
    """The ``PipelineConfig`` of the shared rendering options, with the command's own ``fields``
    (and the CPU thread count, which is process-wide, set here)."""
    check_index("face-index", args.face_index)
    apply_threads(args)
    for flag, value in (("batch-size", args.batch_size), ("workers", args.workers)):
        if value is not None and value < 1:
            raise InputError(f"--{flag} must be >= 1, got {value}")
    common = dict(batch_size=args.batch_size, workers=args.workers, precision=args.precision,
                  tracker=TrackerConfig(face_index=args.face_index),
                  paste=PasteConfig(use_attention=not args.no_attention_paste))
    if hasattr(args, "crf"):
        if not 0 <= args.crf <= 51:
            raise InputError(f"--crf must be in 0..51, got {args.crf}")
        common["encode"] = EncodeConfig(crf=args.crf, preset=args.preset)  # checks the preset
    return PipelineConfig(**(common | fields))
