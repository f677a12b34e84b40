"""The video evaluation run: a source photo driven by a clip through the user's pipeline, or a
clip reenacting its own frame 0, measured by ``reenact.eval`` (what is measured:
``reenact.eval.videos``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from reenact.au.extract import extract_au_track
from reenact.errors import InputError
from reenact.eval.measure import measure_aus
from reenact.eval.metrics import attention_stats, au_fidelity
from reenact.eval.sources import EvalSource
from reenact.eval.targets import EvalConfig, MeterFactory, face_cell, paste_seam
from reenact.eval.videos import (
    ClipReference,
    SelfReenactStats,
    VideoEvaluation,
    VideoResult,
    aligned_scores,
    mean_quality,
    mean_seam,
    sample_indices,
    self_reenact_stats,
    track_readings,
    video_stability,
    whole_frame_scores,
)
from reenact.face.tracking import FaceTracker
from reenact.io.video import read_frames
from reenact.pipelines.evaluation.render import RecordingEditor, pipeline_for

ProgressFn = Callable[[int], None]
#: output frames dlib reads before their comparisons go to the worker threads
_READ_CHUNK = 40


def _chunks(items, size: int) -> Iterator[np.ndarray]:
    for i in range(0, len(items), size):
        yield np.stack(items[i:i + size])


def _video_aus(windows: list[np.ndarray], fps: float) -> np.ndarray:
    """(T, 23) AUs MediaPipe reads on the output windows, tracked as a clip (VIDEO mode)."""
    with FaceTracker(video=True) as tracker:
        return extract_au_track(_chunks(windows, 32), fps, tracker=tracker).values


def _driver_cells(driver: Path, idx: np.ndarray, reference: ClipReference | None, meters: MeterFactory,
                  size: int) -> np.ndarray:
    """Face cells of the driver's frames at ``idx`` (the face MediaPipe finds, else the centre)."""
    frames = reference.frames[idx] if reference is not None else read_frames(driver, idx.tolist())
    cells = []
    for frame in frames:
        face = meters.tracker.detect(frame)
        h, w = frame.shape[:2]
        s = min(h, w)
        box = face.box if face is not None else ((w - s) / 2, (h - s) / 2, (w + s) / 2, (h + s) / 2)
        cells.append(face_cell(frame, box, size, zoom=1.7 if face is not None else 1.0))
    return np.stack(cells)


def evaluate_video(recorder: RecordingEditor, source: EvalSource, driver: str | Path, *, pipeline_config,
                   meters: MeterFactory, config: EvalConfig = EvalConfig(),
                   reference: ClipReference | Future | None = None, progress: ProgressFn | None = None,
                   ) -> VideoResult:
    """Drive ``source`` with ``driver`` through the pipeline and measure the result; with a
    ``reference`` (the driver's own frames, source = its frame 0, or a future of it that is
    awaited once the pipeline has run) also against the real frames.

    MediaPipe's reading of the output (VIDEO mode, its own graph threads) runs in a worker thread
    beside the dlib and pixel measures."""
    mode = config.transfer or ("absolute" if reference is not None else "relative")
    pipe = pipeline_for(recorder, pipeline_config, face_index=source.face_index,
                        max_frames=config.max_video_frames, transfer=mode)
    recorder.reset()
    out = pipe(source.image, driver, None)
    if isinstance(reference, Future):
        reference = reference.result()
    frames, targets, src = out.frames, out.targets, out.source
    meter = meters.meter(source.name, src)
    windows = [meter.window(f) for f in frames]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="eval-measure") as pool:
        measured = pool.submit(_video_aus, windows, float(out.fps))
        fields = _measure_video(out, windows, meter, meters, recorder, config, reference, pool, Path(driver))
        fidelity = au_fidelity(targets, measured.result())
    if progress is not None:
        progress(len(frames))
    return VideoResult(source=source.name, driver=Path(driver).name, fidelity=fidelity, **fields)


