"""Speed of the whole reenactment pipeline, stage by stage, at 512x512 and 1080p.

    python benchmarks/bench_pipeline.py                       # CPU here, the GPU where there is one
    python benchmarks/bench_pipeline.py --frames 240 --sizes 512 1080 --weights weights/generator.safetensors
    python benchmarks/bench_pipeline.py --json out/bench_pipeline.json

The clips are made at run time: the registered real clip WolfgangLanger_Pexels.mp4 (640x360,
23.976 fps, with audio) is scaled with imageio-ffmpeg's ffmpeg into a temporary folder, to a
512x512 square (centre crop) and to 1920x1080. The source photo of each run is the first frame
of its clip, so the paste-back and the encode work at the clip's full size.

Each size runs in its own child process (so peak memory is per run): one short warm-up call
(model loading, MediaPipe start-up, first-call kernels), then the timed call of
``ReenactPipeline`` writing an mp4. Stage times come from the pipeline's own ``StageTimings``:
decode and track+AUs are pass 1; generate and paste run in the main thread of pass 2 while frame
assembly + encoding run in a writer thread, so pass-2 stages overlap and the shares can add up
to more than 100 %. CPU ms a frame: the timed call's CPU time (user + system, this process and
ffmpeg, which has exited by then) over its frames; two cores give at most 2000 / that fps (on a
noisy host it moves too: 41-55 ms for the same code at 512x512). Peak memory: the child's peak
RSS (``ru_maxrss``; ffmpeg, a separate process, is not included) and
``torch.cuda.max_memory_allocated`` on a GPU.

The model is the registered default (``--model``); for ``--model ganimation`` without
``--weights`` a paper-sized random G (its speed does not depend on what it learnt). Goals: CPU
(2 cores) >= 40 fps at 512x512 and >= 15 fps at 1080p (issue 8, warp-guided model); H100 >= 300
fps at 512 and >= 100 fps at 1080p.
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = {"512": (512, 512), "1080": (1920, 1080), "360": (640, 360)}
STAGES = ("decode", "track", "smooth", "warp", "generate", "paste", "encode", "setup")
STAGE_LABELS = {"decode": "decode", "track": "track+AUs", "smooth": "smooth", "warp": "warp",
                "generate": "generate", "paste": "paste", "encode": "encode", "setup": "setup"}
GOALS_FPS = {("cpu", "512"): 40.0, ("cpu", "1080"): 15.0, ("cuda", "512"): 300.0, ("cuda", "1080"): 100.0}


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str]) -> None:
    """Run imageio-ffmpeg's ffmpeg with ``args`` (no shell); raise with its last error line."""
    done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {done.stderr.strip().splitlines()[-1:]}")


def make_clip(src: Path, dest: Path, size: tuple[int, int], *, seconds: float | None = None,
              loops: int = 0) -> Path:
    """Scale (and for a square, centre-crop) ``src`` to ``size`` (w, h) as h264 + the original audio.

    Args:
        loops: extra times the clip is repeated (ffmpeg ``-stream_loop``), for long clips.
        seconds: cut the result to this duration.
    """
    w, h = size
    vf = f"crop=ih:ih,scale={w}:{h}" if w == h else f"scale={w}:{h}"
    args = ["-stream_loop", str(loops)] if loops else []
    args += ["-i", str(src), "-vf", vf, "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
             "-pix_fmt", "yuv420p", "-c:a", "copy"]
    if seconds is not None:
        args += ["-t", f"{seconds:.3f}"]
    run_ffmpeg(args + [str(dest)])
    return dest


def build_generator(weights: str | None, tiny: bool, model: str = "ganimation"):
    """(the model for ``ReenactPipeline``, its description). For ``ganimation`` without weights, a
    paper-sized (or --tiny) random G: its speed does not depend on what it learnt; other models
    load their registered (or given) weights."""
    import torch

    from reenact.model.generator import Generator, GeneratorConfig, load_generator
    from reenact.model.registry import build_editor

    if model != "ganimation":
        label = Path(weights).name if weights else "registered"
        return build_editor(model, weights=weights), f"{model} ({label})"
    if weights:
        return load_generator(weights), Path(weights).name
    torch.manual_seed(0)
    if tiny:
        return Generator(GeneratorConfig(channels=8, n_res=1)).eval(), "tiny random G (8 ch, 1 res block)"
    return Generator().eval(), "paper-sized random G (64 ch, 6 res blocks)"


def pick_device(name: str) -> str:
    """reenact's own device choice, as a name ("cpu", "cuda")."""
    from reenact.device import pick_device as pick

    return pick(name).type


