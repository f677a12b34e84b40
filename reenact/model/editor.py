"""The face-editor interface: a source face + target AUs (+ optional motion) -> edited pixels.

Every model of reenact (GANimation's repainting generator, the warp-guided model, the do-nothing
reference) is a ``FaceEditor``. The pipelines and the evaluation harness all render through
``reenact.render.renderer.render_frames`` with one, so they all run exactly the same code path.

An editor works on a ``SourceFace`` in two steps:

1. ``prepare(source)`` -> a ``PreparedFace``: everything that depends only on the source photo
   (crops, masks, the region of the photo that can change), computed once.
2. ``edit(prepared, targets, motion=...)`` -> an ``EditedBatch`` for B target rows: the changed
   region of the photo for each row, uint8, plus diagnostics (G's attention, aligned crops).

Conventions: targets are AU-table rows (B, 23) in [0, 1] (``reenact.au.space.TABLE_AU_NAMES``),
absolute values (the source's own AUs are ``source.aus``). ``motion`` is an optional (B, 478, 3)
float32 landmark displacement in the canonical face frame (``reenact.model.rig``) that replaces
the AU rig's geometry for models that warp; others ignore it. Regions are (B, h, w, 3) uint8 RGB
of the box (x0, y0, x1, y1) (x1/y1 exclusive); every pixel outside the box is the source's own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
import torch

from reenact.face.align import Alignment
from reenact.face.tracking import FaceObservation


@dataclass(frozen=True, eq=False)
class SourceFace:
    """The source photo with its selected face, aligned once.

    Attributes:
        image: (H, W, 3) uint8 RGB photo.
        face: the selected face's observation (landmarks in photo pixels).
        alignment: photo <-> canonical crop transforms.
        aus: (23,) float32 AUs of the source face, ``TABLE_AU_NAMES`` order.
        n_faces: how many faces the photo shows.
    """

    image: np.ndarray
    face: FaceObservation
    alignment: Alignment
    aus: np.ndarray
    n_faces: int


@dataclass(eq=False)
class PreparedFace:
    """Per-source state of an editor. Subclasses add what their model needs.

    Attributes:
        source: the source face.
        box: (x0, y0, x1, y1) pixel box of the photo that edits may change.
        mask: (y1 - y0, x1 - x0) float32 in [0, 1]: where edits are allowed to show (diagnostic;
            used by seam metrics), 0 outside the face.
    """

    source: SourceFace
    box: tuple[int, int, int, int]
    mask: np.ndarray

    def assemble(self, regions: np.ndarray) -> np.ndarray:
        """(B, h, w, 3) uint8 regions -> (B, H, W, 3) uint8 frames (the source around them)."""
        x0, y0, x1, y1 = self.box
        frames = np.repeat(self.source.image[None], regions.shape[0], axis=0)
        frames[:, y0:y1, x0:x1] = regions
        return frames

    def full_mask(self) -> np.ndarray:
        """(H, W) float32 ``mask`` placed in the photo (0 outside the box)."""
        h, w = self.source.image.shape[:2]
        x0, y0, x1, y1 = self.box
        full = np.zeros((h, w), np.float32)
        full[y0:y1, x0:x1] = self.mask
        return full


@dataclass(frozen=True, eq=False)
class EditedBatch:
    """An editor's output for B target rows.

    Attributes:
        regions: (B, h, w, 3) uint8 numpy, the box of the photo for each row.
        attention: (B, S, S) float32 in [0, 1] (1 = keep), the model's attention where it has one.
        crops: (B, S, S, 3) uint8 aligned crops of the edited face, where the model makes them.
        seconds: time spent per part of the model ("generate", "warp", "paste", ...).
    """

    regions: np.ndarray
    attention: np.ndarray | None = None
    crops: np.ndarray | None = None
    seconds: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class FaceEditor(Protocol):
    """What every face model implements (see the module docstring)."""

    name: str

    @property
    def crop_size(self) -> int:
        """Side of the aligned crop the model works on (the source's ``alignment``)."""
        ...

    @property
    def device(self) -> torch.device: ...

    def to(self, device: str | torch.device) -> FaceEditor: ...

    def prepare(self, source: SourceFace) -> PreparedFace: ...

    def edit(self, prepared: PreparedFace, targets: np.ndarray, *, motion: np.ndarray | None = None,
             precision: str = "fp32") -> EditedBatch: ...


@dataclass(eq=False)
class IdentityEditor:
    """The do-nothing reference: every frame is the source photo (what "no model" scores)."""

    crop_size: int = 128
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    name: ClassVar[str] = "none"

    def to(self, device: str | torch.device) -> IdentityEditor:
        self.device = torch.device(device)
        return self

    def prepare(self, source: SourceFace) -> PreparedFace:
        h, w = source.image.shape[:2]
        return PreparedFace(source=source, box=(0, 0, 1, 1), mask=np.zeros((1, 1), np.float32))

    def edit(self, prepared: PreparedFace, targets: np.ndarray, *, motion: np.ndarray | None = None,
             precision: str = "fp32") -> EditedBatch:
        t = time.perf_counter()
        region = prepared.source.image[None, 0:1, 0:1]
        regions = np.repeat(region, len(targets), axis=0)
        return EditedBatch(regions=regions, seconds={"paste": time.perf_counter() - t})
