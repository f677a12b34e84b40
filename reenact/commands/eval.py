"""`reenact eval`: measure a generator's quality (AU fidelity, identity, seam, stability, attention).

    reenact eval --weights weights/generator.safetensors                  # AU targets, default sources
    reenact eval --weights W --videos media/WolfgangLanger_Pexels.mp4     # driving videos
    reenact eval --weights random --targets happy --intensities 1          # plumbing check, untrained G

Writes report.json, report.md and contact_sheet.png into --out (default out/eval).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reenact.commands.reenact_video import add_max_pixels_option

RANDOM_WEIGHTS = "random"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="measure quality: AU fidelity, identity, seam, flicker, attention",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=None,
                   help="generator .safetensors, a weights/manifest.json name, or 'random' (an untrained "
                        "paper-sized G, for plumbing checks); default: the registered 'generator'")
    p.add_argument("--sources", nargs="+", default=None,
                   help="source photos (paths, registered media names like media/single_face.jpg, or "
                        "'astronaut'); every face found in a photo is a source (default: astronaut, "
                        "media/single_face.jpg, media/multi_face.jpg)")
    p.add_argument("--videos", nargs="+", default=None,
                   help="driving clips: evaluate video reenactment instead of AU targets")
    p.add_argument("--targets", nargs="+", default=None,
                   help="AU presets to request (emotions at each --intensities, gestures at 1; default: "
                        "the 7 emotion prototypes, winks and half smiles)")
    p.add_argument("--intensities", nargs="+", type=float, default=[0.5, 1.0],
                   help="intensities of the emotion prototypes")
    p.add_argument("--max-frames", type=int, default=96, help="frames used from the start of each clip")
    p.add_argument("--mode", default="relative", choices=["relative", "absolute"],
                   help="video AU transfer, as in `reenact run --mode`")
    p.add_argument("--crop-only", action="store_true",
                   help="score the 128 crop instead of the full-resolution paste-back")
    p.add_argument("--no-identity", action="store_true", help="skip dlib identity distances")
    p.add_argument("--batch-size", type=int, default=8, help="generator batch size")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu or cuda")
    p.add_argument("--out", default="out/eval",
                   help="output folder for report.json, report.md, contact_sheet.png")
    add_max_pixels_option(p)
    p.set_defaults(func=run)


def pick_device(name: str) -> str:
    """'auto' -> 'cuda' when available, else 'cpu'; other names pass through (checked)."""
    import torch

    from reenact.errors import InputError

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda asked but no CUDA device is available; use --device cpu")
    return name


def load_weights(spec: str | None, device: str):
    """(generator, weights path or None) from a path, a manifest name or 'random'."""
    import torch

    from reenact.generator import Generator, load_generator
    from reenact.weights import fetch, load_manifest

    if spec == RANDOM_WEIGHTS:
        print("reenact eval: using an UNTRAINED random generator (plumbing check only)", file=sys.stderr)
        torch.manual_seed(0)
        return Generator().eval().to(device), None
    if spec is None:
        from reenact.pipeline import registered_generator_path

        path = registered_generator_path()
    elif not Path(spec).exists() and spec in load_manifest():
        path = fetch(spec)
    else:
        path = Path(spec)
    return load_generator(path, device=device), path


def _check_args(args: argparse.Namespace) -> None:
    from reenact.au import PRESETS
    from reenact.errors import InputError

    unknown = [t for t in args.targets if t not in PRESETS]
    if unknown:
        raise InputError(f"unknown target preset(s) {', '.join(unknown)}; known: {', '.join(PRESETS)}")
    if args.max_frames < 2 or args.batch_size < 1:
        raise InputError("--max-frames must be >= 2 and --batch-size >= 1")
    if any(not 0.0 <= i <= 1.0 for i in args.intensities):
        raise InputError("--intensities must lie in [0, 1]")
    for v in args.videos or ():
        if not Path(v).is_file() and not v.startswith("media/"):
            raise InputError(f"driving clip {v} does not exist; check the path")


def _check_outputs(args: argparse.Namespace, out: Path) -> None:
    """No report file is an input, and --out can be written (checked before any work)."""
    from reenact.io_utils import check_distinct, check_writable_folder

    files = [p for p in (args.sources or []) + (args.videos or []) if Path(p).exists()]
    weights = args.weights if args.weights and Path(args.weights).exists() else None
    reports = ("report.json", "report.md", "contact_sheet.png")
    check_distinct({"input": files, "--weights": weights}, {f"--out {name}": out / name for name in reports})
    check_writable_folder(out)


def run(args: argparse.Namespace) -> int:
    from reenact.evaluate import DEFAULT_SOURCES, EMOTIONS, EVAL_GESTURES
    from reenact.io_utils import new_folder

    args.sources = args.sources or list(DEFAULT_SOURCES)
    args.targets = args.targets or list(EMOTIONS) + list(EVAL_GESTURES)
    _check_args(args)
    out = Path(args.out)
    _check_outputs(args, out)
    device = pick_device(args.device)
    generator, weights = load_weights(args.weights, device)
    with new_folder(out):  # removed again if the evaluation fails
        paths = _evaluate(args, generator, weights, out)
    print(paths["markdown"].read_text())
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def _evaluate(args: argparse.Namespace, generator, weights, out: Path) -> dict[str, Path]:
    from tqdm import tqdm

    from reenact.au import EMOTION_PROTOTYPES
    from reenact.evaluate import (
        EvalConfig,
        default_targets,
        evaluate_targets,
        evaluate_videos,
        load_sources,
        run_meta,
        write_report,
    )
    from reenact.tracking import FaceTracker
    from reenact.video import probe_video
    from reenact.weights import fetch

    config = EvalConfig(emotions=tuple(t for t in args.targets if t in EMOTION_PROTOTYPES),
                        intensities=tuple(args.intensities),
                        gestures=tuple(t for t in args.targets if t not in EMOTION_PROTOTYPES),
                        paste=not args.crop_only, identity=not args.no_identity,
                        batch_size=args.batch_size, max_video_frames=args.max_frames,
                        transfer=args.mode)
    options = {k: v for k, v in vars(args).items() if k != "func"}
    meta = {**run_meta(weights, generator), "options": options}
    with FaceTracker() as tracker:
        sources = load_sources(args.sources, tracker=tracker)
        if args.videos:
            videos = [fetch(v, quiet=True) if not Path(v).is_file() else Path(v) for v in args.videos]
            frames = sum(min(probe_video(v).n_frames, args.max_frames) for v in videos)
            with tqdm(total=len(sources) * frames, unit="frame", desc="eval") as bar:
                evaluation = evaluate_videos(generator, sources, videos, config=config, progress=bar.update,
                                             meta=meta)
        else:
            targets = default_targets(config)
            with tqdm(total=len(sources) * len(targets), unit="image", desc="eval") as bar:
                evaluation = evaluate_targets(generator, sources, targets, tracker=tracker, config=config,
                                              progress=bar.update, meta=meta)
    return write_report(evaluation, out)
