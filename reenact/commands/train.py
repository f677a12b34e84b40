"""`reenact train DATASET -o RUN`: train GANimation; `reenact train --export RUN -o G.safetensors`.

The run itself is ``reenact.training.train.train`` (its folder's layout is described there).

Train G and the critic on DATASET (from `reenact prepare-data`) into RUN. With --export RUN, write
RUN's EMA generator as fp16 safetensors to -o instead. Multi-GPU: torchrun --nproc_per_node N -m
reenact train ...
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from reenact.au.script import parse_text
from reenact.errors import InputError, OutputError
from reenact.io.files import check_distinct, check_writable_folder, is_inside
from reenact.pipelines.evaluation.periodic import PeriodicEval
from reenact.training.loop import TrainConfig
from reenact.training.train import export_generator, train


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", nargs="?", type=Path, help="prepared data set folder")
    p.add_argument("-o", "--out", type=Path, required=True,
                   help="run folder (training) or .safetensors file (--export)")
    p.add_argument("--config", type=Path, help="YAML/JSON file of TrainConfig fields (nested), e.g. "
                   "{generator: {channels: 32, n_res: 4}, batch_size: 16}")
    p.add_argument("--resume", action="store_true", help="continue RUN from checkpoints/last.pt")
    p.add_argument("--steps", type=int, help="total critic steps of the run (overrides the config)")
    p.add_argument("--batch-size", type=int, help="batch per process (overrides the config)")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"],
                   help="auto: bf16 autocast on CUDA, fp32 on CPU; bf16 is ~4x faster on CPUs with AMX")
    p.add_argument("--max-minutes", type=float, default=0.0,
                   help="stop (with a checkpoint) after this many minutes of wall time (0: no limit)")
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    p.add_argument("--export", type=Path, metavar="RUN",
                   help="export RUN's EMA generator (fp16 safetensors) to -o and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.export:
        step = export_generator(args.export, args.out)
        print(f"exported EMA generator of {args.export} at step {step} to {args.out} "
              f"({args.out.stat().st_size / 1e6:.1f} MB)")
        return 0
    if args.dataset is None:
        raise InputError("give the prepared DATASET folder (or --export RUN)")
    _check_run_dir(args.dataset, args.out, args.config)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = None if args.resume else _load_config(args)
    train(args.dataset, args.out, config, resume=args.resume, steps=args.steps, device=args.device,
          max_minutes=args.max_minutes, evaluate=PeriodicEval(args.out))
    return 0


def _load_config(args: argparse.Namespace):
    raw: dict = {}
    if args.config:
        raw = _read_config_file(args.config)
    for key, value in (("batch_size", args.batch_size), ("precision", args.precision)):
        if value is not None:
            raw[key] = value
    try:
        return TrainConfig.from_dict(raw)
    except (TypeError, ValueError) as exc:  # a nested section with unknown fields or of the wrong type
        where = f"config {args.config}" if args.config else "training options"
        raise InputError(f"{where}: {exc}; see the TrainConfig fields in reenact/training/") from exc


def _read_config_file(path: Path) -> dict:
    """A YAML/JSON mapping of TrainConfig fields; syntax errors name their line."""
    if path.is_dir():
        raise InputError(f"config {path} is a folder; give a YAML or JSON file")
    if not path.is_file():
        raise InputError(f"config file {path} not found; give a YAML or JSON file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"config {path} is not a text file; give a YAML or JSON file") from exc
    data, _ = parse_text(text, path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"config {path} must be a mapping of TrainConfig fields, like {{batch_size: 16}}")
    return data


def _check_run_dir(dataset: Path, run_dir: Path, config: Path | None) -> None:
    """Before any work: the run folder is not the data set (nor inside it, nor around it), does
    not overwrite --config, and files can be created there."""
    if is_inside(run_dir, dataset) or is_inside(dataset, run_dir):
        raise OutputError(f"run folder {run_dir} and data set {dataset} overlap: the run's files would mix "
                          "with the data; give -o a folder outside the data set")
    files = ("config.json", "scalars.jsonl", "checkpoints/last.pt")
    check_distinct({"--config": config}, {f"-o {name}": run_dir / name for name in files})
    check_writable_folder(run_dir)
