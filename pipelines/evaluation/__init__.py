"""``reenact eval``'s runs: models rendered through the user's pipelines, measured by ``reenact.eval``.

- ``render``: models from the registry (``ModelSpec``, ``load_editor``) and ``pipeline_for``, the
  user's ``ReenactPipeline`` around a ``RecordingEditor`` (keeps attention and the paste mask).
- ``targets``: each source x each AU target through the pipelines' ``render`` step.
- ``videos``: a photo driven by a clip, and self-reenactment, through ``ReenactPipeline.__call__``.
- ``harness``: ``evaluate_models`` and ``evaluate_editor``, the entry points (``reenact eval``,
  benchmarks).
- ``periodic``: ``PeriodicEval``, the harness on a trainer's EMA generator (``reenact train``).
"""
