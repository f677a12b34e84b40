"""The AU-target evaluation run: each source face x each requested expression, rendered through
the user's pipeline (``pipeline_for``) and measured by ``reenact.eval`` (what is measured:
``reenact.eval.targets``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from reenact.errors import InputError
from reenact.eval.geometry import geometry_checks
from reenact.eval.image_metrics import psnr
from reenact.eval.measure import measure_aus
from reenact.eval.metrics import attention_stats, seam_stats
from reenact.eval.sources import EvalSource, EvalTarget
from reenact.eval.targets import (
    EvalConfig,
    MeterFactory,
    SourceResult,
    TargetEvaluation,
    face_cell,
    paste_seam,
)
from reenact.io.sinks import MemorySink
from reenact.pipelines.evaluation.render import RecordingEditor, pipeline_for

ProgressFn = Callable[[int], None]


def _requested(targets: Sequence[EvalTarget], own: np.ndarray) -> np.ndarray:
    return np.stack([own if t.aus is None else t.aus for t in targets]).astype(np.float32)


def evaluate_source(recorder: RecordingEditor, source: EvalSource, targets: Sequence[EvalTarget], *,
                    pipeline_config, meters: MeterFactory, config: EvalConfig = EvalConfig(),
                    progress: ProgressFn | None = None) -> SourceResult:
    """Render one source with every target through the pipeline and measure the outputs."""
    pipe = pipeline_for(recorder, pipeline_config, face_index=source.face_index)
    src = pipe.prepare_source(source.image)
    meter = meters.meter(source.name, src)
    requested = _requested(targets, src.aus)
    recorder.reset()
    t0 = time.perf_counter()
    frames = pipe.render(src, requested, MemorySink())
    render_s = time.perf_counter() - t0
    attention = recorder.attention_values()
    windows = [meter.window(f) for f in frames]
    measured, faces = measure_aus(windows, tracker=meters.tracker)
    readings = [meter.read_geometry(f) for f in frames]
    base = meter.source_reading.geometry
    changes = tuple(r.geometry.minus(base) if r.geometry is not None and base is not None else None
                    for r in readings)
    checks = tuple(tuple(geometry_checks(req, src.aus, ch)) if ch is not None else ()
                   for req, ch in zip(requested, changes, strict=True))
    seams = tuple(paste_seam(f, src.image, recorder.prepared) for f in frames)
    if all(s is None for s in seams):  # no paste border: the seam at the face oval instead
        seams = tuple(seam_stats(w, meter.source_window, meter.mask.astype(np.float32)) for w in windows)
    box = src.face.box
    cells = [face_cell(im, box, config.cell_size) for im in [src.image, *frames]]
    if progress is not None:
        progress(len(frames))
    fallbacks = sum(r.fallback for r in readings) + meter.source_reading.fallback
    return SourceResult(
        source=source.name, greyscale=meter.quality(meter.source_window).greyscale_source,
        source_aus=meter.source_aus, requested=requested, measured=measured,
        identity=np.array([meter.identity_distance(w, f) for w, f in zip(windows, faces, strict=True)]),
        quality=tuple(meter.quality(w) for w in windows),
        face_psnr=np.array([psnr(w, meter.source_window, meter.mask) for w in windows]),
        geometry=changes, checks=checks, dlib_fallbacks=int(fallbacks), seams=seams,
        attention=(tuple(attention_stats(a) for a in attention) if attention is not None
                   else (None,) * len(frames)),
        cells=np.stack(cells), render_s=render_s)


def evaluate_targets(recorder: RecordingEditor, sources: Sequence[EvalSource], targets: Sequence[EvalTarget],
                     *, pipeline_config, meters: MeterFactory, model: str | None = None,
                     config: EvalConfig = EvalConfig(), progress: ProgressFn | None = None,
                     meta: dict | None = None) -> TargetEvaluation:
    """Evaluate one model (wrapped in ``recorder``) on every source x target; ``model`` labels
    its rows (default: the model's name)."""
    if not sources or not targets:
        raise InputError("target evaluation needs at least one source and one target")
    if meters.tracker.video:
        raise InputError("evaluate_targets needs a FaceTracker in IMAGE mode")
    results = tuple(evaluate_source(recorder, s, targets, pipeline_config=pipeline_config, meters=meters,
                                    config=config, progress=progress) for s in sources)
    return TargetEvaluation(model=model or recorder.name, targets=tuple(targets), sources=results,
                            config=config, meta=dict(meta or {}))
