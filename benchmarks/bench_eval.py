"""Speed of the evaluation harness: 6 sources x 11 AU targets, and a 10 s self-reenactment.

    python benchmarks/bench_eval.py                     # the default model (warp+refiner)
    python benchmarks/bench_eval.py --model none        # the harness's own cost (nothing rendered)
    python benchmarks/bench_eval.py --json out/bench_eval.json

Times ``reenact.pipelines.evaluation.harness.evaluate_models`` (what ``reenact eval`` runs), one model
per call, each job in a fresh process after a warm-up of the same job on one source / 8 frames
(model loading and first-call kernels are not what is measured):
(a) targets: the first 6 default source faces (astronaut, astronaut:grey, single_face.jpg and 3
    faces of multi_face.jpg) x the 11 default targets (7 prototypes, 2 winks, blink, own);
(b) self-reenactment: the first 240 frames (10.0 s) of WolfgangLanger_Pexels.mp4 drive frame 0.
Prints total seconds, the pipeline's share (rendering; tracking too for the clip) and the rest
(measuring). Bars (issue 9): (a) < 60 s, (b) < 30 s on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BARS = {"targets": 60.0, "self": 30.0}


def run_job(job: str, model: str, weights: str | None, warm: bool, quick: bool = False) -> dict:
    """One timed job in this process (after a small warm-up of the same kind when ``warm``;
    ``quick``: 1 source, 8 frames, for tests)."""
    from reenact.device import set_cpu_threads
    from reenact.eval.sources import DEFAULT_DRIVER
    from reenact.eval.targets import EvalConfig
    from reenact.pipelines.evaluation.harness import NONE, EvalPlan, evaluate_models
    from reenact.pipelines.evaluation.render import ModelSpec

    set_cpu_threads(1)  # as `reenact eval` (its --threads default)
    spec = NONE if model == "none" else ModelSpec(model, weights)
    frames = 8 if quick else 240
    if job == "targets":
        plan, config, small = EvalPlan(max_sources=1 if quick else 6), EvalConfig(), EvalPlan(max_sources=1)
    else:
        plan, config = EvalPlan(self_clips=(DEFAULT_DRIVER,)), EvalConfig(max_video_frames=frames)
        small = plan
    if warm:
        evaluate_models([spec], small, config=EvalConfig(max_video_frames=8))
    t0 = time.perf_counter()
    ev = evaluate_models([spec], plan, config=config)[0]
    total = time.perf_counter() - t0
    if job == "targets":
        work, render = f"{len(ev.sources)} x {len(ev.targets)}", sum(s.render_s for s in ev.sources)
    else:
        work, render = f"{ev.results[0].n_frames} frames", sum(r.render_s for r in ev.results)
    return {"job": job, "model": ev.model, "precision": ev.meta.get("precision"), "work": work,
            "total_s": round(total, 2), "pipeline_s": round(render, 2), "measure_s": round(total - render, 2),
            "bar_s": BARS[job], "met": total < BARS[job]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="registered model to time (default: the default model)")
    p.add_argument("--weights", default=None, help="its weights (default: the registered ones)")
    p.add_argument("--jobs", nargs="+", default=["targets", "self"], choices=["targets", "self"])
    p.add_argument("--json", help="also write the rows to this JSON file")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--no-warmup", action="store_true", help="time the first call (cold start)")
    p.add_argument("--quick", action="store_true", help="1 source and 8 frames (a plumbing check)")
    args = p.parse_args(argv)
    if args.model is None:
        from reenact.model.registry import DEFAULT_MODEL

        args.model = DEFAULT_MODEL
    if args.child:
        print(json.dumps(run_job(args.child, args.model, args.weights, not args.no_warmup, args.quick)))
        return 0
    rows = []
    for job in args.jobs:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", job, "--model", args.model]
        cmd += ["--weights", args.weights] if args.weights else []
        cmd += (["--no-warmup"] if args.no_warmup else []) + (["--quick"] if args.quick else [])

        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            return done.returncode
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()} {platform.machine()}, "
          f"{os.cpu_count()} cores, load average {load:.1f} at the end")
    print("| job | model / precision | work | total s | pipeline s | measuring s | bar s | met |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        met = "yes" if r["met"] else "no"
        print(f"| {r['job']} | {r['model']} / {r['precision']} | {r['work']} | {r['total_s']:.1f} | "
              f"{r['pipeline_s']:.1f} | {r['measure_s']:.1f} | {r['bar_s']:.0f} | {met} |")

    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
