"""`reenact train DATASET -o RUN`: train GANimation; `reenact train --export RUN -o G.safetensors`.

A run folder holds config.json, checkpoints/last.pt (resumable: config, networks, optimisers,
step, RNG states), eval/step-XXXXXX/ (``reenact eval``'s report of the EMA generator on public
faces: report.json, report.md, contact_sheet.png; its headline numbers also go to the scalars as
eval/*), scalars.jsonl and tb/ (TensorBoard).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train the GANimation generator on a prepared data set",
        description="Train G and the critic on DATASET (from `reenact prepare-data`) into RUN. "
                    "With --export RUN, write RUN's EMA generator as fp16 safetensors to -o instead. "
                    "Multi-GPU: torchrun --nproc_per_node N -m reenact train ...")
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


def _load_config(args: argparse.Namespace):
    from reenact.errors import InputError
    from reenact.training.loop import TrainConfig

    raw: dict = {}
    if args.config:
        raw = _read_config_file(args.config)
    for key, value in (("steps", args.steps), ("batch_size", args.batch_size), ("precision", args.precision)):
        if value is not None:
            raw[key] = value
    try:
        return TrainConfig.from_dict(raw)
    except (TypeError, ValueError) as exc:  # a nested section with unknown fields or of the wrong type
        where = f"config {args.config}" if args.config else "training options"
        raise InputError(f"{where}: {exc}; see the TrainConfig fields in reenact/training/") from exc


def _read_config_file(path: Path) -> dict:
    """A YAML/JSON mapping of TrainConfig fields; syntax errors name their line."""
    from reenact.au.script import parse_text
    from reenact.errors import InputError

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


def export(run_dir: Path, out: Path) -> int:
    import torch

    from reenact.errors import InputError
    from reenact.io.files import atomic_output, check_distinct, check_writable
    from reenact.model.generator import Generator, GeneratorConfig, save_generator

    ckpt = run_dir / "checkpoints" / "last.pt"
    if not ckpt.is_file():
        raise InputError(f"{run_dir} has no checkpoints/last.pt; give a run folder of `reenact train`")
    check_distinct({"checkpoint": ckpt}, {"-o": out})
    check_writable(out)
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    cfg = state["config"]
    g = Generator(GeneratorConfig(**cfg["generator"]))
    g.load_state_dict(state["ema"])
    meta = {"step": str(state["step"]), "g_updates": str(state["g_updates"]),
            "images_seen": str(state["step"] * cfg["batch_size"] * state.get("world_size", 1)),
            "weights": "EMA of G", "train_config": json.dumps(cfg)}
    with atomic_output(out) as tmp:
        save_generator(g, tmp, metadata=meta, half=True)
        tmp.chmod(0o644)  # mkstemp makes it private; weights are meant to be shared
    print(f"exported EMA generator of {run_dir} at step {state['step']} to {out} "
          f"({out.stat().st_size / 1e6:.1f} MB)")
    return 0


class PeriodicEval:
    """The evaluation harness on the trainer's EMA generator (``reenact.eval.harness``).

    Each call writes run/eval/step-XXXXXX/ and returns the headline scalars; if the harness cannot
    run here (no face model, no scikit-image for the astronaut), it says so once and stays off.
    """

    def __init__(self, run_dir: Path, sources: tuple[str, ...]):
        self.folder = run_dir / "eval"
        self.sources = sources
        self.enabled = bool(sources)
        self.last_step: int | None = None

    def __call__(self, trainer) -> dict[str, float]:
        import copy

        from reenact.errors import ReenactError
        from reenact.eval.harness import evaluate_editor, headline
        from reenact.eval.report import write_report
        from reenact.eval.summary import summarize_targets
        from reenact.model.ganimation import GanimationEditor

        if not self.enabled or trainer.step == self.last_step:
            return {}
        self.last_step = trainer.step
        editor = GanimationEditor(copy.deepcopy(trainer.ema).float())
        try:
            evaluation = evaluate_editor(editor, self.sources, label=f"ema@{trainer.step}")
        except ReenactError as exc:
            print(f"periodic evaluation off: {exc}")
            self.enabled = False
            return {}
        write_report([evaluation], self.folder / f"step-{trainer.step:06d}", meta={"step": trainer.step})
        return {f"eval/{k}": v for k, v in headline(summarize_targets(evaluation)).items()}


def _check_run_dir(dataset: Path, run_dir: Path, config: Path | None) -> None:
    """Before any work: the run folder is not the data set (nor inside it, nor around it), does
    not overwrite --config, and files can be created there."""
    from reenact.errors import OutputError
    from reenact.io.files import check_distinct, check_writable_folder, is_inside

    if is_inside(run_dir, dataset) or is_inside(dataset, run_dir):
        raise OutputError(f"run folder {run_dir} and data set {dataset} overlap: the run's files would mix "
                          "with the data; give -o a folder outside the data set")
    files = ("config.json", "scalars.jsonl", "checkpoints/last.pt")
    check_distinct({"--config": config}, {f"-o {name}": run_dir / name for name in files})
    check_writable_folder(run_dir)


def run(args: argparse.Namespace) -> int:  # noqa: C901 - the CLI's one training loop
    import torch
    from tqdm import tqdm

    from reenact.errors import InputError, OutputError
    from reenact.training import ddp
    from reenact.training.data import FaceShards
    from reenact.training.loop import build_trainer

    if args.export:
        return export(args.export, args.out)
    if args.dataset is None:
        raise InputError("give the prepared DATASET folder (or --export RUN)")
    _check_run_dir(args.dataset, args.out, args.config)
    if args.threads:
        torch.set_num_threads(args.threads)
    info = ddp.init_from_env(cpu=args.device == "cpu")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and info.world_size > 1:
        device = torch.device("cuda", info.local_rank)
    run_dir: Path = args.out
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    state = None
    if args.resume:
        if not ckpt_path.is_file():
            raise InputError(f"nothing to resume: {ckpt_path} does not exist; drop --resume")
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        from reenact.training.loop import TrainConfig

        raw = state["config"]
        if args.steps:
            raw = {**raw, "steps": args.steps}
        config = TrainConfig.from_dict(raw)
    else:
        if info.is_main and ckpt_path.exists():
            raise OutputError(f"{run_dir} already holds a run; use --resume or a new -o folder")
        config = _load_config(args)
    faces = FaceShards.load(args.dataset, include_held_out=config.data.include_held_out)
    trainer = build_trainer(config, faces, device=device, rank=info.rank,
                            all_reduce=ddp.average_gradients if info.world_size > 1 else None)
    if state is not None:
        trainer.load_checkpoint_state(state)
        if info.world_size > 1:  # each rank keeps its own batches
            trainer.sampler.rng.manual_seed(config.seed * 1000 + info.rank + 7919 * trainer.step)
    ddp.broadcast_parameters(trainer.generator)
    ddp.broadcast_parameters(trainer.critic)
    ddp.broadcast_parameters(trainer.ema)

    writer = None
    if info.is_main:
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(run_dir / "tb"))
        except ImportError:
            print("tensorboard is not installed: scalars go to scalars.jsonl only")
    periodic_eval = PeriodicEval(run_dir, config.eval_sources if config.eval_every else ())

    def save() -> None:
        st = trainer.checkpoint_state()
        st["world_size"] = info.world_size
        tmp = ckpt_path.with_suffix(".pt.part")
        torch.save(st, tmp)
        tmp.replace(ckpt_path)

    def evaluate() -> None:
        scalars = periodic_eval(trainer)
        for k, v in scalars.items():
            if writer:
                writer.add_scalar(k, v, trainer.step)
        if scalars:
            log_file.write(json.dumps({"step": trainer.step, "time": time.time(), **scalars}) + "\n")
            log_file.flush()

    # Ctrl-C and `kill` (SIGTERM, handled by cli.main) raise KeyboardInterrupt: the finally below
    # still saves a checkpoint.
    t_start, step0 = time.time(), trainer.step
    log_file = open(run_dir / "scalars.jsonl", "a") if info.is_main else None
    bar = tqdm(total=config.steps, initial=trainer.step, desc="train", unit="step", disable=not info.is_main)
    acc: dict[str, list[float]] = {}
    try:
        while trainer.step < config.steps:
            logs = trainer.train_step()
            bar.update(1)
            for k, v in logs.items():
                acc.setdefault(k, []).append(v)
            step = trainer.step
            if info.is_main and step % config.log_every == 0:
                means = {k: sum(v) / len(v) for k, v in acc.items()}
                means["img_per_s"] = ((step - step0) * config.batch_size * info.world_size
                                      / max(time.time() - t_start, 1e-6))
                acc = {}
                for k, v in means.items():
                    if writer:
                        writer.add_scalar(k, v, step)
                log_file.write(json.dumps({"step": step, "time": time.time(), **means}) + "\n")
                log_file.flush()
                bar.set_postfix(w=f"{means.get('d/wasserstein', 0):.2f}",
                                au=f"{means.get('g/au_fake', 0):.3f}",
                                att=f"{means.get('g/attention_mean', 0):.2f}")
            if info.is_main and config.eval_every and step % config.eval_every == 0:
                evaluate()
            if info.is_main and step % config.checkpoint_every == 0:
                save()
            if args.max_minutes and ddp.agree(time.time() - t_start > 60 * args.max_minutes):
                break
    finally:
        bar.close()
        if info.is_main:
            save()
            evaluate()
            log_file.close()
            if writer:
                writer.close()
        ddp.cleanup()
    if info.is_main:
        print(f"stopped at step {trainer.step} of {config.steps}; checkpoint {ckpt_path}")
    return 0
