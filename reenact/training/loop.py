"""The GANimation training loop: WGAN-GP critic steps, a generator step every ``critic_steps``.

One *step* is one critic update on one batch; every ``critic_steps``-th step also updates G
(adversarial + AU + cycle + attention losses) and its EMA copy. Learning rates stay constant for
``decay_start`` of the run, then fall linearly to 0 at ``steps``.

The Trainer picks no device and writes no files: ``reenact train`` (reenact/commands/train.py)
builds it (through ``reenact.training.train.train``), runs ``train_step`` in a loop, saves
checkpoints (``checkpoint_state``) and hands the EMA generator to the ``evaluate`` callback it was
given (the command's: ``reenact.pipelines.evaluation.periodic.PeriodicEval``).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from dataclasses import dataclass, field

import torch

from reenact.errors import InputError
from reenact.model.generator import Generator, GeneratorConfig, compose
from reenact.training import losses
from reenact.training.critic import Critic, CriticConfig
from reenact.training.data import Batch, BatchSampler, DataConfig


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (reference-code values; ``au`` as in the MIT replication)."""

    gp: float = 10.0  # gradient penalty
    au: float = 160.0  # AU regression (mean squared error), critic on real and G on fake
    cycle: float = 10.0  # L1 of G(G(I, y_tgt), y_src) vs I
    attention_mean: float = 0.1  # mean(A), forward and cycle masks
    attention_tv: float = 1e-5  # total variation of A (L1 sum), forward and cycle masks


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; saved with every checkpoint."""

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    critic: CriticConfig = field(default_factory=CriticConfig)
    data: DataConfig = field(default_factory=DataConfig)
    weights: LossWeights = field(default_factory=LossWeights)
    batch_size: int = 25  # per process
    steps: int = 100_000  # critic steps in the whole run
    critic_steps: int = 5  # critic updates per generator update
    gp_every: int = 1  # gradient penalty on every k-th critic step, weighted by k (lazy, as StyleGAN2)
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)
    decay_start: float = 2 / 3  # fraction of the run before the linear decay of the lr
    ema_decay: float = 0.999  # EMA of G's weights (with a warm-up: min(decay, (1+n)/(10+n)))
    precision: str = "auto"  # 'fp32' | 'bf16' | 'auto' (bf16 on CUDA, fp32 on CPU)
    seed: int = 0
    log_every: int = 50  # steps between TensorBoard scalars
    eval_every: int = 1000  # steps between evaluations of the EMA G (reenact eval's harness); 0: off
    eval_sources: tuple[str, ...] = ("astronaut", "astronaut:grey", "media/single_face.jpg")  # public faces
    checkpoint_every: int = 1000  # steps between checkpoints

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> TrainConfig:
        """Build from a (possibly partial) nested dict, e.g. a YAML file or a checkpoint."""
        nested = {"generator": GeneratorConfig, "critic": CriticConfig, "data": DataConfig,
                  "weights": LossWeights}
        if "sample_every" in raw:  # its name before the harness replaced the sample grids
            raw = {("eval_every" if k == "sample_every" else k): v for k, v in raw.items()}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise InputError(f"unknown training options {sorted(unknown)}; known: {sorted(known)}")
        kwargs = {}
        for key, value in raw.items():
            if key in nested:
                value = value if dataclasses.is_dataclass(value) else nested[key](**value)
            elif key in ("betas", "eval_sources"):
                value = tuple(value)
            kwargs[key] = value
        return cls(**kwargs)


def resolve_precision(precision: str, device: torch.device) -> str:
    if precision == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    if precision not in ("fp32", "bf16"):

        raise InputError(f"precision must be fp32, bf16 or auto, not {precision!r}")
    return precision


class Trainer:
    """Holds G, its EMA, D, their optimisers and the batch sampler; ``train_step`` advances one step.

    Args:
        config: the run's configuration.
        sampler: draws training batches.
        device: where the networks live (the caller picks it).
        all_reduce: called on each model's parameters after backward in data-parallel runs
            (``reenact.training.ddp.average_gradients``); None for one process.
    """

    def __init__(self, config: TrainConfig, sampler: BatchSampler, *, device: torch.device | str = "cpu",
                 all_reduce=None):
        self.config = config
        self.sampler = sampler
        self.device = torch.device(device)
        self.precision = resolve_precision(config.precision, self.device)
        self.all_reduce = all_reduce
        torch.manual_seed(config.seed)
        self.generator = Generator(config.generator).to(self.device)
        self.critic = Critic(config.critic).to(self.device)
        if self.device.type == "cuda":
            self.generator = self.generator.to(memory_format=torch.channels_last)
            self.critic = self.critic.to(memory_format=torch.channels_last)
        self.ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr, betas=config.betas)
        self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=config.lr, betas=config.betas)
        self.step = 0
        self.g_updates = 0
        self.rng = torch.Generator().manual_seed(config.seed + 1)  # gradient-penalty interpolation

    # -- helpers -------------------------------------------------------------------------------
    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _to_device(self, batch: Batch) -> Batch:
        fmt = torch.channels_last if self.device.type == "cuda" else torch.contiguous_format
        return Batch(real=batch.real.to(self.device, non_blocking=True).contiguous(memory_format=fmt),
                     cond_real=batch.cond_real.to(self.device), cond_target=batch.cond_target.to(self.device))

    def learning_rate(self, step: int) -> float:
        """Constant, then linear decay to 0 from decay_start * steps to steps."""
        cfg = self.config
        start = cfg.decay_start * cfg.steps
        if step < start:
            return cfg.lr
        return cfg.lr * max(0.0, (cfg.steps - step) / max(cfg.steps - start, 1.0))

    def _set_lr(self) -> None:
        lr = self.learning_rate(self.step)
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] = lr

    def _sync(self, module: torch.nn.Module) -> None:
        if self.all_reduce is not None:
            self.all_reduce(module)

    def generate(self, face: torch.Tensor, cond: torch.Tensor, *, net: Generator | None = None):
        """(face, cond) -> (composed image, attention) with G (or ``net``)."""
        color, attention = (net or self.generator)(face, cond)
        return compose(face, color, attention), attention

    # -- one step ------------------------------------------------------------------------------
    def critic_step(self, batch: Batch) -> dict[str, float]:
        w = self.config.weights
        with torch.no_grad(), self._autocast():
            fake, _ = self.generate(batch.real, batch.cond_target)
        with self._autocast():
            real_scores, real_aus = self.critic(batch.real)
            fake_scores, _ = self.critic(fake.detach())
            loss_adv = losses.critic_wgan_loss(real_scores, fake_scores)
            loss_au = losses.au_loss(real_aus, batch.cond_real)
            k = self.config.gp_every
            if self.step % k == 0:
                loss_gp = losses.gradient_penalty(lambda x: self.critic(x)[0], batch.real, fake,
                                                  generator=self.rng)
            else:
                loss_gp = torch.zeros((), device=self.device)
        loss = loss_adv + k * w.gp * loss_gp + w.au * loss_au
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self._sync(self.critic)
        self.opt_d.step()
        logs = {"d/wasserstein": -loss_adv.item(), "d/au_real": loss_au.item(), "d/loss": loss.item()}
        if self.step % k == 0:
            logs["d/gp"] = loss_gp.item()
        return logs

    def generator_step(self, batch: Batch) -> dict[str, float]:
        w = self.config.weights
        self.critic.requires_grad_(False)
        with self._autocast():
            fake, att = self.generate(batch.real, batch.cond_target)
            fake_scores, fake_aus = self.critic(fake)
            rec, att_rec = self.generate(fake, batch.cond_real)
            loss_adv = losses.generator_wgan_loss(fake_scores)
            loss_au = losses.au_loss(fake_aus, batch.cond_target)
            loss_cyc = losses.cycle_loss(rec, batch.real)
            loss_att = losses.attention_mean_loss(att) + losses.attention_mean_loss(att_rec)
            loss_tv = losses.attention_tv_loss(att) + losses.attention_tv_loss(att_rec)
        loss = (loss_adv + w.au * loss_au + w.cycle * loss_cyc + w.attention_mean * loss_att
                + w.attention_tv * loss_tv)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.critic.requires_grad_(True)
        self._sync(self.generator)
        self.opt_g.step()
        self.update_ema()
        a = att.detach().float()
        return {"g/adv": loss_adv.item(), "g/au_fake": loss_au.item(), "g/cycle": loss_cyc.item(),
                "g/attention_mean": a.mean().item(), "g/attention_std": a.std().item(),
                "g/attention_tv": loss_tv.item(), "g/loss": loss.item()}

    @torch.no_grad()
    def update_ema(self) -> None:
        self.g_updates += 1
        decay = min(self.config.ema_decay, (1 + self.g_updates) / (10 + self.g_updates))
        for p_ema, p in zip(self.ema.parameters(), self.generator.parameters(), strict=True):
            p_ema.lerp_(p.detach(), 1.0 - decay)

    def train_step(self) -> dict[str, float]:
        """One critic update (and a G update every critic_steps); returns the step's scalars."""
        self._set_lr()
        self.generator.train()
        self.critic.train()
        batch = self._to_device(self.sampler.sample(self.config.batch_size))
        logs = self.critic_step(batch)
        if (self.step + 1) % self.config.critic_steps == 0:
            logs.update(self.generator_step(batch))
        self.step += 1
        logs["lr"] = self.learning_rate(self.step - 1)
        return logs

    # -- checkpoints ---------------------------------------------------------------------------
    def checkpoint_state(self) -> dict:
        """Everything needed to continue the run exactly: config, nets, optimisers, step, RNGs."""
        return {
            "format": "reenact-train-v1", "config": self.config.to_dict(), "step": self.step,
            "g_updates": self.g_updates, "generator": self.generator.state_dict(),
            "ema": self.ema.state_dict(), "critic": self.critic.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "sampler": self.sampler.state_dict(), "rng": self.rng.get_state(),
            "torch_rng": torch.get_rng_state(),
        }

    def load_checkpoint_state(self, state: dict) -> None:
        self.generator.load_state_dict(state["generator"])
        self.ema.load_state_dict(state["ema"])
        self.critic.load_state_dict(state["critic"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sampler.load_state_dict(state["sampler"])
        self.rng.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        self.step = int(state["step"])
        self.g_updates = int(state["g_updates"])


def build_trainer(config: TrainConfig, faces, *, device="cpu", rank: int = 0, all_reduce=None) -> Trainer:
    """A Trainer over ``faces`` (``FaceShards``), each rank drawing its own batches."""
    sampler = BatchSampler(faces, config.data, seed=config.seed * 1000 + rank)
    return Trainer(config, sampler, device=device, all_reduce=all_reduce)

