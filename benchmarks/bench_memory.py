"""Peak memory of a reenactment run on a 1-minute vs a 10-minute clip: it must stay flat.

    python benchmarks/bench_memory.py --size 1080        # 1 and 10 minutes at 1080p, default model
    python benchmarks/bench_memory.py --model ganimation --size 360 --minutes 1 3

The long clips are synthetic: the registered real clip WolfgangLanger_Pexels.mp4 (19.7 s,
640x360, 23.976 fps, with audio) looped with ffmpeg ``-stream_loop`` and cut to length (stream
copy, so making them is quick). The source photo is the clip's first frame.

Each clip runs ``ReenactPipeline`` in its own child process, writing an mp4, while a thread
samples the child's resident memory (VmRSS) every 0.25 s. Memory flatness is about the streaming
(pass 1 keeps only per-frame AUs, pass 2 streams batches through bounded queues), not about the
network; the registered default model runs (``--model``; for ``ganimation`` a tiny random G, or
--paper for the paper-sized one). ``--size 1080`` scales the looped clip to 1920x1080 (re-encoded
once, veryfast), the size of the issue's memory bar (< 2 GiB at any length).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import build_generator, make_clip, pick_device, run_ffmpeg, write_json  # noqa: E402


def rss_mib() -> float:
    """Current resident memory of this process (VmRSS), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class RssSampler(threading.Thread):
    """Samples ``rss_mib`` every ``interval`` seconds until stopped: (seconds, MiB) pairs."""

    def __init__(self, interval: float = 0.25):
        super().__init__(daemon=True)
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop_event = threading.Event()
        self._t0 = time.perf_counter()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.samples.append((time.perf_counter() - self._t0, rss_mib()))
            self._stop_event.wait(self.interval)

    def stop(self) -> list[tuple[float, float]]:
        self._stop_event.set()
        self.join()
        return self.samples


def worker(args: argparse.Namespace) -> dict:
    """One run in this (child) process: RSS before, during (sampled) and at the peak."""
    import numpy as np
    import torch

    from reenact.device import set_cpu_threads
    from reenact.io.video import probe_video, read_all_frames
    from reenact.pipelines import PipelineConfig, ReenactPipeline

    set_cpu_threads(1)  # as the CLI (--threads 1)
    device = pick_device(args.device)
    generator, g_name = build_generator(None, not args.paper, args.model)
    clip = Path(args.worker)
    info = probe_video(clip)
    source = read_all_frames(clip, max_frames=1)[0]
    out_dir = Path(tempfile.mkdtemp(prefix="reenact-mem-"))
    config = PipelineConfig(precision=args.precision, workers=args.workers)
    pipe = ReenactPipeline(generator, config).to(device)
    before = rss_mib()
    sampler = RssSampler()
    sampler.start()
    result = pipe(source, clip, out_dir / "out.mp4")
    samples = sampler.stop()
    for f in out_dir.iterdir():
        f.unlink()
    out_dir.rmdir()
    t = np.array([s[0] for s in samples])
    m = np.array([s[1] for s in samples])
    tail = m[t >= 0.5 * t[-1]] if len(m) else m

    def at(frac: float) -> float:
        return float(m[min(int(frac * (len(m) - 1)), len(m) - 1)]) if len(m) else float("nan")

    return {
        "clip_s": info.duration_s, "frames": result.n_frames, "size": f"{info.width}x{info.height}",
        "generator": g_name, "device": device, "precision": result.precision,
        "seconds": result.timings.total_s, "fps": result.timings.fps,
        "rss_before_mib": before, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_at_25_50_75_100_mib": [at(0.25), at(0.5), at(0.75), at(1.0)],
        "rss_second_half_max_mib": float(tail.max()) if len(tail) else float("nan"),
        "cuda_peak_mib": torch.cuda.max_memory_allocated() / 2 ** 20 if device == "cuda" else None,
        "n_samples": len(samples),
    }


def run_child(clip: Path, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--worker", str(clip), "--device", args.device,
           "--precision", args.precision, "--model", args.model] + (["--paper"] if args.paper else [])
    cmd += ["--workers", str(args.workers)] if args.workers else []
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        raise RuntimeError(f"memory benchmark child failed for {clip.name}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    lines = ["| clip | frames | size | fps | RSS before run MiB | RSS at 25/50/75/100 % of the run MiB | "
             "peak RSS MiB |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        q = " / ".join(f"{v:.0f}" for v in r["rss_at_25_50_75_100_mib"])
        lines.append(f"| {r['clip_s']:.0f} s | {r['frames']} | {r['size']} | {r['fps']:.1f} | "
                     f"{r['rss_before_mib']:.0f} | {q} | {r['peak_rss_mib']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", nargs="+", type=float, default=[1.0, 10.0])
    p.add_argument("--paper", action="store_true", help="ganimation: paper-sized random G, not the tiny one")
    p.add_argument("--workers", type=int, default=None,
                   help="PipelineConfig.workers (default: the pipeline's)")
    p.add_argument("--model", default=None, help="a registered model (default: the default model)")
    p.add_argument("--size", default="360", choices=["360", "1080"],
                   help="clip height (640x360 or 1920x1080)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    p.add_argument("--json", default=None, help="also write the rows as JSON here")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.model is None:
        from reenact.model.registry import DEFAULT_MODEL

        args.model = DEFAULT_MODEL
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    from reenact.io.video import probe_video
    from reenact.weights import fetch

    base = fetch("media/WolfgangLanger_Pexels.mp4", quiet=True)
    base_s = probe_video(base).duration_s
    rows = []
    with tempfile.TemporaryDirectory(prefix="reenact-mem-clips-") as tmp:
        for minutes in args.minutes:
            seconds = 60.0 * minutes
            loops = int(seconds // base_s) + 1
            clip = Path(tmp) / f"loop_{minutes:g}min.mp4"
            if args.size == "1080":
                unit = Path(tmp) / "unit_1080.mp4"
                if not unit.exists():
                    make_clip(base, unit, (1920, 1080))
                source = unit
            else:
                source = base
            run_ffmpeg(["-stream_loop", str(loops), "-i", str(source), "-c", "copy", "-t", f"{seconds:.3f}",
                        str(clip)])
            print(f"made {clip.name}; running ...", file=sys.stderr)
            rows.append(run_child(clip, args))
            print(json.dumps(rows[-1]), file=sys.stderr)
    print(f"\n{time.strftime('%Y-%m-%d %H:%M %Z')}, {platform.node()}, {os.cpu_count()} CPUs, "
          f"generator: {rows[0]['generator']}\n")
    print(table(rows))
    if len(rows) > 1:
        growth = rows[-1]["peak_rss_mib"] - rows[0]["peak_rss_mib"]
        print(f"\npeak RSS grows by {growth:.0f} MiB from {rows[0]['clip_s'] / 60:.1f} min to "
              f"{rows[-1]['clip_s'] / 60:.1f} min ({rows[-1]['frames'] / rows[0]['frames']:.1f}x the frames)")
    write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
