"""The refiner: GANimation's generator re-purposed to paint only what a warp cannot.

R takes the WARPED aligned crop (the photo's own pixels already moved by the rig), masks of what
the warp could not make (the newly opened mouth cavity, eyes that closed, and the regions whose
AUs rose, where wrinkles may appear) and the target AUs with their change, and returns GANimation's
two heads: a colour image C (tanh) and an attention mask A (sigmoid, 1 = keep the warped pixel).
The edit is composed only inside the masks' gate G::

    out = warped + G * (1 - A) * (C - warped)

so a request that changes nothing (G = 0) returns the photo itself, and outside the mouth, the
lids and the rising AUs' regions every pixel stays the warp's (the photo's own, moved).

Shapes: crop (B, 3, S, S) in [-1, 1]; masks (B, N_MASKS, S, S) in [0, 1] (cavity, closed eyes,
gate); cond (B, 40) = target conditioning (20) and its change from the source (20, in [-1, 1]).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from reenact.au.space import COND_DIM
from reenact.model.files import load_module, save_module

REFINER_FORMAT = "reenact-refiner-v1"
N_MASKS = 3  # cavity, closed eyes, gate
MASK_NAMES = ("cavity", "eyes", "gate")


@dataclass(frozen=True)
class RefinerConfig:
    """Architecture of R; stored in the weights file."""

    image_size: int = 128  # S: side of the aligned crop
    channels: int = 24  # width after the first (stride-2) layer; doubles at each further one
    n_down: int = 2  # stride-2 layers (the first works on the input at S, the others below)
    n_res: int = 3
    out_channels: int = 16  # width of the last full-resolution layer before the heads
    cond_dim: int = 2 * COND_DIM  # target + change

    def to_dict(self) -> dict:
        return asdict(self)


def _block(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    padding = 1 if stride == 2 else (kernel - 1) // 2
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, padding), nn.LeakyReLU(0.2, inplace=True))


class PlainResidual(nn.Module):
    """x + conv3x3(lrelu(conv3x3(x))), no normalisation (see ``Refiner``)."""

    def __init__(self, channels: int):
        super().__init__()
        self.a = nn.Conv2d(channels, channels, 3, 1, 1)
        self.b = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(nn.functional.leaky_relu(self.a(x), 0.2))


class Refiner(nn.Module):
    """GANimation's G, made light enough to train on a CPU: an encoder-decoder with skip
    connections that does almost all its work below full resolution, the AU condition joined at
    the bottleneck (not tiled over the full-resolution input: that first layer was most of
    GANimation's cost), and GANimation's colour and attention heads. Upsampling is nearest + 3x3
    conv (no checkerboard from transposed convs); the input itself is the last skip, so the
    warped pixels' detail reaches the heads. No normalisation layers: the network is fully
    convolutional and local, so it can be trained on patches around the mouth and the eyes and
    run on the whole crop."""

    def __init__(self, config: RefinerConfig = RefinerConfig()):
        super().__init__()
        self.config = config
        c_in, c = 3 + N_MASKS, config.channels
        self.down = nn.ModuleList()
        widths = [c_in]
        for _ in range(config.n_down):
            self.down.append(_block(c_in, c, 4, stride=2))
            widths.append(c)
            c_in, c = c, 2 * c
        c = c_in
        self.join = _block(c + config.cond_dim, c, 1)
        self.res = nn.Sequential(*[PlainResidual(c) for _ in range(config.n_res)])
        self.up = nn.ModuleList()
        skips = list(reversed(widths[:-1]))
        for k, skip in enumerate(skips):
            out = config.out_channels if k == len(skips) - 1 else skip
            self.up.append(_block(c + skip, out, 3))
            c = out
        self.color_head = nn.Conv2d(c, 3, 3, 1, 1, bias=False)
        self.attention_head = nn.Conv2d(c, 1, 3, 1, 1, bias=True)
        nn.init.constant_(self.attention_head.bias, 2.0)  # start near "keep the warp"

    def forward(self, crop: torch.Tensor, masks: torch.Tensor, cond: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(crop (B,3,S,S), masks (B,N_MASKS,S,S), cond (B,40)) -> (color (B,3,S,S), attention (B,1,S,S))."""
        x = torch.cat([crop, masks.to(crop.dtype)], 1)
        skips = [x]
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        b, _, h, w = x.shape
        x = self.join(torch.cat([x, cond.to(x.dtype)[:, :, None, None].expand(b, -1, h, w)], 1))
        x = self.res(x)
        for layer, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = layer(torch.cat([nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"), skip], 1))
        return torch.tanh(self.color_head(x)), torch.sigmoid(self.attention_head(x))


def compose_refined(warped: torch.Tensor, color: torch.Tensor, attention: torch.Tensor,
                    gate: torch.Tensor) -> torch.Tensor:
    """warped + G * (1 - A) * (C - warped), all at one resolution."""
    return warped + gate * (1.0 - attention) * (color - warped)


def save_refiner(refiner: Refiner, path: str | Path, *, metadata: dict[str, str] | None = None,
                 half: bool = True) -> None:
    """Write R's weights as safetensors (fp16 by default) with its config in the metadata."""
    save_module(refiner, path, fmt=REFINER_FORMAT, config=refiner.config.to_dict(), metadata=metadata,
                half=half)


def load_refiner(path: str | Path) -> Refiner:
    """Build R from a file written by ``save_refiner`` (weights cast to fp32), in eval mode.

    Raises:
        WeightsError: missing or unreadable file, or not a reenact refiner.
    """
    missing = f"refiner weights {path} not found; run `make setup` or pass --weights PATH"
    return load_module(path, lambda config: Refiner(RefinerConfig(**config)), fmt=REFINER_FORMAT,
                       what="refiner", missing=missing)
