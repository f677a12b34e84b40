"""The pipelines: compositions of the stages, each a short ``__call__`` of numbered steps.

- ``base``: what they share: ``PipelineConfig``, ``ReenactOutput``, the components (a face
  editor, a source tracker factory), ``from_pretrained`` / ``from_pipe``, and the two shared steps
  ``prepare_source`` and ``render`` (the one render loop, ``reenact.render.renderer``).
- ``reenact_video``: ``ReenactPipeline``, a photo + a driving video (``reenact SOURCE DRIVER OUT``).
- ``animate``: ``AnimatePipeline``, a photo + an AU script (``reenact animate``).
- ``render_batch``: ``RenderBatchPipeline``, faces x AU targets -> PNGs + a manifest
  (``reenact render-batch``).
- ``evaluation``: ``reenact eval``'s runs: models rendered through these pipelines and measured
  by ``reenact.eval`` (``evaluate_models``, ``evaluate_editor``, the trainer's ``PeriodicEval``).
- ``demo``: ``make demo``, the bundled example end to end; ``examples/``: AU scripts.
"""

from reenact.pipelines.animate import AnimatePipeline
from reenact.pipelines.base import Pipeline, PipelineConfig, ReenactOutput
from reenact.pipelines.reenact_video import ReenactPipeline
from reenact.pipelines.render_batch import BatchSummary, RenderBatchPipeline

__all__ = ["AnimatePipeline", "BatchSummary", "Pipeline", "PipelineConfig", "ReenactOutput",
           "ReenactPipeline", "RenderBatchPipeline"]
