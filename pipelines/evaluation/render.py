"""Rendering for the harness: any registered face model, through the pipeline users run.

The harness never has a render loop of its own: targets go through the pipelines' ``render``
step (the one render loop, ``reenact.render.renderer``) and driving clips through
``ReenactPipeline.__call__`` (``reenact SOURCE DRIVER OUT``), with the pipeline's precision (bf16
where the CPU has it), batch size and paste-back.
A ``RecordingEditor`` between the pipeline and the model keeps what the frames do not show: the
model's attention and the prepared face's paste mask.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
import torch

from reenact.errors import InputError
from reenact.model.editor import EditedBatch, FaceEditor, PreparedFace, SourceFace
from reenact.model.ganimation import GanimationEditor
from reenact.model.generator import Generator
from reenact.model.registry import build_editor
from reenact.pipelines import PipelineConfig, ReenactPipeline
from reenact.weights import fetch, load_manifest

#: ``--weights random``: an untrained paper-sized GANimation G (plumbing checks only).
RANDOM_WEIGHTS = "random"


@dataclass(frozen=True)
class ModelSpec:
    """A model to evaluate: a registry name, its weights (None: the registered ones) and the
    label its rows get in reports."""

    name: str
    weights: str | None = None
    label: str = ""
    motion: str | None = None  # driving clips: "aus" or "landmarks" (warp models); None: the config's

    @property
    def title(self) -> str:
        return self.label or self.name


def load_editor(spec: ModelSpec, *, device: str = "cpu") -> FaceEditor:
    """The ``FaceEditor`` of a spec (``reenact.model.registry``), on ``device``.

    ``weights`` may be a path, a weights/manifest.json name or ``random``.

    Raises:
        InputError: unknown model. WeightsError: weights missing or unreadable.
    """
    weights = spec.weights
    if weights == RANDOM_WEIGHTS:
        if spec.name != "ganimation":
            raise InputError(f"--weights random is for the ganimation model, not {spec.name!r}")

        torch.manual_seed(0)
        return GanimationEditor(Generator().eval()).to(device)
    if weights is not None and not os.path.exists(weights):
        if weights in load_manifest():
            weights = str(fetch(weights, quiet=True))
    return build_editor(spec.name, weights=weights).to(device)


class RecordingEditor:
    """A ``FaceEditor`` that hands every call to ``editor`` and keeps, for the harness, the last
    prepared face and the attention of each batch since ``reset()``."""

    #: Batches are recorded in the order of the calls, so the pipeline edits one at a time.
    max_workers = 1

    def __init__(self, editor: FaceEditor):
        self.editor = editor
        self.prepared: PreparedFace | None = None
        self.attention: list[np.ndarray] = []  # (B, S, S) float32 per batch, models that have one

    def reset(self) -> None:
        self.prepared, self.attention = None, []

    @property
    def name(self) -> str:
        return self.editor.name

    @property
    def crop_size(self) -> int:
        return self.editor.crop_size

    @property
    def device(self) -> torch.device:
        return self.editor.device

    def to(self, device) -> RecordingEditor:
        self.editor.to(device)
        return self

    def prepare(self, source: SourceFace) -> PreparedFace:
        self.prepared = self.editor.prepare(source)
        return self.prepared

    def edit(self, prepared: PreparedFace, targets: np.ndarray, **options) -> EditedBatch:
        batch = self.editor.edit(prepared, targets, **options)
        if batch.attention is not None:
            self.attention.append(np.asarray(batch.attention, np.float32))
        return batch

    def __getattr__(self, name: str):  # anything else a model offers the pipeline
        if name == "editor":  # not set yet (copy, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.editor, name)

    def attention_values(self) -> np.ndarray | None:
        """(N, S, S) attention of every frame since ``reset()``, or None for models without."""
        return np.concatenate(self.attention) if self.attention else None


def pipeline_for(recorder: RecordingEditor, config: PipelineConfig, *, face_index: int | None = None,
                 max_frames: int | None = None, transfer: str | None = None) -> ReenactPipeline:
    """The user's pipeline around ``recorder`` with the source's face choice, a frame limit and
    a transfer mode (None: the config's)."""
    tracker = replace(config.tracker, face_index=face_index)
    cfg = replace(config, tracker=tracker, max_frames=max_frames)
    if transfer is not None:
        cfg = replace(cfg, transfer=replace(cfg.transfer, mode=transfer))
    return ReenactPipeline(recorder, cfg)
