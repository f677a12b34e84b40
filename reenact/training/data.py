"""Training batches from a prepared data set (``reenact.training.prepare``, ``reenact.training.shards``).

A batch holds real faces (B, 3, S, S) in [-1, 1], their own conditioning vectors (B, 20) and
target conditioning vectors (B, 20), both in [0, 1] (``reenact.au.space.COND_NAMES``):
- faces are drawn with a sampler that weights rare AUs up (most photos are neutral or smiling);
- a random horizontal flip mirrors the face and swaps each _L/_R AU pair (``flip_cond``);
- targets are the AUs of other sampled faces plus uniform noise in [-noise, noise], clipped to
  [0, 1]; with ``one_sided_prob`` one sided AU of the target is zeroed on one side (winks, half
  smiles are rare in photos, but the generator must learn one-sided control).

All randomness comes from one ``torch.Generator`` so that a resumed run draws the same batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reenact.au.space import COND_FLIP, COND_NAMES, SIDED_AUS, table_to_cond
from reenact.errors import InputError
from reenact.training.shards import load_manifest, read_shard


@dataclass(frozen=True)
class DataConfig:
    """How batches are drawn."""

    flip_prob: float = 0.5  # chance of a horizontal flip (AU sides swapped with it)
    target_noise: float = 0.1  # uniform noise added to the borrowed target AUs
    one_sided_prob: float = 0.15  # chance of zeroing one side of a sided AU in a target
    rare_threshold: float = 0.25  # an AU counts as active above this intensity
    rare_weight: float = 0.1  # a face gets + rare_weight / freq(AU) for each active AU...
    rare_cap: float = 10.0  # ...capped per AU
    include_held_out: bool = False  # train on the held-out identities too (never for evaluation)


@dataclass(frozen=True)
class Batch:
    """real (B, 3, S, S) in [-1, 1]; cond_real, cond_target (B, 20) in [0, 1]."""

    real: torch.Tensor
    cond_real: torch.Tensor
    cond_target: torch.Tensor


def rare_au_weights(cond: np.ndarray, config: DataConfig) -> np.ndarray:
    """Sampling weight per face (N,) from its conditioning vectors (N, D): 1 + sum over active AUs
    of min(cap, rare_weight / frequency of that AU being active)."""
    active = cond > config.rare_threshold  # (N, D)
    freq = active.mean(0) + 1e-4  # (D,)
    bonus = np.minimum(config.rare_cap, config.rare_weight / freq)  # (D,)
    return (1.0 + active.astype(np.float64) @ bonus).astype(np.float64)


class FaceShards:
    """Prepared faces in memory: uint8 crops (N, S, S, 3) and conditioning vectors (N, 20)."""

    def __init__(self, crops: np.ndarray, cond: np.ndarray, *, identities: list[str] | None = None):
        self.crops = crops
        self.cond = np.asarray(cond, np.float32)
        self.identities = identities or [str(i) for i in range(len(crops))]

    def __len__(self) -> int:
        return len(self.crops)

    @classmethod
    def load(cls, dataset: str | Path, *, held_out: bool = False,
             include_held_out: bool = False) -> FaceShards:
        """Faces of a data set: the training faces, or (held_out=True) only the held-out ones."""
        dataset = Path(dataset)
        manifest = load_manifest(dataset)
        samples = [s for s in manifest["samples"]
                   if include_held_out or bool(s["held_out"]) == held_out]
        shards = [read_shard(dataset / name) for name in manifest["shards"]]
        crops = np.stack([shards[s["shard"]][s["index"]] for s in samples]) if samples else \
            np.zeros((0, manifest["crop_size"], manifest["crop_size"], 3), np.uint8)
        table = np.array([s["aus"] for s in samples], np.float32).reshape(-1, len(manifest["au_names"]))
        return cls(crops, table_to_cond(table), identities=[s["identity"] for s in samples])

    def images(self, indices: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Crops at indices as (B, 3, S, S) float32 in [-1, 1]."""
        idx = np.asarray(indices)
        x = torch.from_numpy(np.ascontiguousarray(self.crops[idx]))  # (B, S, S, 3) uint8
        return x.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


_SIDED_COLS = [(COND_NAMES.index(f"{au}_L"), COND_NAMES.index(f"{au}_R")) for au in SIDED_AUS]


class BatchSampler:
    """Draws ``Batch`` es from ``FaceShards`` (weighted by rare AUs, flipped, with targets)."""

    def __init__(self, faces: FaceShards, config: DataConfig = DataConfig(), *, seed: int = 0):
        if len(faces) == 0:
            raise InputError("the data set has no training faces; prepare more photos")
        self.faces = faces
        self.config = config
        self.weights = torch.from_numpy(rare_au_weights(faces.cond, config))
        self.rng = torch.Generator().manual_seed(seed)
        self._flip = torch.tensor(COND_FLIP)

    def indices(self, n: int) -> torch.Tensor:
        return torch.multinomial(self.weights, n, replacement=True, generator=self.rng)

    def sample(self, batch_size: int) -> Batch:
        idx = self.indices(batch_size)
        real = self.faces.images(idx)
        cond = torch.from_numpy(self.faces.cond[idx.numpy()])
        flip = torch.rand(batch_size, generator=self.rng) < self.config.flip_prob
        real = torch.where(flip[:, None, None, None], real.flip(-1), real)
        cond = torch.where(flip[:, None], cond[:, self._flip], cond)
        target = self.targets(batch_size)
        return Batch(real=real, cond_real=cond, cond_target=target)

    def targets(self, n: int) -> torch.Tensor:
        """Target vectors (n, 20): other faces' AUs (randomly flipped) + noise, some made one-sided."""
        cfg = self.config
        cond = torch.from_numpy(self.faces.cond[self.indices(n).numpy()])
        flip = torch.rand(n, generator=self.rng) < cfg.flip_prob
        cond = torch.where(flip[:, None], cond[:, self._flip], cond)
        noise = (torch.rand(cond.shape, generator=self.rng) * 2.0 - 1.0) * cfg.target_noise
        cond = (cond + noise).clamp(0.0, 1.0)
        one_sided = torch.rand(n, generator=self.rng) < cfg.one_sided_prob
        pair = torch.randint(len(_SIDED_COLS), (n,), generator=self.rng)
        side = torch.randint(2, (n,), generator=self.rng)
        for i in torch.nonzero(one_sided).flatten().tolist():
            left, right = _SIDED_COLS[int(pair[i])]
            strong = max(float(cond[i, left]), float(cond[i, right]), 0.5)
            on, off = (left, right) if int(side[i]) == 0 else (right, left)
            cond[i, on], cond[i, off] = strong, 0.0
        return cond

    def state_dict(self) -> dict:
        return {"rng": self.rng.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.rng.set_state(state["rng"])