def _measure_video(out, windows: list[np.ndarray], meter, meters: MeterFactory, recorder: RecordingEditor,
                   config: EvalConfig, reference: ClipReference | None, pool: ThreadPoolExecutor,
                   driver: Path) -> dict:
    """The fields of a ``VideoResult`` but the names and the AU fidelity; the measures that need
    no dlib go to ``pool`` (MediaPipe, OpenCV and numpy free the GIL; only that job uses
    ``meters.tracker``)."""
    frames, targets, src = out.frames, out.targets, out.source
    outside = (recorder.prepared.full_mask() <= 0).astype(np.float32)  # beyond the paste: never changes
    samples = sample_indices(len(frames), config.n_cells)

    def sampled() -> tuple[list, np.ndarray]:  # faces of the sample frames, the driver's cells
        _, faces = measure_aus([windows[i] for i in samples], tracker=meters.tracker)
        return faces, _driver_cells(driver, samples, reference, meters, config.cell_size)

    sample_job = pool.submit(sampled)
    quality = pool.submit(lambda: mean_quality([meter.quality(w) for w in windows]))
    whole = pool.submit(whole_frame_scores, frames, reference) if reference is not None else None
    stability = pool.submit(video_stability, frames, windows, meter, outside, targets)
    stats = _self_reenact(frames, meter, reference, config, pool, whole) if reference is not None else None
    attention = recorder.attention_values()
    seams = [paste_seam(frames[i], src.image, recorder.prepared) for i in sample_indices(len(frames), 24)]
    faces, driver_cells = sample_job.result()
    return dict(
        n_frames=len(frames), baseline=au_fidelity(targets, np.tile(meter.source_aus, (len(targets), 1))),
        stability=stability.result(),
        identity=np.array([meter.identity_distance(windows[i], f)
                           for i, f in zip(samples, faces, strict=True)]),
        quality=quality.result(), seam=mean_seam(seams),
        attention=attention_stats(attention) if attention is not None else None, self_reenact=stats,
        cells=np.stack([face_cell(frames[i], src.face.box, config.cell_size) for i in samples]),
        driver_cells=driver_cells, sample_frames=tuple(int(i) for i in samples), render_s=out.timings.total_s)


def _self_reenact(frames: np.ndarray, meter, reference: ClipReference, config: EvalConfig,
                  pool: ThreadPoolExecutor, whole: Future) -> SelfReenactStats:
    """dlib reads the output frames a chunk at a time (GIL-bound) while ``pool`` compares the
    chunks read so far with the real frames (PIL and OpenCV, GIL-free)."""
    hint = reference.readings[0].face.box if reference.readings[0].face is not None else None
    fixed = reference.readings[0] if config.output_crops == "source" and hint is not None else None
    readings, parts = [], []
    for lo in range(0, len(frames), _READ_CHUNK):
        chunk = track_readings(frames[lo:lo + _READ_CHUNK], meter.read_geometry, hint)
        hint = next((r.face.box for r in reversed(chunk) if r.face is not None), hint)
        readings += chunk
        parts.append(pool.submit(aligned_scores, frames[lo:lo + _READ_CHUNK], chunk, reference,
                                 config.crop_size, lo, fixed=fixed))
    aligned = [row for part in parts for row in part.result()]
    return self_reenact_stats(frames, readings, reference, config.crop_size, whole.result(), aligned)


def evaluate_videos(recorder: RecordingEditor, runs, *, pipeline_config, meters: MeterFactory,
                    model: str | None = None, config: EvalConfig = EvalConfig(),
                    progress: ProgressFn | None = None, meta: dict | None = None) -> VideoEvaluation:
    """Evaluate one model on ``runs``: (EvalSource, driver path, ClipReference or None) each."""
    if not runs:
        raise InputError("video evaluation needs at least one (source, clip) run")
    results = tuple(evaluate_video(recorder, source, driver, pipeline_config=pipeline_config, meters=meters,
                                   config=config, reference=ref, progress=progress)
                    for source, driver, ref in runs)
    return VideoEvaluation(model=model or recorder.name, results=results, config=config,
                           meta=dict(meta or {}))
