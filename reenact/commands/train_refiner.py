"""`reenact train-refiner`: make the refiner's paired data and train it (CPU or CUDA).

    reenact train-refiner --make-data ../shared/media/talking --landmarks data/rig/clips.npz \\
        --exclude W011 feifeili reagan -o data/refiner_pairs.npz       # pairs from talking clips
    reenact train-refiner data/refiner_pairs.npz -o runs/refiner --steps 6000
    reenact train-refiner --export runs/refiner weights/refiner-cpu-v2.safetensors
    reenact train-refiner data/refiner_heldout.npz --check weights/refiner-cpu-v2.safetensors x.safetensors

Training resumes from RUN/last.pt; Ctrl-C or SIGTERM saves a checkpoint first.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch
from tqdm import tqdm

from reenact.commands import options
from reenact.errors import InputError
from reenact.interrupt import Interrupted
from reenact.io.video import list_clips
from reenact.model.registry import load_registered_rig
from reenact.model.warp_editor import WarpEditor
from reenact.training.landmarks import LandmarkSet
from reenact.training.refiner_check import check_refiners, check_table
from reenact.training.refiner_data import PairConfig, build_dataset, save_pairs
from reenact.training.refiner_train import RefinerTrainConfig, export_refiner, train_refiner


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", nargs="?", type=Path, help="paired data (.npz from --make-data)")
    p.add_argument("-o", "--out", type=Path, help="run folder (training) or .npz (--make-data)")
    p.add_argument("--make-data", nargs="*", type=Path, metavar="CLIPS",
                   help="clips or folders of talking clips to pair (needs --landmarks)")
    p.add_argument("--landmarks", type=Path, help="their measured landmarks (fit-rig's --cache clips.npz)")
    p.add_argument("--exclude", nargs="*", default=[], metavar="PREFIX", help="held-out clip name prefixes")
    p.add_argument("--only", nargs="*", default=[], metavar="PREFIX",
                   help="use only clips with these name prefixes (e.g. a held-out evaluation set)")
    options.config_option(p, "--pairs-per-clip", PairConfig, "pairs_per_clip", help="(default %(default)s)")
    options.config_option(p, "--steps", RefinerTrainConfig, "steps", help="(default %(default)s)")
    options.config_option(p, "--batch-size", RefinerTrainConfig, "batch_size", help="(default %(default)s)")
    options.config_option(p, "--adversarial", RefinerTrainConfig, "adversarial",
                          help="weight of the critic (default %(default)s: none)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (1 is much faster on a CPU shared with other jobs)")
    p.add_argument("--export", nargs=2, type=Path, metavar=("RUN", "WEIGHTS"),
                   help="copy a run's EMA refiner to WEIGHTS (fp16 safetensors)")
    p.add_argument("--check", nargs="+", type=Path, metavar="WEIGHTS",
                   help="score refiner weights on DATA (held-out pairs): the warp alone and each file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.export:
        print(f"wrote {export_refiner(*args.export)}")
        return 0
    if args.make_data is not None:
        return _make_data(args)
    if args.check:
        if args.data is None:
            raise InputError("--check needs DATA: the held-out pairs (.npz from --make-data ... --only)")
        results, n = check_refiners(args.check, args.data)
        print(check_table(results, n))
        return 0
    if args.data is None or args.out is None:
        raise InputError("give DATA and -o RUN (or --make-data / --export)")
    if not args.data.is_file():
        raise InputError(f"paired data {args.data} does not exist; make it with --make-data")
    if args.threads:
        torch.set_num_threads(args.threads)
    config = replace(RefinerTrainConfig(), steps=args.steps, batch_size=args.batch_size,
                     adversarial=args.adversarial, au_loss=0.1 * args.adversarial)
    try:
        train_refiner(args.data, args.out, config, log=lambda line: print(line, flush=True))
    except (KeyboardInterrupt, Interrupted):
        print(f"reenact: interrupted; the last checkpoint in {args.out} resumes the run")
        raise
    print(f"wrote {args.out / 'refiner.safetensors'}")
    return 0


def _make_data(args: argparse.Namespace) -> int:
    if args.landmarks is None or args.out is None:
        raise InputError("--make-data needs --landmarks (fit-rig's clips.npz) and -o OUT.npz")
    data = LandmarkSet.load(args.landmarks)
    clips = list_clips(args.make_data)
    if args.only:
        clips = tuple(c for c in clips if any(c.stem.startswith(o) for o in args.only))
    editor = WarpEditor(load_registered_rig())
    with tqdm(desc="pairing clips", unit="clip") as bar:
        pairs = build_dataset(clips, data, editor=editor, exclude=tuple(args.exclude),
                              config=PairConfig(pairs_per_clip=args.pairs_per_clip), progress=bar.update)
    save_pairs(pairs, args.out)
    print(f"wrote {len(pairs['crops'])} pairs from {len(pairs['clip_names'])} clips to {args.out}")
    return 0
