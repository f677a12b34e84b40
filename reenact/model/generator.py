"""The GANimation generator G(I, y) (Pumarola et al., IJCV 2020).

G takes a face crop I and a conditioning vector y (``reenact.au.space.COND_NAMES``) and returns an
attention mask A (1 channel, sigmoid) and a colour image C (3 channels, tanh); the animated face
is ``I_out = A * I + (1 - A) * C``: A = 1 keeps the input pixel, A = 0 takes the colour head.

Shapes and ranges: I is (B, 3, S, S) in [-1, 1]; y is (B, cond_dim) in [0, 1];
C is (B, 3, S, S) in [-1, 1]; A is (B, 1, S, S) in [0, 1].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from reenact.au.space import COND_DIM
from reenact.model.files import load_module, save_module

GENERATOR_FORMAT = "reenact-generator-v1"


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture of G; stored with every checkpoint so loading needs no code edit."""

    image_size: int = 128  # S: side of the aligned face crop
    cond_dim: int = COND_DIM  # length of y (20: 17 AUs with AU12/14/45 split left/right)
    channels: int = 64  # width of the first conv; doubles at each downsampling
    n_down: int = 2  # stride-2 downsamplings (and as many upsamplings)
    n_res: int = 6  # residual blocks at the bottleneck

    def to_dict(self) -> dict:
        return asdict(self)


def _conv_in_relu(c_in: int, c_out: int, kernel: int, stride: int, padding: int, *,
                  transposed: bool = False) -> list[nn.Module]:
    conv = nn.ConvTranspose2d if transposed else nn.Conv2d
    return [conv(c_in, c_out, kernel, stride, padding, bias=False),
            nn.InstanceNorm2d(c_out, affine=True), nn.ReLU(inplace=True)]


class ResidualBlock(nn.Module):
    """x + (conv3x3 - IN - ReLU - conv3x3 - IN)(x)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.InstanceNorm2d(channels, affine=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    """G of GANimation: encoder, residual bottleneck, decoder, colour and attention heads."""

    def __init__(self, config: GeneratorConfig = GeneratorConfig()):
        super().__init__()
        self.config = config
        c = config.channels
        layers = _conv_in_relu(3 + config.cond_dim, c, 7, 1, 3)
        for _ in range(config.n_down):
            layers += _conv_in_relu(c, 2 * c, 4, 2, 1)
            c *= 2
        layers += [ResidualBlock(c) for _ in range(config.n_res)]
        for _ in range(config.n_down):
            layers += _conv_in_relu(c, c // 2, 4, 2, 1, transposed=True)
            c //= 2
        self.body = nn.Sequential(*layers)
        self.color_head = nn.Conv2d(c, 3, 7, 1, 3, bias=False)
        self.attention_head = nn.Conv2d(c, 1, 7, 1, 3, bias=False)

    def forward(self, face: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(face (B, 3, S, S), cond (B, D)) -> (color (B, 3, S, S), attention (B, 1, S, S))."""
        b, _, h, w = face.shape
        cond_map = cond.to(face.dtype)[:, :, None, None].expand(b, cond.shape[1], h, w)  # (B, D, S, S)
        x = self.body(torch.cat([face, cond_map], dim=1))
        return torch.tanh(self.color_head(x)), torch.sigmoid(self.attention_head(x))


def compose(face: torch.Tensor, color: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """I_out = A * I + (1 - A) * C (A = 1 keeps the input pixel)."""
    return attention * face + (1.0 - attention) * color


def save_generator(generator: Generator, path, *, metadata: dict[str, str] | None = None,
                   half: bool = True) -> None:
    """Write G's weights as safetensors (fp16 by default) with its config in the metadata."""
    save_module(generator, path, fmt=GENERATOR_FORMAT, config=generator.config.to_dict(), metadata=metadata,
                half=half)


def load_generator(path, *, device: str | torch.device = "cpu") -> Generator:
    """Build G from a safetensors file written by ``save_generator`` (weights cast to fp32).

    Raises:
        WeightsError: missing file, or not a reenact generator file.
    """
    missing = f"generator weights {path} not found; pass --weights PATH or run `make setup`"
    generator = load_module(path, lambda config: Generator(GeneratorConfig(**config)), fmt=GENERATOR_FORMAT,
                            what="generator", missing=missing)
    return generator.to(device)
