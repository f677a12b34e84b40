"""A whole GANimation training run: ``train(dataset, run_dir, config)``, and its export.

``train`` is what ``reenact train`` runs, callable from Python: it joins the data-parallel group
that torchrun describes (``reenact.training.ddp``), starts or resumes the run, broadcasts the
networks, then steps the ``Trainer`` (``reenact.training.loop``) while rank 0 logs, evaluates and
checkpoints. A run folder holds:

- ``config.json``: the ``TrainConfig``;
- ``checkpoints/last.pt``: resumable (config, networks, optimisers, step, RNG states);
- ``eval/step-XXXXXX/``: with an ``evaluate`` callback (``reenact train`` passes
  ``reenact.pipelines.evaluation.periodic.PeriodicEval``), ``reenact eval``'s report of the EMA
  generator on public faces (its headline numbers also go to the scalars as eval/*);
- ``scalars.jsonl`` and ``tb/`` (TensorBoard, when installed).

Ctrl-C and SIGTERM (``KeyboardInterrupt``, from ``reenact.interrupt``'s handler) still save a
checkpoint; so does ``max_minutes``. ``export_generator`` writes a run's EMA generator as fp16
safetensors.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import torch
from tqdm import tqdm

from reenact.errors import InputError, OutputError
from reenact.io.files import atomic_output, check_distinct, check_writable
from reenact.model.generator import Generator, GeneratorConfig, save_generator
from reenact.training import ddp
from reenact.training.data import FaceShards
from reenact.training.loop import TrainConfig, Trainer, build_trainer

PathArg = str | os.PathLike
#: ``evaluate(trainer)`` -> scalars to log: the run's periodic evaluation (rank 0 only).
EvaluateFn = Callable[[Trainer], dict[str, float]]


def checkpoint_path(run_dir: PathArg) -> Path:
    return Path(run_dir) / "checkpoints" / "last.pt"


def train(dataset: PathArg, run_dir: PathArg, config: TrainConfig | None = None, *, resume: bool = False,
          steps: int | None = None, device: str | None = None, max_minutes: float = 0.0,
          evaluate: EvaluateFn | None = None) -> Trainer:
    """Train on a prepared data set into ``run_dir`` (see the module docstring).

    Args:
        dataset: a folder from ``reenact prepare-data``.
        run_dir: the run folder (created).
        config: the run's options (new runs; default ``TrainConfig()``).
        resume: continue ``run_dir`` from its checkpoint, with the checkpoint's config.
        steps: total critic steps of the run (overrides the config's, also when resuming).
        device: "cuda" or "cpu"; default CUDA when available (each rank its own GPU).
        max_minutes: stop (with a checkpoint) after this much wall time; 0: no limit.
        evaluate: called every ``config.eval_every`` steps and at the end, on rank 0; its
            scalars are logged (None: no evaluation).

    Returns:
        The trainer, at the step the run stopped.

    Raises:
        InputError: nothing to resume, or an unreadable data set. OutputError: ``run_dir``
            already holds a run (and ``resume`` is off).
    """
    info = ddp.init_from_env(cpu=device == "cpu")
    run_dir = Path(run_dir)
    state, config = _start(run_dir, config, resume=resume, steps=steps, is_main=info.is_main)
    faces = FaceShards.load(dataset, include_held_out=config.data.include_held_out)
    trainer = build_trainer(config, faces, device=_device(device, info), rank=info.rank,
                            all_reduce=ddp.average_gradients if info.world_size > 1 else None)
    if state is not None:
        trainer.load_checkpoint_state(state)
        if info.world_size > 1:  # each rank keeps its own batches
            trainer.sampler.rng.manual_seed(config.seed * 1000 + info.rank + 7919 * trainer.step)
    for net in (trainer.generator, trainer.critic, trainer.ema):
        ddp.broadcast_parameters(net)
    try:
        with _RunLog(run_dir, trainer, info, evaluate) as log:
            _loop(log, max_minutes)
    finally:
        ddp.cleanup()
    if info.is_main:
        print(f"stopped at step {trainer.step} of {config.steps}; checkpoint {checkpoint_path(run_dir)}")
    return trainer


def _start(run_dir: Path, config: TrainConfig | None, *, resume: bool, steps: int | None,
           is_main: bool) -> tuple[dict | None, TrainConfig]:
    """(checkpoint state or None, the run's config) for a resumed or a new run."""
    ckpt = checkpoint_path(run_dir)
    if resume:
        if not ckpt.is_file():
            raise InputError(f"nothing to resume: {ckpt} does not exist; drop --resume")
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        raw = state["config"] | ({"steps": steps} if steps else {})
        return state, TrainConfig.from_dict(raw)
    if is_main and ckpt.exists():
        raise OutputError(f"{run_dir} already holds a run; use --resume or a new -o folder")
    config = config or TrainConfig()
    return None, dataclasses.replace(config, steps=steps) if steps else config


def _device(name: str | None, info: ddp.DistInfo) -> torch.device:
    device = torch.device(name or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and info.world_size > 1:
        device = torch.device("cuda", info.local_rank)
    return device


class _RunLog:
    """Rank 0's side of a run: config.json, checkpoints, scalars.jsonl, TensorBoard, evaluations.
    On other ranks every method does nothing. Leaving the block saves a checkpoint and evaluates
    (also on Ctrl-C / SIGTERM)."""

    def __init__(self, run_dir: Path, trainer: Trainer, info: ddp.DistInfo, evaluate: EvaluateFn | None):
        self.run_dir, self.trainer, self.info = run_dir, trainer, info
        self.periodic_eval = evaluate
        self.file: TextIO | None = None
        self.writer = None

    def __enter__(self) -> _RunLog:
        if not self.info.is_main:
            return self
        (self.run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        (self.run_dir / "config.json").write_text(json.dumps(self.trainer.config.to_dict(), indent=2))
        try:
            from torch.utils.tensorboard import SummaryWriter  # optional: the train extra

            self.writer = SummaryWriter(str(self.run_dir / "tb"))
        except ImportError:
            print("tensorboard is not installed: scalars go to scalars.jsonl only")
        self.file = open(self.run_dir / "scalars.jsonl", "a")
        return self

    def scalars(self, values: dict[str, float]) -> None:
        if self.file is None or not values:
            return
        step = self.trainer.step
        for k, v in values.items():
            if self.writer:
                self.writer.add_scalar(k, v, step)
        self.file.write(json.dumps({"step": step, "time": time.time(), **values}) + "\n")
        self.file.flush()

    def evaluate(self) -> None:
        if self.info.is_main and self.periodic_eval is not None:
            self.scalars(self.periodic_eval(self.trainer))

    def save(self) -> None:
        if not self.info.is_main:
            return
        state = self.trainer.checkpoint_state()
        state["world_size"] = self.info.world_size
        ckpt = checkpoint_path(self.run_dir)
        tmp = ckpt.with_suffix(".pt.part")
        torch.save(state, tmp)
        tmp.replace(ckpt)

    def __exit__(self, *exc) -> None:
        if not self.info.is_main:
            return
        try:
            self.save()
            self.evaluate()
        finally:
            self.file.close()
            if self.writer:
                self.writer.close()


def _loop(log: _RunLog, max_minutes: float) -> None:
    """Step until ``config.steps`` (or ``max_minutes``): scalars every ``log_every`` steps,
    evaluations every ``eval_every``, checkpoints every ``checkpoint_every``."""
    trainer, config, main = log.trainer, log.trainer.config, log.info.is_main
    t_start, step0 = time.time(), trainer.step
    acc: dict[str, list[float]] = {}
    with tqdm(total=config.steps, initial=trainer.step, desc="train", unit="step", disable=not main) as bar:
        while trainer.step < config.steps:
            for k, v in trainer.train_step().items():
                acc.setdefault(k, []).append(v)
            bar.update(1)
            step = trainer.step
            if main and step % config.log_every == 0:
                means = {k: sum(v) / len(v) for k, v in acc.items()}
                images = (step - step0) * config.batch_size * log.info.world_size
                means["img_per_s"] = images / max(time.time() - t_start, 1e-6)
                acc = {}
                log.scalars(means)
                bar.set_postfix(w=f"{means.get('d/wasserstein', 0):.2f}",
                                au=f"{means.get('g/au_fake', 0):.3f}",
                                att=f"{means.get('g/attention_mean', 0):.2f}")
            if config.eval_every and step % config.eval_every == 0:
                log.evaluate()
            if step % config.checkpoint_every == 0:
                log.save()
            if max_minutes and ddp.agree(time.time() - t_start > 60 * max_minutes):
                break


def export_generator(run_dir: PathArg, out: PathArg) -> int:
    """Write the EMA generator of ``run_dir``'s checkpoint as fp16 safetensors to ``out``; returns
    the checkpoint's step.

    Raises:
        InputError: ``run_dir`` has no checkpoint. OutputError: ``out`` cannot be written.
    """
    run_dir, out = Path(run_dir), Path(out)
    ckpt = checkpoint_path(run_dir)
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
    return int(state["step"])
