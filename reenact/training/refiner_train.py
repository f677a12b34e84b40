"""Training the refiner (``reenact train-refiner``) on paired warps (``refiner_data``).

Losses, on the composed crop ``out = warp + G (1 - A) (C - warp)`` against the real frame:
- reconstruction: L1 over the face (x3 inside the gate, where the refiner may paint), SSIM and an
  image-gradient L1 inside the gate (keeps edges such as teeth and lash lines sharp);
- GANimation's attention terms: mean of the edit weight G (1 - A) (paint only where needed) and the
  total variation of A (smooth masks);
- optionally (``adversarial > 0``) GANimation's critic with its AU head (``training.critic``): a
  hinge PatchGAN on the crops, the AU head learning the real frames' AUs, the refiner pushed so
  that the critic reads the target AUs on its output.

Every step is seeded, checkpoints hold model, EMA, optimisers, step and RNG state, and training
resumes from the last checkpoint of a run folder. A horizontal flip (left/right AUs swapped) is
applied to half of each batch.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from reenact.au.space import COND_DIM, COND_FLIP
from reenact.errors import InputError
from reenact.model.refiner import Refiner, RefinerConfig, compose_refined, load_refiner, save_refiner
from reenact.training.critic import Critic, CriticConfig


@dataclass(frozen=True)
class RefinerTrainConfig:
    """Options of a refiner training run (saved in the run folder and every checkpoint)."""

    refiner: RefinerConfig = field(default_factory=RefinerConfig)
    steps: int = 4000
    batch_size: int = 16
    patch: int | None = 64  # train on patches around the gate (None: whole crops)
    lr: float = 2e-4
    ema: float = 0.999
    l1: float = 1.0
    gate_l1: float = 3.0  # extra L1 weight inside the gate
    ssim: float = 0.5
    gradient: float = 0.5
    attention: float = 0.02  # mean edit weight
    attention_tv: float = 1e-3
    adversarial: float = 0.0  # 0: no critic
    au_loss: float = 0.0  # the critic's AU head on the refined crops
    critic_channels: int = 32
    log_every: int = 50
    checkpoint_every: int = 500
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


class PairBatches:
    """Random batches of a paired data set (``refiner_data``), float tensors in [-1, 1] / [0, 1]."""

    def __init__(self, path: str | Path):
        with np.load(path) as z:
            self.arrays = {k: z[k] for k in ("crops", "masks", "cond", "targets", "face")}
        self.n = len(self.arrays["crops"])

    def batch(self, size: int, rng: np.random.Generator, patch: int | None = None) -> dict[str, torch.Tensor]:
        """``size`` samples; with ``patch``, a patch x patch window of each around a random point
        of its gate (the mouth, an eye, a rising AU's region), jittered."""
        idx = rng.integers(0, self.n, size)
        a = {k: v[idx] for k, v in self.arrays.items()}
        if patch is not None:
            windows = [_window(g, patch, rng) for g in a["masks"][:, 2]]
            for k in ("crops", "masks", "targets", "face"):
                a[k] = np.stack([v[:, y:y + patch, x:x + patch]
                                 for v, (y, x) in zip(a[k], windows, strict=True)])
        out = {"crop": torch.from_numpy(a["crops"]).float() / 127.5 - 1.0,
               "masks": torch.from_numpy(a["masks"]).float() / 255.0,
               "cond": torch.from_numpy(a["cond"].astype(np.float32)),
               "target": torch.from_numpy(a["targets"]).float() / 127.5 - 1.0,
               "face": torch.from_numpy(a["face"]).float() / 255.0}
        flip = torch.from_numpy(rng.random(size) < 0.5)
        for k in ("crop", "masks", "target", "face"):
            out[k][flip] = out[k][flip].flip(-1)
        perm = COND_FLIP + [COND_DIM + i for i in COND_FLIP]
        out["cond"][flip] = out["cond"][flip][:, perm]
        return out


def _window(gate: np.ndarray, patch: int, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left corner of a patch around a gate-weighted random point (jittered, inside the crop)."""
    size = gate.shape[-1]
    w = gate.astype(np.float64).ravel()
    if w.sum() <= 0:
        cy, cx = rng.integers(0, size, 2)
    else:
        cy, cx = divmod(int(rng.choice(len(w), p=w / w.sum())), size)
    jitter = rng.integers(-patch // 4, patch // 4 + 1, 2)
    y = int(np.clip(cy - patch // 2 + jitter[0], 0, size - patch))
    x = int(np.clip(cx - patch // 2 + jitter[1], 0, size - patch))
    return y, x


def _gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def ssim_map(x: torch.Tensor, y: torch.Tensor, window: int = 7) -> torch.Tensor:
    """(B, C, H, W) SSIM of two images in [-1, 1] over a box window (same size as the input)."""
    pool = lambda t: F.avg_pool2d(t, window, 1, window // 2, count_include_pad=False)  # noqa: E731
    c1, c2 = (0.01 * 2) ** 2, (0.03 * 2) ** 2
    mx, my = pool(x), pool(y)
    vx, vy, cxy = pool(x * x) - mx * mx, pool(y * y) - my * my, pool(x * y) - mx * my
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))


def reconstruction_losses(out: torch.Tensor, target: torch.Tensor, face: torch.Tensor, gate: torch.Tensor,
                          config: RefinerTrainConfig) -> dict[str, torch.Tensor]:
    """L1 over the face (more in the gate), 1 - SSIM and gradient L1 in the gate."""
    w = face * (1.0 + config.gate_l1 * gate)
    l1 = ((out - target).abs() * w).sum() / (w.sum() * 3 + 1e-6)
    ssim = ((1.0 - ssim_map(out, target)) * gate).sum() / (gate.sum() * 3 + 1e-6)
    (ox, oy), (tx, ty) = _gradients(out), _gradients(target)
    gx, gy = gate[..., :, 1:], gate[..., 1:, :]
    grad = (((ox - tx).abs() * gx).sum() / (gx.sum() * 3 + 1e-6)
            + ((oy - ty).abs() * gy).sum() / (gy.sum() * 3 + 1e-6))
    return {"l1": l1, "ssim": ssim, "gradient": grad}


def attention_losses(attention: torch.Tensor, gate: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean edit weight G (1 - A) and total variation of A."""
    ax, ay = _gradients(attention)
    return {"attention": (gate * (1.0 - attention)).mean(), "attention_tv": ax.abs().mean() + ay.abs().mean()}


@dataclass
class TrainState:
    refiner: Refiner
    ema: Refiner
    opt: torch.optim.Optimizer
    critic: Critic | None = None
    opt_d: torch.optim.Optimizer | None = None
    step: int = 0


def new_state(config: RefinerTrainConfig) -> TrainState:
    torch.manual_seed(config.seed)
    refiner = Refiner(config.refiner)
    ema = Refiner(config.refiner)
    ema.load_state_dict(refiner.state_dict())
    opt = torch.optim.Adam(refiner.parameters(), lr=config.lr, betas=(0.5, 0.999))
    critic = opt_d = None
    if config.adversarial > 0 or config.au_loss > 0:
        size = config.patch or config.refiner.image_size
        critic = Critic(CriticConfig(image_size=size, channels=config.critic_channels,
                                     n_layers=4, max_channels=256))
        opt_d = torch.optim.Adam(critic.parameters(), lr=config.lr, betas=(0.5, 0.999))
    return TrainState(refiner, ema, opt, critic, opt_d)


def train_step(state: TrainState, batch: dict[str, torch.Tensor], config: RefinerTrainConfig
               ) -> dict[str, float]:
    """One optimisation step (critic first when there is one); returns the losses."""
    gate = batch["masks"][:, 2:3]
    logs: dict[str, float] = {}
    if state.critic is not None:
        with torch.no_grad():
            color, attention = state.refiner(batch["crop"], batch["masks"], batch["cond"])
            fake = compose_refined(batch["crop"], color, attention, gate)
        real_s, real_au = state.critic(batch["target"])
        fake_s, _ = state.critic(fake)
        d_loss = F.relu(1 - real_s).mean() + F.relu(1 + fake_s).mean() \
            + F.mse_loss(real_au, batch["cond"][:, :COND_DIM])
        state.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        state.opt_d.step()
        logs["critic"] = float(d_loss.detach())
    color, attention = state.refiner(batch["crop"], batch["masks"], batch["cond"])
    out = compose_refined(batch["crop"], color, attention, gate)
    terms = {**reconstruction_losses(out, batch["target"], batch["face"], gate, config),
             **attention_losses(attention, gate)}
    if state.critic is not None:
        scores, aus = state.critic(out)
        terms["adversarial"] = -scores.mean()
        terms["au_loss"] = F.mse_loss(aus, batch["cond"][:, :COND_DIM])
    total = sum(getattr(config, k) * v for k, v in terms.items())
    state.opt.zero_grad(set_to_none=True)
    total.backward()
    state.opt.step()
    with torch.no_grad():
        for pe, p in zip(state.ema.parameters(), state.refiner.parameters(), strict=True):
            pe.lerp_(p, 1.0 - config.ema)
        for be, b in zip(state.ema.buffers(), state.refiner.buffers(), strict=True):
            be.copy_(b)
    state.step += 1
    return logs | {k: float(v.detach()) for k, v in terms.items()} | {"total": float(total.detach())}


def save_checkpoint(state: TrainState, path: Path, config: RefinerTrainConfig, rng: np.random.Generator
                    ) -> None:
    blob = {"refiner": state.refiner.state_dict(), "ema": state.ema.state_dict(),
            "opt": state.opt.state_dict(), "step": state.step, "config": config.to_dict(),
            "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()}
    if state.critic is not None:
        blob |= {"critic": state.critic.state_dict(), "opt_d": state.opt_d.state_dict()}
    tmp = path.with_suffix(".part")
    torch.save(blob, tmp)
    tmp.replace(path)


def load_checkpoint(state: TrainState, path: Path, rng: np.random.Generator) -> None:
    blob = torch.load(path, weights_only=False)
    state.refiner.load_state_dict(blob["refiner"])
    state.ema.load_state_dict(blob["ema"])
    state.opt.load_state_dict(blob["opt"])
    if state.critic is not None and "critic" in blob:
        state.critic.load_state_dict(blob["critic"])
        state.opt_d.load_state_dict(blob["opt_d"])
    state.step = int(blob["step"])
    rng.bit_generator.state = blob["rng"]
    torch.set_rng_state(blob["torch_rng"])


def train_refiner(data: str | Path, run_dir: str | Path, config: RefinerTrainConfig = RefinerTrainConfig(), *,
                  log: Callable[[str], None] = print, should_stop: Callable[[], bool] = lambda: False
                  ) -> TrainState:
    """Train (or resume) in ``run_dir``: ``last.pt`` checkpoints, ``log.jsonl``, ``config.json``,
    and ``refiner.safetensors`` (the EMA weights, fp16) at the end."""
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    batches = PairBatches(data)
    rng = np.random.default_rng(config.seed)
    state = new_state(config)
    ckpt = run / "last.pt"
    if ckpt.is_file():
        load_checkpoint(state, ckpt, rng)
        log(f"resumed at step {state.step}")
    state.refiner.train()
    try:
        _loop(state, batches, config, rng, run, ckpt, log, should_stop)
    except KeyboardInterrupt:  # Ctrl-C / SIGTERM: keep what was learnt
        save_checkpoint(state, ckpt, config, rng)
        raise
    save_checkpoint(state, ckpt, config, rng)
    save_refiner(state.ema, run / "refiner.safetensors",
                 metadata={"steps": str(state.step), "data": Path(data).name})
    return state


def _loop(state: TrainState, batches: PairBatches, config: RefinerTrainConfig, rng: np.random.Generator,
          run: Path, ckpt: Path, log: Callable[[str], None], should_stop: Callable[[], bool]) -> None:
    t0, seen = time.perf_counter(), 0
    with open(run / "log.jsonl", "a") as logfile:
        while state.step < config.steps and not should_stop():
            losses = train_step(state, batches.batch(config.batch_size, rng, config.patch), config)
            seen += config.batch_size
            if state.step % config.log_every == 0:
                rate = seen / (time.perf_counter() - t0)
                logfile.write(json.dumps({"step": state.step, **losses, "img_s": rate}) + "\n")
                logfile.flush()
                log(f"step {state.step}: " + " ".join(f"{k} {v:.4f}" for k, v in losses.items())
                    + f" ({rate:.1f} img/s)")
            if state.step % config.checkpoint_every == 0:
                save_checkpoint(state, ckpt, config, rng)


def _finished_steps(path: Path) -> int:
    """The steps a run's ``refiner.safetensors`` was trained for (checked readable)."""
    from safetensors import safe_open

    load_refiner(path)
    with safe_open(str(path), framework="pt") as f:
        return int((f.metadata() or {}).get("steps", 0))


def export_refiner(run_dir: str | Path, weights: str | Path) -> Path:
    """Write a run's EMA refiner to ``weights``: the finished run's ``refiner.safetensors``
    (checked readable), or the EMA of its ``last.pt`` when that checkpoint is further on (a run
    still training, or resumed for more steps: the finished file would be the older weights).

    Raises:
        InputError: the run has neither. WeightsError: its refiner cannot be read.
    """
    run = Path(run_dir)
    src, ckpt = run / "refiner.safetensors", run / "last.pt"
    done = _finished_steps(src) if src.is_file() else -1
    if ckpt.is_file():
        blob = torch.load(ckpt, weights_only=False, map_location="cpu")
        if int(blob["step"]) > done:
            ema = Refiner(RefinerConfig(**blob["config"]["refiner"]))
            ema.load_state_dict(blob["ema"])
            save_refiner(ema.eval(), weights, metadata={"steps": str(blob["step"]), "from": "last.pt"})
            return Path(weights)
    if not src.is_file():
        raise InputError(f"{run} holds no refiner run (no refiner.safetensors, no last.pt)")
    shutil.copyfile(src, weights)
    return Path(weights)
