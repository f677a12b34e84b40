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

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from reenact.au import COND_DIM
from reenact.errors import WeightsError
from reenact.generator import ResidualBlock, _conv_in_relu

REFINER_FORMAT = "reenact-refiner-v1"
N_MASKS = 3  # cavity, closed eyes, gate
MASK_NAMES = ("cavity", "eyes", "gate")


@dataclass(frozen=True)
class RefinerConfig:
    """Architecture of R; stored in the weights file."""

    image_size: int = 128  # S: side of the aligned crop
    channels: int = 32  # width of the first conv; doubles at each downsampling
    n_down: int = 2
    n_res: int = 4
    cond_dim: int = 2 * COND_DIM  # target + change

    def to_dict(self) -> dict:
        return asdict(self)


class Refiner(nn.Module):
    """GANimation's G body (encoder, residual bottleneck, decoder) with mask inputs."""

    def __init__(self, config: RefinerConfig = RefinerConfig()):
        super().__init__()
        self.config = config
        c = config.channels
        layers = _conv_in_relu(3 + N_MASKS + config.cond_dim, c, 7, 1, 3)
        for _ in range(config.n_down):
            layers += _conv_in_relu(c, 2 * c, 4, 2, 1)
            c *= 2
        layers += [ResidualBlock(c) for _ in range(config.n_res)]
        for _ in range(config.n_down):
            layers += _conv_in_relu(c, c // 2, 4, 2, 1, transposed=True)
            c //= 2
        self.body = nn.Sequential(*layers)
        self.color_head = nn.Conv2d(c, 3, 7, 1, 3, bias=False)
        self.attention_head = nn.Conv2d(c, 1, 7, 1, 3, bias=True)
        nn.init.constant_(self.attention_head.bias, 2.0)  # start near "keep the warp"

    def forward(self, crop: torch.Tensor, masks: torch.Tensor, cond: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(crop (B,3,S,S), masks (B,N_MASKS,S,S), cond (B,40)) -> (color (B,3,S,S), attention (B,1,S,S))."""
        b, _, h, w = crop.shape
        cond_map = cond.to(crop.dtype)[:, :, None, None].expand(b, cond.shape[1], h, w)
        x = self.body(torch.cat([crop, masks.to(crop.dtype), cond_map], dim=1))
        return torch.tanh(self.color_head(x)), torch.sigmoid(self.attention_head(x))


def compose_refined(warped: torch.Tensor, color: torch.Tensor, attention: torch.Tensor,
                    gate: torch.Tensor) -> torch.Tensor:
    """warped + G * (1 - A) * (C - warped), all at one resolution."""
    return warped + gate * (1.0 - attention) * (color - warped)


def save_refiner(refiner: Refiner, path: str | Path, *, metadata: dict[str, str] | None = None,
                 half: bool = True) -> None:
    """Write R's weights as safetensors (fp16 by default) with its config in the metadata."""
    from safetensors.torch import save_file

    dtype = torch.float16 if half else torch.float32
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in refiner.state_dict().items()}
    meta = {"format": REFINER_FORMAT, "config": json.dumps(refiner.config.to_dict()), **(metadata or {})}
    save_file(tensors, str(path), metadata=meta)


def load_refiner(path: str | Path) -> Refiner:
    """Build R from a file written by ``save_refiner`` (weights cast to fp32), in eval mode.

    Raises:
        WeightsError: missing or unreadable file, or not a reenact refiner.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"refiner weights {path} not found; run `make setup` or pass --weights PATH")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k).float() for k in f.keys()}
    except (SafetensorError, OSError) as exc:
        raise WeightsError(f"{path} is not a readable safetensors file ({exc})") from exc
    if meta.get("format") != REFINER_FORMAT:
        raise WeightsError(f"{path} is not a reenact refiner (format={meta.get('format')!r})")
    refiner = Refiner(RefinerConfig(**json.loads(meta["config"])))
    refiner.load_state_dict(tensors)
    return refiner.eval()
