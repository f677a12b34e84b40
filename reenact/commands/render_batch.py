"""`reenact render-batch FACES TARGETS OUT_DIR`: one image per (face, AU target) + a manifest.

Render each photo in FACES with each AU target in TARGETS into OUT_DIR, one PNG per pair, and
record every pair in OUT_DIR/manifest.jsonl (source, target AUs, output, face found or why not).
Resumable: a rerun skips finished pairs and redoes half-written ones. Split the work over
processes or machines with --shard K/N. See docs/reenact.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from reenact.au.targets import read_targets
from reenact.commands import options
from reenact.device import pick_device
from reenact.io.files import check_writable_folder
from reenact.pipelines import RenderBatchPipeline
from reenact.pipelines.render_batch import check_out_dir, list_faces, parse_shard


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("faces", type=Path, help="folder of photos, or a text file with one photo path per line")
    p.add_argument("targets", type=Path,
                   help="AU targets: CSV (name, preset, intensity, AU columns) or YAML/JSON list")
    p.add_argument("out_dir", type=Path, help="output folder (created if missing)")
    p.add_argument("--shard", default=None, metavar="K/N",
                   help="render only faces K, K+N, K+2N, ... (0 <= K < N); one process per GPU/machine")
    p.add_argument("--crop", action="store_true",
                   help="write the 128x128 aligned face crop instead of the full photo")
    options.add_render_options(p, video=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    shard = parse_shard(args.shard)
    config = options.render_config(args)
    faces = list_faces(args.faces)
    targets = read_targets(args.targets)
    check_out_dir(args.out_dir, faces, targets,
                  inputs={f"the FACES {'folder' if args.faces.is_dir() else 'list'}": args.faces,
                          "the TARGETS file": args.targets, "the --weights file": args.weights})
    check_writable_folder(args.out_dir)
    device = pick_device(args.device)
    pipeline = RenderBatchPipeline.from_pretrained(args.weights, config, model=args.model).to(device)
    mine = len(range(shard[0], len(faces), shard[1]))
    with tqdm(total=mine * len(targets), unit="image", desc="render-batch", disable=args.quiet,
              dynamic_ncols=True) as bar:
        summary = pipeline(faces, targets, args.out_dir, shard=shard, crop=args.crop, progress=bar.update)
    if not args.quiet:
        print(f"{args.out_dir}: {summary.line()}")
    return 0
