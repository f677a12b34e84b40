"""Speed of the warp-guided editor per frame, by face size: rig + constraints, warp, refiner.

    python benchmarks/bench_warp.py                 # astronaut at 1x, and scaled to a 512 px face
    python benchmarks/bench_warp.py --threads 1 --batch 16 --refiner weights/refiner-cpu-v2.safetensors

The source is scikit-image's astronaut (public domain), scaled so that the warped region (the
face and the ring around it) is about --face pixels on its long side. Targets are random AU
changes around the source's own expression (a driving video's kind of request). Each size: a
warm-up batch, then --repeats timed batches; the table gives milliseconds per frame of each part
(EditedBatch.seconds; "landmarks" is the rig, lid/lip constraints and fold removal) and in all.
The last column is the wall clock per frame when the pipeline's render loop edits --workers
batches at once (threads; the pipeline's default on 2 cores). Goal (issue 8): the warp <= 15 ms
per 512x512 face on these 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def scaled_astronaut(face: int | None):
    from PIL import Image
    from skimage import data

    img = np.array(data.astronaut())
    if face is None:
        return img, 1.0
    scale = face / 155.0  # the astronaut's warp region is about 155 px tall
    size = (round(img.shape[1] * scale), round(img.shape[0] * scale))
    return np.array(Image.fromarray(img).resize(size, Image.BICUBIC)), scale


def time_size(face: int | None, args) -> dict:
    import torch

    from reenact.model.registry import build_editor
    from reenact.pipelines import ReenactPipeline

    editor = build_editor("warp+refiner" if args.refiner else "warp", weights=args.refiner)
    img, _ = scaled_astronaut(face)
    src = ReenactPipeline(editor).prepare_source(img)
    prepared = editor.prepare(src)
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.25, (args.batch, len(src.aus)))
    targets = np.clip(src.aus[None] + noise, 0, 1).astype(np.float32)
    editor.edit(prepared, targets)
    parts: dict[str, float] = {}
    landmarks_cpu = 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(args.repeats):
        t, c = time.perf_counter(), time.process_time()
        editor.target_landmarks(prepared, targets)
        parts["landmarks"] = parts.get("landmarks", 0.0) + time.perf_counter() - t
        landmarks_cpu = landmarks_cpu + time.process_time() - c
        batch = editor.edit(prepared, targets)
        for k, v in batch.seconds.items():
            parts[k] = parts.get(k, 0.0) + v
    total = time.perf_counter() - t0 - parts["landmarks"]
    cpu = time.process_time() - c0 - landmarks_cpu
    n = args.repeats * args.batch
    x0, y0, x1, y1 = prepared.box
    return {"image": f"{img.shape[1]}x{img.shape[0]}", "region": f"{x1 - x0}x{y1 - y0}",
            "threads": torch.get_num_threads(), **{k: 1e3 * v / n for k, v in parts.items()},
            "total": 1e3 * total / n, "cpu": 1e3 * cpu / n,
            "workers": 1e3 * time_workers(editor, prepared, targets, args) / n}


def time_workers(editor, prepared, targets: np.ndarray, args) -> float:
    """Wall seconds of the same batches through the pipeline's render loop with ``--workers``
    batches edited at once (``reenact.render.renderer.render_batches``)."""
    from reenact.render.renderer import render_batches

    rows = np.tile(targets, (args.repeats, 1))
    t = time.perf_counter()
    for _ in render_batches(editor, prepared, rows, batch_size=args.batch, workers=args.workers):
        pass
    return time.perf_counter() - t


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faces", nargs="+", type=int, default=[0, 512], help="warp region sizes (0: as is)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--refiner", default=None, help="refiner weights (default: the warp alone)")
    p.add_argument("--workers", type=int, default=2,
                   help="batches edited at once for the last column (the pipeline's default: 2)")
    args = p.parse_args(argv)
    from reenact.device import set_cpu_threads

    set_cpu_threads(args.threads)  # torch and OpenCV
    rows = [time_size(f or None, args) for f in args.faces]
    keys = [k for k in ("landmarks", "warp", "generate") if k in rows[0]]
    head = " | ".join(f"{k} ms" for k in keys)
    print(f"| image | warp region | threads | {head} | all ms/frame | fps | CPU ms/frame | "
          f"{args.workers} workers: ms/frame |")
    print("|---|---|---|" + "---|" * (len(keys) + 4))
    for r in rows:
        cells = " | ".join(f"{r[k]:.1f}" for k in keys)
        print(f"| {r['image']} | {r['region']} | {r['threads']} | {cells} | {r['total']:.1f} | "
              f"{1e3 / r['total']:.0f} | {r['cpu']:.1f} | {r['workers']:.1f} |")
    print("\n(landmarks is part of warp; all = everything the editor does per frame, wall clock; CPU = "
          "the process's CPU time per frame, the wall time it would take on a free core when every "
          f"library runs on one thread; {args.workers} workers = wall clock per frame with that many "
          "batches edited at once, as the pipeline renders)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