def worker(args: argparse.Namespace) -> dict:
    """One timed run in this (child) process; returns a JSON-ready dict."""
    import torch

    from reenact.device import set_cpu_threads
    from reenact.io.video import probe_video, read_all_frames
    from reenact.pipelines import PipelineConfig, ReenactPipeline

    device = pick_device(args.device)
    set_cpu_threads(args.threads or None)
    generator, g_name = build_generator(args.weights, args.tiny, args.model)
    clip = Path(args.worker)
    source = read_all_frames(clip, max_frames=1)[0]
    info = probe_video(clip)
    out_dir = Path(tempfile.mkdtemp(prefix="reenact-bench-"))
    warm = ReenactPipeline(generator, PipelineConfig(max_frames=8, precision=args.precision)).to(device)
    warm(source, clip, out_dir / "warmup.mp4")
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    frames = min(args.frames, info.n_frames) if args.frames else info.n_frames
    pipe = ReenactPipeline(generator, PipelineConfig(max_frames=frames, batch_size=args.batch_size,
                                                     precision=args.precision)).to(device)
    cpu0 = cpu_seconds()
    result = pipe(source, clip, out_dir / "out.mp4")
    cpu_s = cpu_seconds() - cpu0
    out_size = (out_dir / "out.mp4").stat().st_size
    for f in out_dir.iterdir():
        f.unlink()
    out_dir.rmdir()
    t = result.timings
    return {
        "size": f"{info.width}x{info.height}", "frames": result.n_frames, "device": device,
        "precision": result.precision, "generator": g_name, "batch_size": args.batch_size,
        "threads": torch.get_num_threads(), "total_s": t.total_s, "fps": t.fps,
        "stages_s": {s: getattr(t, f"{s}_s") for s in STAGES},
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cuda_peak_mib": torch.cuda.max_memory_allocated() / 2 ** 20 if device == "cuda" else None,
        "output_bytes": out_size, "cpu_ms_per_frame": 1000 * cpu_s / max(result.n_frames, 1),
    }


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (ffmpeg) so far, user + system."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_child(clip: Path, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--worker", str(clip), "--frames", str(args.frames or 0),
           "--device", args.device, "--precision", args.precision, "--batch-size", str(args.batch_size),
           "--model", args.model]
    if args.weights:
        cmd += ["--weights", args.weights]
    if args.tiny:
        cmd.append("--tiny")
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child failed for {clip.name}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    """Markdown table: per size, fps and each stage's seconds and share of the total."""
    head = "| clip | frames | device / precision | fps | total s | " + " | ".join(
        STAGE_LABELS[s] for s in STAGES) + " | CPU ms a frame | peak RSS MiB | CUDA peak MiB |"
    lines = [head, "|" + "---|" * (5 + len(STAGES) + 3)]
    for r in rows:
        total = r["total_s"]
        stages = " | ".join(f"{r['stages_s'][s]:.2f} s ({100 * r['stages_s'][s] / total:.0f}%)"
                            for s in STAGES)
        cuda = f"{r['cuda_peak_mib']:.0f}" if r["cuda_peak_mib"] is not None else "-"
        lines.append(f"| {r['size']} | {r['frames']} | {r['device']} / {r['precision']} | {r['fps']:.2f} | "
                     f"{total:.1f} | {stages} | {r['cpu_ms_per_frame']:.1f} | {r['peak_rss_mib']:.0f} | "
                     f"{cuda} |")
    return "\n".join(lines)


def goals(rows: list[dict]) -> str:
    lines = ["| goal | measured | met |", "|---|---|---|"]
    seen = set()
    for r in rows:
        key = (r["device"], "512" if r["size"] == "512x512" else "1080" if r["size"] == "1920x1080" else "")
        if key in GOALS_FPS:
            seen.add(key)
            ok = "yes" if r["fps"] >= GOALS_FPS[key] else "no"
            lines.append(f"| {key[0]} {r['size']} >= {GOALS_FPS[key]:g} fps | {r['fps']:.2f} fps | {ok} |")
    for key, goal in GOALS_FPS.items():
        if key not in seen:
            lines.append(f"| {key[0]} {key[1]} >= {goal:g} fps | not measured on this machine | - |")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=["512", "1080"], choices=sorted(SIZES))
    p.add_argument("--frames", type=int, default=None,
                   help="frames per run (default: 120 on CPU, the whole clip (472) on a GPU)")
    p.add_argument("--model", default=None, help="a registered model (default: the default model)")
    p.add_argument("--weights", default=None,
                   help="the model's weights (ganimation: default a paper-sized random G)")
    p.add_argument("--tiny", action="store_true", help="a tiny random G instead (plumbing only)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, default=1,
                   help="torch and OpenCV threads (default 1, as the CLI; 0: the libraries' choice)")
    p.add_argument("--json", default=None, help="also write the rows as JSON here")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.model is None:
        from reenact.model.registry import DEFAULT_MODEL

        args.model = DEFAULT_MODEL
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    from reenact.weights import fetch

    if args.frames is None:
        args.frames = 0 if pick_device(args.device) == "cuda" else 120
    base = fetch("media/WolfgangLanger_Pexels.mp4", quiet=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="reenact-bench-clips-") as tmp:
        for name in args.sizes:
            w, h = SIZES[name]
            t = time.perf_counter()
            clip = make_clip(base, Path(tmp) / f"clip_{w}x{h}.mp4", (w, h))
            print(f"made {clip.name} in {time.perf_counter() - t:.1f} s; running ...", file=sys.stderr)
            rows.append(run_child(clip, args))
    import torch

    print(f"\n{time.strftime('%Y-%m-%d %H:%M %Z')}, {platform.node()}, {os.cpu_count()} CPUs, torch "
          f"{torch.__version__}, generator: {rows[0]['generator']}, batch {args.batch_size}\n")
    print(table(rows))
    print()
    print(goals(rows))
    write_json(args.json, rows)
    return 0


def write_json(path: str | None, rows: list[dict]) -> None:
    """The rows as JSON at ``path`` (its folder made), when a path is given (--json)."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    sys.exit(main())
