"""GANimation's generator as a face editor: G repaints the aligned crop, pasted back with its
attention at full resolution (``reenact.face.paste``).

This is the original model of reenact (``--model ganimation``): every pixel G keeps (A = 1), and
everything outside the feathered face mask, is the photo's own; the rest comes from G's colour
head at the crop's resolution.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from reenact.au.space import table_to_cond
from reenact.face.paste import PasteConfig, Paster
from reenact.model.editor import EditedBatch, PreparedFace, SourceFace
from reenact.model.generator import Generator, compose


@dataclass(eq=False)
class GanimationFace(PreparedFace):
    """A source prepared for G: its ``Paster`` (crop, feathered mask, crop -> photo affine)."""

    paster: Paster | None = None


def crops_to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 3, S, S) float in [-1, 1] -> (B, S, S, 3) uint8 numpy."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


class GanimationEditor:
    """G(I, y) on the source crop for each target row, composed at full resolution.

    Args:
        generator: the trained G (``reenact.model.generator.load_generator``).
        paste: paste-back options.
    """

    name = "ganimation"

    def __init__(self, generator: Generator, paste: PasteConfig = PasteConfig()):
        self.generator = generator.eval().to(memory_format=torch.channels_last)  # faster convs
        self.paste_config = paste

    @property
    def crop_size(self) -> int:
        return self.generator.config.image_size

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device

    def to(self, device: str | torch.device) -> GanimationEditor:
        self.generator.to(torch.device(device))
        return self

    def prepare(self, source: SourceFace) -> GanimationFace:
        paster = Paster(source.image, source.face.landmarks, source.alignment, self.paste_config)
        paster.to(self.device)
        return GanimationFace(source=source, box=paster.region.box, mask=paster.region.mask, paster=paster)

    def generate(self, face_crop: torch.Tensor, cond: torch.Tensor, *, precision: str = "fp32"
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """G on the source crop for a batch of conditions: (1, 3, S, S), (B, 20) -> C, A."""
        b = cond.shape[0]
        device = self.device
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16,
                                                    enabled=precision == "bf16"):
            faces = face_crop.expand(b, -1, -1, -1).contiguous(memory_format=torch.channels_last)
            color, attention = self.generator(faces, cond.to(device))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return color, attention

    def edit(self, prepared: GanimationFace, targets: np.ndarray, *, motion: np.ndarray | None = None,
             precision: str = "fp32") -> EditedBatch:
        t0 = time.perf_counter()
        paster = prepared.paster
        cond = torch.from_numpy(table_to_cond(np.asarray(targets, np.float32)))
        color, attention = self.generate(paster.face_crop, cond, precision=precision)
        t1 = time.perf_counter()
        regions = paster.paste_regions(color, attention).cpu().numpy()
        t2 = time.perf_counter()
        crops = compose(paster.face_crop.float(), color.float(), attention.float())
        return EditedBatch(regions=regions, attention=attention.float()[:, 0].cpu().numpy(),
                           crops=crops_to_uint8(crops), seconds={"generate": t1 - t0, "paste": t2 - t1})
