"""reenact: one-shot, AU-driven facial reenactment (GANimation) as a practical pipeline.

The entry points a user needs are importable from here (docs/api.md):

    from reenact import ReenactPipeline, AnimatePipeline, extract_aus, load_script

    pipe = ReenactPipeline.from_pretrained().to("cpu")
    pipe("photo.jpg", "driver.mp4", "out.mp4")
    script = load_script("smile.yaml")
    AnimatePipeline.from_pipe(pipe)("photo.jpg", script.values, script.fps, "smile.mp4")

Everything else lives in the stage packages (``reenact.io``, ``face``, ``au``, ``model``,
``render``, ``eval``, ``training``) and ``reenact.pipelines``. The names here are imported on first
use (PEP 562): ``import reenact`` (and so the ``reenact`` command's ``--help``) stays fast instead
of loading torch, MediaPipe and the models up front.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    # pipelines
    "AnimatePipeline": "reenact.pipelines.animate",
    "BatchSummary": "reenact.pipelines.render_batch",
    "PipelineConfig": "reenact.pipelines.base",
    "ReenactOutput": "reenact.pipelines.base",
    "ReenactPipeline": "reenact.pipelines.reenact_video",
    "RenderBatchPipeline": "reenact.pipelines.render_batch",
    # models
    "DEFAULT_MODEL": "reenact.model.registry",
    "MODELS": "reenact.model.registry",
    "FaceEditor": "reenact.model.editor",
    "SourceFace": "reenact.model.editor",
    "build_editor": "reenact.model.registry",
    # Action Units
    "TABLE_AU_NAMES": "reenact.au.space",
    "preset": "reenact.au.space",
    "AUTrack": "reenact.au.track",
    "AUExtraction": "reenact.au.extract",
    "ExtractConfig": "reenact.au.extract",
    "extract_aus": "reenact.au.extract",
    "SmoothingConfig": "reenact.au.smoothing",
    "smooth_track": "reenact.au.smoothing",
    "read_au_table": "reenact.au.tables",
    "write_au_table": "reenact.au.tables",
    "AUScript": "reenact.au.script",
    "load_script": "reenact.au.script",
    "read_targets": "reenact.au.targets",
    "save_au_plot": "reenact.au.plot",
    # faces and transfer
    "FaceTracker": "reenact.face.tracking",
    "TrackerConfig": "reenact.face.tracking",
    "TransferConfig": "reenact.render.transfer",
    # evaluation and training
    "EvalPlan": "reenact.pipelines.evaluation.harness",
    "evaluate_models": "reenact.pipelines.evaluation.harness",
    "TrainConfig": "reenact.training.loop",
    "train": "reenact.training.train",
    "PrepareConfig": "reenact.training.prepare",
    "prepare_dataset": "reenact.training.prepare",
    # devices, weights, errors
    "pick_device": "reenact.device",
    "fetch": "reenact.weights",
    "ReenactError": "reenact.errors",
    "InputError": "reenact.errors",
    "ImageReadError": "reenact.errors",
    "VideoReadError": "reenact.errors",
    "NoFaceError": "reenact.errors",
    "OutputError": "reenact.errors",
    "ScriptError": "reenact.errors",
    "WeightsError": "reenact.errors",
}

#: the keys of _EXPORTS (tests/test_api.py checks)
__all__ = ["AUExtraction", "AUScript", "AUTrack", "AnimatePipeline", "BatchSummary", "DEFAULT_MODEL",
           "EvalPlan", "ExtractConfig", "FaceEditor", "FaceTracker", "ImageReadError", "InputError",
           "MODELS", "NoFaceError", "OutputError", "PipelineConfig", "PrepareConfig", "ReenactError",
           "ReenactOutput", "ReenactPipeline", "RenderBatchPipeline", "ScriptError", "SmoothingConfig",
           "SourceFace", "TABLE_AU_NAMES", "TrackerConfig", "TrainConfig", "TransferConfig",
           "VideoReadError", "WeightsError", "build_editor", "evaluate_models", "extract_aus", "fetch",
           "load_script", "pick_device", "prepare_dataset", "preset", "read_au_table", "read_targets",
           "save_au_plot", "smooth_track", "train", "write_au_table"]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'reenact' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what type checkers and IDEs see: the same names, imported eagerly
    from reenact.au.extract import AUExtraction, ExtractConfig, extract_aus
    from reenact.au.plot import save_au_plot
    from reenact.au.script import AUScript, load_script
    from reenact.au.smoothing import SmoothingConfig, smooth_track
    from reenact.au.space import TABLE_AU_NAMES, preset
    from reenact.au.tables import read_au_table, write_au_table
    from reenact.au.targets import read_targets
    from reenact.au.track import AUTrack
    from reenact.device import pick_device
    from reenact.errors import (
        ImageReadError,
        InputError,
        NoFaceError,
        OutputError,
        ReenactError,
        ScriptError,
        VideoReadError,
        WeightsError,
    )
    from reenact.face.tracking import FaceTracker, TrackerConfig
    from reenact.model.editor import FaceEditor, SourceFace
    from reenact.model.registry import DEFAULT_MODEL, MODELS, build_editor
    from reenact.pipelines.animate import AnimatePipeline
    from reenact.pipelines.base import PipelineConfig, ReenactOutput
    from reenact.pipelines.evaluation.harness import EvalPlan, evaluate_models
    from reenact.pipelines.reenact_video import ReenactPipeline
    from reenact.pipelines.render_batch import BatchSummary, RenderBatchPipeline
    from reenact.render.transfer import TransferConfig
    from reenact.training.loop import TrainConfig
    from reenact.training.prepare import PrepareConfig, prepare_dataset
    from reenact.training.train import train
    from reenact.weights import fetch
