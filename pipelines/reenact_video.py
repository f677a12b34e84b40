"""Reenact a video: one photo + a driving video -> the photo's face performing the driver's.

``ReenactPipeline`` (``reenact SOURCE DRIVER OUT``) is built from components (``Pipeline``: a
face editor and a source tracker factory; here also the driver's AU ``extractor`` and the
``smoother``); any of them can be swapped. Calling it runs numbered steps, each a named method:

1. ``check_inputs``   read the source photo, probe the driver, check the outputs can be written
2. ``prepare_source`` find the source face (largest, or ``face_index``), align it once, its AUs
3. ``track``          pass 1 over the driver: decode -> track -> per-frame AUs (an ``AUTrack``)
4. ``smooth``         gap policy + temporal smoothing; the driver's neutral baseline
5. ``transfer``       the source's target AUs per frame (relative / absolute, strength, groups)
6. ``motion``         the driver's landmark motion (warp-guided models, ``motion="landmarks"``)
7. ``write``          the AU plot, then pass 2: the editor in batches -> frames -> encode

Memory stays flat on long videos: pass 1 keeps only the AU track (T x 23 floats); pass 2 never
decodes the driver (except for ``preview``) and streams batches through bounded queues, with
generation + paste in the calling thread and frame assembly + encoding in a writer thread (ffmpeg
itself is a separate process), so the stages overlap.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from reenact.au.extract import face_index_error, sample_frames, track_clip, track_clip_parts
from reenact.au.lids import geometric_blinks
from reenact.au.plot import check_plot_path, save_au_plot
from reenact.au.smoothing import neutral_baseline, smooth_track
from reenact.au.track import AUTrack
from reenact.errors import InputError, NoFaceError, OutputError
from reenact.face.tracking import FaceTracker
from reenact.interrupt import check_stop
from reenact.io.files import check_distinct, check_writable
from reenact.io.sinks import FrameSink, MemorySink, VideoSink
from reenact.io.streams import Timed, limited, prefetched, single_frames
from reenact.io.video import VideoInfo, iter_frames, keyframes, probe_video, random_access, uses_decord
from reenact.model.editor import FaceEditor, SourceFace
from reenact.model.generator import Generator
from reenact.pipelines.base import Pipeline, PipelineConfig, ReenactOutput, TrackerFactory, progress_bar
from reenact.render.motion import MotionConfig, landmark_motion
from reenact.render.renderer import StageTimings
from reenact.render.transfer import transfer_aus

#: ``extractor(frame_chunks, fps) -> AUTrack``: tracks the driver and measures its AUs (pass 1).
Extractor = Callable[[Iterable[np.ndarray], float], AUTrack]
#: ``smoother(raw_track) -> AUTrack``: gap policy + smoothing.
Smoother = Callable[[AUTrack], AUTrack]
PathArg = str | os.PathLike
#: Pass 1 tracks a clip as parts of at least this many frames (a tracker's start costs a few).
MIN_PART_FRAMES = 48


class ReenactPipeline(Pipeline):
    """Reenact one source photo with a driving video (see the module docstring).

    Args:
        editor: the face model (``reenact.model.editor.FaceEditor``, or a GANimation ``Generator``).
        config: options of every stage.
        make_tracker: ``make_tracker(video) -> FaceTracker`` for the source photo (video=False).
        extractor: the driver's AU extractor; default ``reenact.au.extract.track_clip`` with the
            driver's face choice (single-face VIDEO tracking when the clip shows one face).
        smoother: default ``reenact.au.smoothing.smooth_track`` with ``config.smoothing``.

    Raises:
        InputError: landmark motion asked of a model without a rig.
    """

    component_names = (*Pipeline.component_names, "extractor", "smoother")

    def __init__(self, editor: FaceEditor | Generator, config: PipelineConfig = PipelineConfig(), *,
                 make_tracker: TrackerFactory | None = None, extractor: Extractor | None = None,
                 smoother: Smoother | None = None):
        super().__init__(editor, config, make_tracker=make_tracker)
        if config.motion == "landmarks" and getattr(self.editor, "rig", None) is None:
            raise InputError(f"landmark motion needs a warp-guided model; the {self.editor.name} model takes "
                             "AUs only (use --motion aus)")
        self._given |= {"extractor": extractor, "smoother": smoother}
        self.extractor = extractor or self._default_extractor
        self.smoother = smoother or (lambda track: smooth_track(track, config.smoothing))

    def _default_extractor(self, chunks: Iterable[np.ndarray], fps: float) -> AUTrack:
        return track_clip(chunks, fps, **self._extractor_options())

    def _extractor_options(self) -> dict:
        return {"config": replace(self.config.tracker, face_index=self.config.driver_face_index),
                "keep_landmarks": self.config.motion == "landmarks"}

    def _default_tracker(self, video: bool) -> FaceTracker:
        cfg = self.config.tracker
        if video:
            cfg = replace(cfg, face_index=self.config.driver_face_index)
        return FaceTracker(cfg, video=video)

    def __call__(self, source: PathArg | np.ndarray, driver: PathArg, out: PathArg | None = None, *,
                 preview: PathArg | None = None, plot: PathArg | None = None,
                 progress: bool = False) -> ReenactOutput:
        """Reenact ``source`` with ``driver``; write ``out`` (mp4) or return the frames.

        Args:
            source: photo path, or an (H, W, 3) uint8 RGB array.
            driver: driving video path.
            out: output .mp4; None returns the frames in memory (short clips only).
            preview: optional .mp4 path for a side-by-side video (driver | output).
            plot: optional image path (.png/.pdf/.svg) for the AU plot of the drive.
            progress: draw tqdm progress bars.

        Raises:
            ImageReadError / VideoReadError: unreadable inputs. NoFaceError: no face in the
            source, or in every driver frame. OutputError: an output cannot be written.
        """
        t0 = time.perf_counter()
        timings = StageTimings()
        image, info = self.check_inputs(source, driver, out, preview=preview, plot=plot)  # 1
        src = self.prepare_source(image)  # 2
        if self.config.transfer.mode == "absolute":  # the photo's AUs read as the driver's frames are
            aus = tracked_aus(image, config=self.config.tracker)
            src = replace(src, aus=aus) if aus is not None else src
        timings.setup_s = time.perf_counter() - t0
        raw = self.track(info, timings, progress=progress)  # 3
        t = time.perf_counter()
        track, neutral = self.smooth(raw)  # 4
        targets = self.transfer(src.aus, track, neutral)  # 5
        motion = self.motion(raw)  # 6
        timings.smooth_s = time.perf_counter() - t
        frames, plot_path = self.write(src, targets, info, out, raw=raw, track=track, motion=motion,  # 7
                                       preview=preview, plot=plot, timings=timings, progress=progress)
        timings.finish(t0, len(targets))
        return ReenactOutput(
            path=Path(out) if out is not None else None, frames=frames, n_frames=len(targets),
            fps=info.fps_fraction, source=src, targets=targets, raw_track=raw, track=track,
            neutral=neutral, timings=timings, preview_path=Path(preview) if preview else None,
            plot_path=plot_path, precision=self.precision, device=str(self.device))

    # ----------------------------------------------------------------------- steps

    def check_inputs(self, source, driver, out, *, preview=None, plot=None) -> tuple[np.ndarray, VideoInfo]:
        """Step 1: read the photo, probe the driver, check that every output can be written."""
        photo = None if isinstance(source, np.ndarray) else source
        check_distinct({"source photo": photo, "driver": driver},
                       {"output": out, "--preview": preview, "--plot": plot})
        if out is not None and Path(out).suffix.lower() != ".mp4":
            raise OutputError(f"output {out} must end in .mp4")
        if preview is not None and Path(preview).suffix.lower() != ".mp4":
            raise OutputError(f"preview {preview} must end in .mp4")
        if plot is not None:
            check_plot_path(plot)
        for path in (out, preview, plot):
            if path is not None:
                check_writable(path)
        image = self.read_source(source)
        info = probe_video(driver)
        return image, info

    def track(self, info: VideoInfo, timings: StageTimings | None = None, *,
              progress: bool = False) -> AUTrack:
        """Step 3 (pass 1): decode the driver, track its face, measure AUs per frame.

        With the default extractor, ``workers`` >= 2 and a driver that decodes from any frame
        (``random_access``), the clip is tracked as that many consecutive parts at once, each
        decoded and tracked by its own threads (``track_clip_parts``).

        Raises:
            NoFaceError: no face in any frame.
        """
        timings = timings if timings is not None else StageTimings()
        limit = self.config.max_frames
        total = min(info.n_frames, limit) if limit else info.n_frames
        bounds = self._track_parts(info, total)
        bar = progress_bar(progress, total, "tracking driver")
        t0 = time.perf_counter()
        raw, decoded, waited = self._track_in_parts(info, bounds, bar)
        if bar is not None:
            bar.close()
        timings.decode_s += sum(t.seconds for t in decoded)
        # Decode overlaps tracking: tracking is the pass's wall time less the trackers' mean wait.
        wait = sum(t.seconds for t in waited) / len(waited)
        timings.track_s += max(time.perf_counter() - t0 - wait, 0.0)
        if not raw.found.any():
            raise self._no_driver_face(info, total)
        return raw

    def _track_in_parts(self, info: VideoInfo, bounds: list[tuple[int, int]], bar
                        ) -> tuple[AUTrack, list[Timed], list[Timed]]:
        """Pass 1 over the parts ``bounds`` [(first frame, end)]: (the track, the decoders' and
        the trackers' timers). A part but the last that ended early would be a truncated file,
        which ``iter_frames`` reports."""
        limit = self.config.max_frames
        decoded, waited, streams = [], [], []
        for k, (start, stop) in enumerate(bounds):
            # one decoding thread per part: decord's default (one per core) buffers more frames,
            # and with two parts peaked at 2,056 MiB on a 1-minute 640x360 run (1,722 with one)
            frames = iter_frames(info.path, chunk_size=self.frames_per_chunk(info.width * info.height),
                                 info=info, prefetch=0, start=start, num_threads=1)
            last = k == len(bounds) - 1  # the last part reads to the end (or the limit)
            count = (limit - start if limit else None) if last else stop - start
            decoded.append(Timed(limited(frames, count)))
            waited.append(Timed(prefetched(decoded[-1], self.config.queue_depth)))  # tracker idle
            streams.append(_ticking(waited[-1], bar))
        if len(streams) == 1:
            return self.extractor(streams[0], info.fps), decoded, waited
        return track_clip_parts(streams, info.fps, **self._extractor_options()), decoded, waited

    def _track_parts(self, info: VideoInfo, total: int) -> list[tuple[int, int]]:
        """[(first frame, end)] of the parts pass 1 tracks at once (one part: the whole clip).

        A part decodes from the keyframe at or before its first frame, so parts start at a
        keyframe within a quarter part of the even split where there is one. Where there is
        none, decord's small frames still split evenly (the frames back to the keyframe cost
        ~1 ms each; two parts tracked a 120-frame 512x512 clip 1.15x as fast as one), PyAV's big
        ones are tracked as one part (at 1080p the dropped frames cost ~7 ms each, and two parts
        were 0.93x as fast as one).
        """
        n = self.workers if self._given["extractor"] is None and random_access(info) else 1
        n = max(1, min(n, total // MIN_PART_FRAMES))
        edges = [round(total * k / n) for k in range(n + 1)]
        if n > 1:
            keys = keyframes(info) or [0]
            for k in range(1, n):
                near = min(keys, key=lambda f: abs(f - edges[k]))
                if abs(near - edges[k]) <= total / n / 4:
                    edges[k] = near
                elif not uses_decord(info):
                    return [(0, total)]
        return list(zip(edges[:-1], edges[1:], strict=True))

    def _no_driver_face(self, info: VideoInfo, n_frames: int) -> NoFaceError:
        """No face in any driver frame, or the asked --driver-face-index is not there."""
        error = face_index_error(f"the driver {info.path}", face_index=self.config.driver_face_index,
                                 option="--driver-face-index", frames=lambda: sample_frames(info, n_frames),
                                 config=self.config.tracker)
        return error or NoFaceError(f"no face found in any frame of the driver {info.path}; use a video "
                                    "that shows a face")

    def smooth(self, raw: AUTrack) -> tuple[AUTrack, np.ndarray]:
        """Step 4: gap policy + smoothing; the driver's reference face for relative transfer: its
        neutral baseline (from the raw track), or its first frame with a face (smoothed)."""
        if self.config.lids == "geometry":
            raw = geometric_blinks(raw)
        track = self.smoother(raw)
        if self.config.transfer.reference == "first":
            return track, track.values[int(np.argmax(raw.found))].copy()
        return track, neutral_baseline(raw)

    def transfer(self, source_aus: np.ndarray, track: AUTrack, neutral: np.ndarray) -> np.ndarray:
        """Step 5: target AUs (T, 23) for the source face; frames still without values (gap
        policy "missing") show the source at rest."""
        values = track.values.copy()
        missing = np.isnan(values).any(axis=1)
        cfg = self.config.transfer
        values[missing] = neutral if cfg.mode == "relative" else source_aus
        return transfer_aus(source_aus, values, neutral=neutral, config=cfg)

    def motion(self, raw: AUTrack) -> np.ndarray | None:
        """Step 6: (T, 478, 3) canonical landmark motion of the driver in landmark mode, else None."""
        if self.config.motion != "landmarks":
            return None
        cfg = self.config.transfer
        # absolute transfer copies the driver's expression: for landmarks, its motion from its
        # first frame, which is right when the photo is that frame (self-reenactment)
        reference = "first" if cfg.mode == "absolute" else cfg.reference
        return landmark_motion(raw, self.editor.rig, smoothing=self.config.smoothing,
                               config=MotionConfig(strength=cfg.strength, only=cfg.only, reference=reference))

    def write(self, src: SourceFace, targets: np.ndarray, info: VideoInfo, out: PathArg | None, *,
              raw: AUTrack, track: AUTrack, motion: np.ndarray | None = None, preview: PathArg | None = None,
              plot: PathArg | None = None, timings: StageTimings | None = None,
              progress: bool = False) -> tuple[np.ndarray | None, Path | None]:
        """Step 7: the AU plot, then pass 2 (the editor in batches -> encode, with the driver's
        audio cut to the frames rendered). Outputs are all or nothing.

        Returns:
            (frames, plot path): the (T, H, W, 3) uint8 frames when ``out`` is None, else None.
        """
        n = len(targets)
        plot_path = None
        if plot is not None:
            plot_path = Path(save_au_plot(track, plot, raw=raw, title=f"AUs of {Path(info.path).name}"))
        try:
            sink = self.sink(out, info, n, size=src.image.shape[:2], preview=preview)
            gain = self.config.transfer.rig_gain if motion is None else None  # AU mode: the driving gain
            frames = self.render(src, targets, sink, motion=motion, timings=timings, progress=progress,
                                 rig_gain=gain)
        except BaseException:
            if plot_path is not None:
                plot_path.unlink(missing_ok=True)
            raise
        return frames, plot_path

    def sink(self, out: PathArg | None, info: VideoInfo, n: int, *, size: tuple[int, int],
             preview: PathArg | None = None) -> FrameSink:
        """Where pass 2 writes: memory (no ``out``), or an mp4 of ``size`` (h, w) with the driver's
        audio cut to ``n`` frames, and the side-by-side ``preview``."""
        if out is None:
            return MemorySink()
        h, w = size
        return VideoSink(out, width=w, height=h, fps=info.fps_fraction, encode=self.config.encode,
                         audio_from=info.path if info.has_audio else None, audio_codec=info.audio_codec,
                         audio_duration_s=(n / info.fps_fraction) if n < info.n_frames else None,
                         preview=preview, preview_frames=self._driver_frames(info, n) if preview else None)

    def _driver_frames(self, info: VideoInfo, n: int) -> Iterator[np.ndarray]:
        """The driver's first n frames again, one at a time (only for the preview)."""
        return single_frames(limited(iter_frames(info.path, chunk_size=self.config.chunk_size, info=info), n))


def tracked_aus(image: np.ndarray, **options) -> np.ndarray | None:
    """(23,) AUs of a photo's face read as ``track_clip`` reads a clip's frames (MediaPipe's
    tracked crop, not its detection: the two differ by up to 0.6 on the brows), None where no
    face is found; ``options`` as ``track_clip``'s."""
    track = track_clip([np.asarray(image)[None]], 25.0, **options)
    return track.values[0].astype(np.float32) if track.found[0] else None


def _ticking(chunks: Iterable[np.ndarray], bar) -> Iterator[np.ndarray]:
    for chunk in chunks:
        check_stop()
        yield chunk
        if bar is not None:
            bar.update(len(chunk))
