"""The GANimation critic D(I): PatchGAN WGAN scores and an AU regression head (Pumarola et al.).

Shapes and ranges: I is (B, 3, S, S) in [-1, 1]. ``scores`` is (B, 1, S/2^n, S/2^n) unbounded
(WGAN critic, higher = more real); ``aus`` is (B, cond_dim), the conditioning vector the critic
reads off the face (trained towards labels in [0, 1]; not clamped).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from reenact.au.space import COND_DIM


@dataclass(frozen=True)
class CriticConfig:
    """Architecture of D; stored with every checkpoint."""

    image_size: int = 128  # S
    cond_dim: int = COND_DIM  # length of the AU head's output
    channels: int = 64  # width of the first conv; doubles at each layer up to max_channels
    n_layers: int = 6  # stride-2 4x4 convs (the last map is S / 2^n_layers)
    max_channels: int = 2048  # the reference grows to 2048; a narrower top saves memory

    def to_dict(self) -> dict:
        return asdict(self)


class Critic(nn.Module):
    """PatchGAN without normalisation: n x (4x4 stride-2 conv + LeakyReLU 0.01), two heads."""

    def __init__(self, config: CriticConfig = CriticConfig()):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        c_in, c = 3, config.channels
        for _ in range(config.n_layers):
            layers += [nn.Conv2d(c_in, c, 4, 2, 1), nn.LeakyReLU(0.01, inplace=True)]
            c_in, c = c, min(2 * c, config.max_channels)
        self.body = nn.Sequential(*layers)
        last = config.image_size // 2 ** config.n_layers
        self.score_head = nn.Conv2d(c_in, 1, 3, 1, 1, bias=False)
        self.au_head = nn.Conv2d(c_in, config.cond_dim, last, 1, 0, bias=False)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """image (B, 3, S, S) -> (scores (B, 1, s, s), aus (B, cond_dim))."""
        x = self.body(image)  # (B, C, s, s)
        return self.score_head(x), self.au_head(x).flatten(1)
