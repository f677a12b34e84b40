"""The one render loop of reenact: a face editor in batches -> frames into a sink.

Every pipeline renders through ``render_frames`` (``reenact SOURCE DRIVER OUT``, ``reenact
animate``, ``reenact render-batch``) and so does the evaluation harness, so they all run the same
code path:

    editor.prepare(source) once -> for each batch of target rows: editor.edit (the calling
    thread, or ``workers`` threads taking batches in turn) -> assemble the full frames (or take
    the aligned crops) and sink.write (a writer thread)

The writer thread sits behind a bounded queue (``queue_depth`` batches), so memory is flat on
long clips and rendering overlaps frame assembly + encoding. ``check_stop`` runs before each
batch (Ctrl-C / SIGTERM); an error anywhere stops both threads and the sink removes its partial
output.

Conventions: targets are (T, 23) AU-table rows in [0, 1] (``reenact.au.space.TABLE_AU_NAMES``);
``motion`` is an optional (T, 478, 3) canonical landmark displacement (``reenact.render.motion``).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from reenact.errors import InputError
from reenact.interrupt import check_stop
from reenact.io.memory import trim_heap
from reenact.io.sinks import FrameSink
from reenact.io.streams import WriterThread
from reenact.model.editor import EditedBatch, FaceEditor, PreparedFace


@dataclass
class StageTimings:
    """Wall-clock seconds per stage of one run (stages overlap in pass 2, so they do not sum to
    ``total_s``: each is the time spent inside that stage's own work)."""

    decode_s: float = 0.0  # decoding the driver (pass 1)
    track_s: float = 0.0  # MediaPipe tracking + AUs (pass 1)
    smooth_s: float = 0.0  # gap policy, smoothing, neutral baseline, transfer
    generate_s: float = 0.0  # networks' forward passes (G, the refiner)
    warp_s: float = 0.0  # rig + warping the photo (warp-guided models)
    paste_s: float = 0.0  # composing at full resolution
    encode_s: float = 0.0  # frame assembly + handing frames to the sink (incl. waiting on ffmpeg)
    setup_s: float = 0.0  # reading the source, finding and aligning its face
    total_s: float = 0.0  # the whole call, wall clock
    n_frames: int = 0

    def add(self, seconds: dict[str, float]) -> None:
        """Add an editor's per-part seconds ("generate", "warp", "paste") to the stage totals."""
        for part, value in seconds.items():
            name = f"{part}_s"
            setattr(self, name, getattr(self, name) + value)

    def finish(self, started: float, n_frames: int) -> None:
        """Set ``total_s`` from ``started`` (a ``time.perf_counter()``) to now, and ``n_frames``."""
        self.total_s = time.perf_counter() - started
        self.n_frames = n_frames

    @property
    def fps(self) -> float:
        """End-to-end frames per second of the call."""
        return self.n_frames / self.total_s if self.total_s > 0 else 0.0

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in vars(self).items()} | {
            "fps": round(self.fps, 3)}


def render_batches(editor: FaceEditor, prepared: PreparedFace, targets: np.ndarray, *,
                   batch_size: int, motion: np.ndarray | None = None, precision: str = "fp32",
                   workers: int = 1) -> Iterator[tuple[int, EditedBatch]]:
    """Edit ``targets`` (T, 23) in batches: yields (start row, EditedBatch) in order.

    ``motion`` (T, 478, 3) or None is sliced with the targets; ``check_stop()`` runs before each
    batch. ``workers`` > 1 edits that many batches at once in threads (an editor's kernels release
    the GIL: two batches on two cores ran 1.85-2.0x as fast as one after the other, with identical
    frames); batches still come out in order.
    """
    targets = np.asarray(targets, np.float32)

    def edit(start: int) -> EditedBatch:
        sl = slice(start, start + batch_size)
        return editor.edit(prepared, targets[sl], motion=None if motion is None else motion[sl],
                           precision=precision)

    starts = range(0, len(targets), batch_size)
    if workers <= 1 or len(starts) <= 1:
        for start in starts:
            check_stop()
            yield start, edit(start)
        return
    pending: deque[tuple[int, Future]] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="reenact-edit") as pool:
        try:
            for start in starts:
                check_stop()
                pending.append((start, pool.submit(edit, start)))
                if len(pending) == workers:
                    start, job = pending.popleft()
                    yield start, job.result()
            while pending:
                check_stop()
                start, job = pending.popleft()
                yield start, job.result()
        finally:  # stopped early (an error, Ctrl-C): drop what has not started
            for _, job in pending:
                job.cancel()


def render_frames(editor: FaceEditor, prepared: PreparedFace, targets: np.ndarray, sink: FrameSink, *,
                  batch_size: int, precision: str = "fp32", motion: np.ndarray | None = None,
                  queue_depth: int = 3, crops: bool = False, timings: StageTimings | None = None,
                  progress: Callable[[int], None] | None = None, workers: int = 1) -> np.ndarray | None:
    """Render ``targets`` on a prepared face into ``sink`` (entered and closed here).

    Args:
        editor, prepared: the model and its prepared source face (``editor.prepare(source)``).
        targets: (T, 23) float32 target AUs in [0, 1].
        sink: where the (B, H, W, 3) uint8 frames go (``reenact.io.sinks``).
        batch_size: target rows per ``editor.edit``.
        precision: "bf16" or "fp32" (autocast of the editor's networks).
        motion: optional (T, 478, 3) landmark motion for warp-guided editors.
        queue_depth: batches in flight between the editor and the writer thread.
        crops: hand the sink the (B, S, S, 3) aligned crops instead of full frames.
        timings: adds the editor's parts (generate, warp, paste) and ``encode_s`` (the writer).
        progress: called with the number of frames of each batch once it is edited.
        workers: batches edited at once (threads; ``render_batches``).

    Returns:
        ``sink.result()``: (T, H, W, 3) uint8 frames for a ``MemorySink``, else None.

    Raises:
        InputError: ``crops`` asked of a model that makes none.
    """
    timings = timings if timings is not None else StageTimings()
    assemble = _take_crops if crops else _assemble(prepared)
    batches = render_batches(editor, prepared, targets, batch_size=batch_size, motion=motion,
                             precision=precision, workers=workers)
    with sink, WriterThread(sink.write, queue_depth, assemble) as writer:
        for _, batch in batches:
            if crops and batch.crops is None:
                raise InputError(f"the {editor.name} model makes no aligned crops; render without --crop")
            timings.add(batch.seconds)
            writer.put(batch)
            trim_heap()
            if progress is not None:
                progress(len(batch.regions))
    timings.encode_s += writer.seconds
    return sink.result()


def _take_crops(batch: EditedBatch) -> np.ndarray:
    return batch.crops


def _assemble(prepared: PreparedFace) -> Callable[[EditedBatch], np.ndarray]:
    return lambda batch: prepared.assemble(batch.regions)
