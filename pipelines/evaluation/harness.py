"""The one evaluator: ``reenact eval``, the trainer's periodic evaluation and the benchmarks call
these functions.

- ``evaluate_models``: several models (a do-nothing row among them) on the same sources and
  targets, or the same driving / self-reenactment clips; returns one evaluation per model for
  ``reenact.eval.report.write_report``.
- ``evaluate_editor``: one already-built editor (e.g. the trainer's EMA generator) on the AU
  targets; returns the summary dict.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from reenact.errors import InputError, NoFaceError
from reenact.eval.geometry import FaceLandmarks68, shared_landmarks
from reenact.eval.identity import identity_available
from reenact.eval.measure import IdentityMeter
from reenact.eval.sources import (
    ASTRONAUT,
    DEFAULT_SOURCES,
    EvalSource,
    EvalTarget,
    default_targets,
    load_sources,
    resolve_clip,
)
from reenact.eval.targets import EvalConfig, MeterFactory, TargetEvaluation
from reenact.eval.videos import VideoEvaluation, measure_clip
from reenact.face.tracking import FaceTracker
from reenact.io.video import read_all_frames
from reenact.model.editor import FaceEditor
from reenact.model.registry import DEFAULT_MODEL, MODELS, model_for_weights, registered_generator_path
from reenact.pipelines import PipelineConfig
from reenact.pipelines.evaluation.render import (
    RANDOM_WEIGHTS,
    ModelSpec,
    RecordingEditor,
    load_editor,
    pipeline_for,
)
from reenact.pipelines.evaluation.targets import evaluate_targets
from reenact.pipelines.evaluation.videos import evaluate_videos
from reenact.render.motion import MOTIONS
from reenact.weights import fetch, load_manifest, sha256_of

ProgressFn = Callable[[int], None]
#: The do-nothing model: always a row of a comparison.
NONE = ModelSpec("none")


@dataclass(frozen=True)
class EvalPlan:
    """What to evaluate: AU targets on sources, or clips (driving and/or self-reenactment).

    Attributes:
        sources: source specs (``reenact.eval.sources.read_source_photo``); for clips, the
            photos driven by ``drivers`` (default: the astronaut).
        targets: the AU targets (None: ``default_targets()``).
        drivers: clips that drive every source (``--videos``).
        self_clips: clips that drive their own frame 0 (``--self-reenact``).
        max_sources: use only the first N source faces found (None: all).
    """

    sources: tuple[str, ...] | None = None
    targets: tuple[EvalTarget, ...] | None = None
    drivers: tuple[str, ...] = ()
    self_clips: tuple[str, ...] = ()
    max_sources: int | None = None

    @property
    def kind(self) -> str:
        return "videos" if self.drivers or self.self_clips else "targets"


def with_reference_row(models: Sequence[ModelSpec]) -> list[ModelSpec]:
    """``models`` with the do-nothing model first (added if missing)."""
    rest = [m for m in models if m.name != NONE.name]
    return [NONE] + rest


def _weights_by_model(weights: Sequence[str]) -> dict[str, list[str]]:
    """Weights files grouped by the model they belong to (``model_for_weights``: a GANimation
    generator -> ganimation, a refiner -> warp+refiner; ``random``: ganimation)."""
    out: dict[str, list[str]] = {}
    for w in weights:
        if w == RANDOM_WEIGHTS:
            model = "ganimation"
        elif Path(w).exists():
            model = model_for_weights(w)
        elif w in load_manifest():
            model = model_for_weights(fetch(w, quiet=True))
        else:
            raise InputError(f"weights {w} not found; give a .safetensors path or a manifest name")
        out.setdefault(model, []).append(w)
    return out


def model_specs(models: Sequence[str] | None, weights: Sequence[str] | None = None) -> list[ModelSpec]:
    """The models to compare, do-nothing first: registry names (default: the default model), and
    a row per weights file (paths, weights/manifest.json names or ``random``) of the model it
    belongs to, instead of that model's registered weights.

    Raises:
        InputError: an unknown model name, or weights that are neither a file nor a name.
    """
    names = list(models or [DEFAULT_MODEL])
    unknown = [n for n in names if n.split(":")[0] not in MODELS or n.partition(":")[2] not in ("", *MOTIONS)]
    if unknown:
        raise InputError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    files = _weights_by_model(weights or [])
    names += [m for m in files if m not in names]
    specs = []
    for name in names:
        if name not in files:
            base, _, motion = name.partition(":")  # warp+refiner:landmarks = landmark motion
            specs.append(ModelSpec(base, label=name if motion else "", motion=motion or None))
            continue
        specs += [ModelSpec(name, w, f"{name}:random" if w == RANDOM_WEIGHTS else f"{name}:{Path(w).stem}")
                  for w in files[name]]
    titles = [s.title for s in specs]
    specs = [replace(s, label=f"{s.title}#{titles[:k].count(s.title) + 1}")  # two files of one name
             if titles.count(s.title) > 1 else s for k, s in enumerate(specs)]
    return with_reference_row(specs)


def _landmarks(enabled: bool):
    return shared_landmarks() if enabled and identity_available() else None


def model_meta(spec: ModelSpec, recorder: RecordingEditor, pipeline_config: PipelineConfig) -> dict:
    """Name, weights (with sha256), device and precision of a model, for its report rows."""
    info = {"model": spec.name, "label": spec.title, "device": str(recorder.device),
            "precision": pipeline_for(recorder, pipeline_config).precision}
    weights = spec.weights
    if weights is None and spec.name == "ganimation":
        weights = str(registered_generator_path())
    if weights is not None:
        info["weights"] = weights
        if os.path.isfile(weights):
            info["weights_sha256"] = sha256_of(Path(weights))
    return info


_WORKER = threading.local()


def _measure_clip_in_worker(path: Path, frames: np.ndarray, geometry: bool, crop_size: int):
    """``measure_clip`` in the reference thread, with that thread's own dlib model: a dlib model
    is not safe to use from two threads at once, and the main thread reads outputs with
    ``shared_landmarks()`` meanwhile (sharing it corrupted the heap on a run of 6 clips)."""
    if geometry and getattr(_WORKER, "landmarks", None) is None:
        _WORKER.landmarks = FaceLandmarks68()
    return measure_clip(path, frames, _WORKER.landmarks if geometry else None, crop_size)


def _video_runs(plan: EvalPlan, meters: MeterFactory, config: EvalConfig, pool: ThreadPoolExecutor) -> list:
    """(source, clip, reference) per run; a self-reenactment clip's dlib measurements are a future
    of ``pool``, computed while the first model renders."""
    runs = []
    if plan.drivers:
        sources = load_sources(plan.sources or (ASTRONAUT,), tracker=meters.tracker)[:plan.max_sources]
        runs += [(s, resolve_clip(d), None) for d in plan.drivers for s in sources]
    for clip in plan.self_clips:
        path = resolve_clip(clip)
        frames = read_all_frames(path, max_frames=config.max_video_frames)
        face = meters.tracker.detect(frames[0])
        if face is None:
            raise NoFaceError(f"no face in frame 0 of {path}; self-reenactment needs a clip that "
                              "starts on a face")
        geometry = meters.landmarks is not None
        ref = pool.submit(_measure_clip_in_worker, path, frames, geometry, config.crop_size)
        runs.append((EvalSource(path.stem, frames[0], None, face), path, ref))
    return runs


def _evaluate_clips(spec: ModelSpec, recorder: RecordingEditor, runs: list, pipeline_config: PipelineConfig,
                    common: dict) -> VideoEvaluation:
    cfg = replace(pipeline_config, motion=spec.motion) if spec.motion else pipeline_config
    return evaluate_videos(recorder, runs, model=spec.title, pipeline_config=cfg,
                           meta=model_meta(spec, recorder, cfg) | {"motion": cfg.motion}, **common)


def evaluate_models(models: Sequence[ModelSpec], plan: EvalPlan = EvalPlan(), *,
                    config: EvalConfig = EvalConfig(), pipeline_config: PipelineConfig = PipelineConfig(),
                    device: str = "cpu", progress: ProgressFn | None = None,
                    ) -> list[TargetEvaluation] | list[VideoEvaluation]:
    """Evaluate every model on ``plan`` (one evaluation per model, in order).

    Raises:
        InputError / WeightsError / NoFaceError / VideoReadError: bad models, sources or clips.
    """
    if not models:
        raise InputError("no model to evaluate")
    recorders = [(spec, RecordingEditor(load_editor(spec, device=device))) for spec in models]
    with FaceTracker() as tracker:
        meters = MeterFactory(tracker, IdentityMeter(config.identity), _landmarks(config.geometry))
        common = dict(meters=meters, config=config, progress=progress)
        if plan.kind == "targets":
            sources = load_sources(plan.sources or DEFAULT_SOURCES, tracker=tracker)[:plan.max_sources]
            targets = plan.targets or default_targets()
            return [evaluate_targets(rec, sources, targets, model=spec.title, pipeline_config=pipeline_config,
                                     meta=model_meta(spec, rec, pipeline_config), **common)
                    for spec, rec in recorders]
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eval-reference")
        try:
            runs = _video_runs(plan, meters, config, pool)
            return [_evaluate_clips(spec, rec, runs, pipeline_config, common) for spec, rec in recorders]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def evaluate_editor(editor: FaceEditor, sources: Sequence[str] = DEFAULT_SOURCES,
                    targets: Sequence[EvalTarget] | None = None, *, label: str | None = None,
                    config: EvalConfig = EvalConfig(), pipeline_config: PipelineConfig = PipelineConfig(),
                    ) -> TargetEvaluation:
    """One built editor on the AU targets (the trainer's periodic evaluation): its
    ``TargetEvaluation`` (``summarize_targets`` gives the summary dict, ``write_report`` the files)."""
    recorder = RecordingEditor(editor)
    with FaceTracker() as tracker:
        meters = MeterFactory(tracker, IdentityMeter(config.identity), _landmarks(config.geometry))
        found = load_sources(sources, tracker=tracker)
        return evaluate_targets(recorder, found, tuple(targets or default_targets()),
                                pipeline_config=pipeline_config,
                                meters=meters, model=label or editor.name, config=config)


def headline(summary: dict) -> dict[str, float]:
    """The scalars a training log keeps of a targets summary (finite numbers only)."""
    q, own, g = summary["quality"], summary["own_expression"] or {}, summary["geometry"]["pass_rate"]
    rates = [v for v in g.values() if v is not None]
    values = {"requested_au_mae": summary["bar"]["requested_au_mae"],
              "identity_median": summary["identity"]["median"],
              "sharpness_median": q["sharpness"]["median"], "speckle_median": q["speckle"]["median"],
              "chroma_deviation_mean": q["chroma_deviation"]["mean"],
              "own_face_psnr_median": (own.get("face_psnr") or {}).get("median"),
              "geometry_pass_mean": float(np.mean(rates)) if rates else None}
    return {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and np.isfinite(v)}

