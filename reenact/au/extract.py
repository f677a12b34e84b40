"""AU extraction: frames -> tracked face -> per-frame AU intensities (an ``AUTrack``).

Two layers:
- Stages (no file I/O): ``extract_au_track`` runs a VIDEO-mode ``FaceTracker`` over chunks of
  consecutive frames; ``track_clip`` does the same with the tracker chosen for the clip (one
  face followed between frames when the clip shows one); ``extract_image_aus`` runs an
  IMAGE-mode tracker over unrelated images.
- ``extract_aus(path)``: the whole ``reenact aus`` job on a video, an image or a folder of images
  (decode, track, AUs, gap policy + smoothing, neutral baseline), returning an ``AUExtraction``.
  The CLI is a thin layer over it.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from reenact.au.blendshapes import aus_from_measurements, lid_apertures
from reenact.au.pyfeat import PyFeatBackend
from reenact.au.smoothing import SmoothingConfig, neutral_baseline, smooth_track
from reenact.au.space import TABLE_AU_NAMES
from reenact.au.track import AUTrack
from reenact.errors import ImageReadError, InputError, NoFaceError
from reenact.face.tracking import FaceObservation, FaceTracker, TrackerConfig
from reenact.io.images import is_image_path, list_images, load_image
from reenact.io.memory import trim_heap
from reenact.io.streams import Stopped, until
from reenact.io.video import VideoInfo, iter_frames, probe_video, read_frames

ProgressFn = Callable[[int], None]

#: Names accepted by ``reenact aus --backend``: MediaPipe (default) and the optional py-feat
#: (``reenact.au.pyfeat``: importable without py-feat, it says what to install when created).
AU_BACKENDS: tuple[str, ...] = ("mediapipe", "pyfeat")


@dataclass(frozen=True)
class ExtractConfig:
    """Options of the ``aus`` job: which face, how to smooth, how to decode."""

    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    chunk_size: int = 32  # frames decoded per chunk (memory ~ 3 chunks of frames)
    # When no face_index is asked and the first chunk shows at most one face, track a single
    # face: MediaPipe then stops re-running its detector on every frame (~10% faster, half the
    # AU jitter). A second, larger face that enters later is then not switched to.
    single_face_fast_path: bool = True
    backend: str = "mediapipe"  # or "pyfeat" (optional: needs py-feat and its weights)


@dataclass(frozen=True, eq=False)
class AUExtraction:
    """Result of ``extract_aus``.

    Attributes:
        raw: AUs as tracked, NaN rows where no face was found.
        track: ``raw`` after the gap policy and smoothing of ``config.smoothing``.
        neutral: (23,) float32, the resting face estimated from ``raw`` (``neutral_baseline``).
        kind: "video", "image" or "folder".
        inputs: the input file(s); for a folder, one image per row.
        video: the clip's metadata (None for images).
        config: the options used.
        skipped: for a folder, the images that could not be read and why (they have no row).
    """

    raw: AUTrack
    track: AUTrack
    neutral: np.ndarray
    kind: str
    inputs: tuple[Path, ...]
    video: VideoInfo | None
    config: ExtractConfig
    skipped: tuple[tuple[Path, str], ...] = ()


_AU_BATCH = 256  # faces turned into AUs at once: landmarks are not kept for the whole clip


def _collect(faces: Iterable[FaceObservation | None], fps: float, sources: tuple[str, ...] = (), *,
             keep_landmarks: bool = False) -> AUTrack:
    """Turn per-frame observations into an AUTrack (AUs computed in vectorised batches).

    Memory grows by one AU row and one pose row per frame; landmarks are dropped batch by batch
    unless ``keep_landmarks`` (then ~5.7 KB a frame).
    """
    found: list[bool] = []
    rows: list[np.ndarray] = []
    poses: list[tuple[float, float, float]] = []
    bs: list[np.ndarray] = []
    lm: list[np.ndarray] = []
    kept: list[np.ndarray] = []
    lids: list[np.ndarray] = []

    def flush() -> None:
        if bs:
            rows.append(aus_from_measurements(np.stack(bs), np.stack(lm)))
            bs.clear()
            lm.clear()

    for face in faces:
        found.append(face is not None)
        if face is not None:
            bs.append(face.blendshapes)
            lm.append(face.landmarks[:, :2])
            poses.append(face.pose)
            lids.append(lid_apertures(face.landmarks[None])[0])
            if keep_landmarks:
                kept.append(face.landmarks)
            if len(bs) == _AU_BATCH:
                flush()
    flush()
    found_arr = np.array(found, bool)
    values = np.full((len(found), len(TABLE_AU_NAMES)), np.nan, np.float32)
    pose = np.full((len(found), 3), np.nan, np.float32)
    landmarks = None
    if keep_landmarks:
        landmarks = np.full((len(found), 478, 3), np.nan, np.float32)
        if kept:
            landmarks[found_arr] = np.stack(kept)
    apertures = np.full((len(found), 2), np.nan, np.float32)
    if rows:
        values[found_arr] = np.concatenate(rows)
        pose[found_arr] = np.array(poses, np.float32)
        apertures[found_arr] = np.stack(lids)
    return AUTrack(values=values, found=found_arr, pose=pose, fps=float(fps), sources=sources,
                   landmarks=landmarks, lids=apertures)


def _tracked(frame_chunks: Iterable[np.ndarray], fps: float, tracker: FaceTracker,
             ) -> Iterator[FaceObservation | None]:
    """Each frame's observation; the first read twice, kept from the tracked crop (detections differ)."""
    step_ms, i = 1000.0 / fps, 0
    for chunk in frame_chunks:
        for frame in chunk:
            if i == 0:  # the first look, read again below
                tracker.track(frame, 0)
                i = 1
            yield tracker.track(frame, int(round(i * step_ms)))
            i += 1
        del chunk
        trim_heap()


def extract_au_track(frame_chunks: Iterable[np.ndarray], fps: float, *, tracker: FaceTracker,
                     keep_landmarks: bool = False) -> AUTrack:
    """AUs of the selected face through a clip.

    Args:
        frame_chunks: consecutive frames as chunks (n, H, W, 3) uint8 RGB (``iter_frames``).
        fps: the clip's frame rate (> 0).
        tracker: a ``FaceTracker(video=True)``; its config picks the face (largest, or
            ``face_index``). Use a fresh tracker per clip: VIDEO mode keeps state.
        keep_landmarks: also keep every frame's landmarks (``AUTrack.landmarks``).

    Returns:
        AUTrack with NaN rows (and ``found`` False) where no face was found.
    """
    if fps <= 0:
        raise InputError(f"fps must be > 0 for a clip, got {fps}")
    if not tracker.video:
        raise InputError("extract_au_track needs a FaceTracker(video=True)")
    return _collect(_tracked(frame_chunks, fps, tracker), fps, keep_landmarks=keep_landmarks)


def extract_image_aus(images: Iterable[np.ndarray], *, tracker: FaceTracker,
                      sources: tuple[str, ...] = ()) -> AUTrack:
    """AUs of the selected face in each of a list of unrelated images (one row per image).

    Args:
        images: RGB uint8 images (H, W, 3), sizes may differ.
        tracker: a ``FaceTracker()`` in IMAGE mode.
        sources: optional name of each image (kept in ``AUTrack.sources``).

    Returns:
        AUTrack with fps 0.0.
    """
    if tracker.video:
        raise InputError("extract_image_aus needs a FaceTracker in IMAGE mode (video=False)")
    return _collect((tracker.detect(img) for img in images), 0.0, sources)


def _counted(chunks: Iterable[np.ndarray], progress: ProgressFn | None) -> Iterator[np.ndarray]:
    for chunk in chunks:
        yield chunk
        if progress is not None:
            progress(len(chunk))


def track_clip(frame_chunks: Iterable[np.ndarray], fps: float, **options) -> AUTrack:
    """``track_clip_parts`` of a clip in one part (``frame_chunks``: its consecutive frames as
    chunks (n, H, W, 3) uint8 RGB)."""
    return track_clip_parts([frame_chunks], fps, **options)


def track_clip_parts(parts: Sequence[Iterable[np.ndarray]], fps: float, *,
                     config: TrackerConfig = TrackerConfig(), single_face_fast_path: bool = True,
                     model_path: Path | None = None, keep_landmarks: bool = False) -> AUTrack:
    """``extract_au_track`` of a clip given as consecutive parts (chunk streams, each starting
    where the previous one ends), with a VIDEO-mode tracker chosen for the clip.

    When no ``face_index`` is asked and the first chunk shows at most one face, the tracker
    follows a single face (MediaPipe crops around the last landmarks instead of re-detecting
    every frame: faster, and about half the AU jitter); otherwise it tracks ``config.max_faces``
    faces and picks the largest or the ``face_index``-th each frame. Parts are tracked at once,
    one tracker per part in its own thread (MediaPipe releases the GIL: two parts on two cores
    track about 1.8x as fast); the track is theirs end to end. A tracker starts fresh at each
    part's first frame, which moved the AUs by 0.001 on average over four clips (one tracker
    through the whole clip vs two halves).

    Args:
        parts: the chunk streams. fps: the clip's frame rate.
        config: face choice and detection thresholds.
        single_face_fast_path: allow the single-face tracking described above.
        model_path: a FaceLandmarker bundle instead of the registry's.
        keep_landmarks: also keep every frame's landmarks (``AUTrack.landmarks``).

    Raises:
        InputError: the first part has no frames.
    """
    streams = [iter(p) for p in parts]
    first = next(streams[0], None)
    if first is None:
        raise InputError("no frames to track")
    streams[0] = itertools.chain([first], streams[0])
    tracker_config = _video_tracker_config(first, config, single_face_fast_path, model_path)
    failed = threading.Event()  # one part failed: the others stop at their next chunk

    def track(chunks: Iterator[np.ndarray]) -> AUTrack:
        try:
            with FaceTracker(tracker_config, model_path=model_path, video=True) as tracker:
                return extract_au_track(until(failed, chunks), fps, tracker=tracker,
                                        keep_landmarks=keep_landmarks)
        except BaseException:
            failed.set()
            raise

    if len(streams) == 1:
        return track(streams[0])
    with ThreadPoolExecutor(len(streams) - 1, thread_name_prefix="reenact-track") as pool:
        later = [pool.submit(track, s) for s in streams[1:]]
        try:
            head = [track(streams[0])]  # the first part in this thread (it polls Ctrl-C)
        except Stopped:  # a later part failed: its error is raised below
            head = []
    for error in (job.exception() for job in later):
        if error is not None and not isinstance(error, Stopped):
            raise error
    return AUTrack.concatenate(head + [job.result() for job in later])


def _video_tracker_config(first_chunk: np.ndarray, tc: TrackerConfig, fast_path: bool,
                          model_path: Path | None) -> TrackerConfig:
    """The tracker options for a clip: one face only if the clip's start shows at most one."""
    if not fast_path or tc.face_index is not None or tc.max_faces <= 1:
        return tc
    probes = first_chunk[:: max(1, len(first_chunk) // 4)][:4]
    with FaceTracker(tc, model_path=model_path) as tracker:
        most = max(len(tracker.detect_all(frame)) for frame in probes)
    return replace(tc, max_faces=1) if most <= 1 else tc


def _image_paths(path: Path) -> tuple[str, tuple[Path, ...]]:
    if path.is_dir():
        return "folder", tuple(list_images(path))
    return "image", (path,)


def count_faces(frames: Iterable[np.ndarray], *, config: TrackerConfig = TrackerConfig(),
                model_path: Path | None = None) -> int:
    """The most faces seen in any one of ``frames`` (IMAGE-mode detection, up to
    ``config.max_faces``); used to explain a ``face_index`` that was never found."""
    with FaceTracker(replace(config, face_index=None), model_path=model_path) as tracker:
        return max((len(tracker.detect_all(frame)) for frame in frames), default=0)


def face_index_error(what: str, *, face_index: int | None, option: str,
                     frames: Callable[[], Iterable[np.ndarray]], config: TrackerConfig = TrackerConfig(),
                     model_path: Path | None = None) -> NoFaceError | None:
    """Why the ``face_index``-th face was never found, when that is the reason: ``frames()`` (a
    few frames or images of the input) show faces, just fewer. None when no index was asked or
    no face is there at all (then the plain "no face found" applies).

    Args:
        what: the input as the message names it, e.g. "the driver clip.mp4".
        option: the CLI option that chose the face, e.g. "--driver-face-index".
    """
    if face_index is None:
        return None
    most = count_faces(frames(), config=config, model_path=model_path)
    if most == 0:
        return None
    return NoFaceError(f"{what} shows {most} face(s); {option} {face_index} does not exist "
                       f"(use 0..{most - 1}, counted from the left)")


def sample_frames(info: VideoInfo, n_frames: int | None = None, k: int = 8) -> np.ndarray:
    """``k`` frames spread over the first ``n_frames`` frames of a clip (default: all of it)."""
    n = min(info.n_frames, n_frames or info.n_frames)
    return read_frames(info.path, sorted(set(np.linspace(0, max(n - 1, 0), k).round().astype(int).tolist())))


def _read_images(inputs: tuple[Path, ...], progress: ProgressFn | None, *, skip: bool,
                 read: list[Path], skipped: list[tuple[Path, str]]) -> Iterator[np.ndarray]:
    """Load each image; with ``skip``, an unreadable one is recorded in ``skipped`` instead of
    failing (the readable ones are appended to ``read``)."""
    for p in inputs:
        try:
            image = load_image(p)
        except ImageReadError as exc:
            if not skip:
                raise
            skipped.append((p, str(exc)))
        else:
            read.append(p)
            yield image
        if progress is not None:
            progress(1)


def _extract_images(path: Path, kind: str, inputs: tuple[Path, ...], config: ExtractConfig,
                    progress: ProgressFn | None, model_path: Path | None):
    """AUs of an image or of each image of a folder; a folder's unreadable images are skipped.

    Returns:
        (raw track, the images read, the images skipped with why).
    """
    read: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    images = _read_images(inputs, progress, skip=kind == "folder", read=read, skipped=skipped)
    with FaceTracker(config.tracker, model_path=model_path) as tracker:
        raw = extract_image_aus(images, tracker=tracker)
    if not read:
        raise ImageReadError(f"none of the {len(inputs)} image(s) in {path} is readable (first: "
                             f"{skipped[0][1]}); give a folder with JPEG/PNG images")
    return replace(raw, sources=tuple(p.name for p in read)), tuple(read), tuple(skipped)


def extract_aus(path: str | os.PathLike, config: ExtractConfig = ExtractConfig(), *,
                progress: ProgressFn | None = None, model_path: Path | None = None) -> AUExtraction:
    """Per-frame AUs of a video, an image or a folder of images.

    Args:
        path: a video file, an image file, or a folder of images (one row per image, by name).
        config: face choice, smoothing and gap policy, decoding.
        progress: called with the number of frames (or images) just processed.
        model_path: a FaceLandmarker bundle to use instead of the registry's.

    Raises:
        VideoReadError / ImageReadError: unreadable, truncated or empty input.
        NoFaceError: no face in any frame (or image).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"input {path} does not exist; check the path")
    if config.backend not in AU_BACKENDS:
        raise InputError(f"unknown AU backend {config.backend!r}; use one of {', '.join(AU_BACKENDS)}")
    video: VideoInfo | None = None
    if path.is_dir() or is_image_path(path):
        kind, inputs = _image_paths(path)
    else:
        kind, inputs = "video", (path,)
        video = probe_video(path)
    skipped: tuple[tuple[Path, str], ...] = ()
    if config.backend == "pyfeat":
        raw = _extract_pyfeat(inputs, video)
    elif video is None:
        raw, inputs, skipped = _extract_images(path, kind, inputs, config, progress, model_path)
    else:
        chunks = iter_frames(path, chunk_size=config.chunk_size, info=video)
        raw = track_clip(_counted(chunks, progress), video.fps, config=config.tracker,
                         single_face_fast_path=config.single_face_fast_path, model_path=model_path)
    if not raw.found.any():
        raise _no_face(path, kind, inputs, video, config, model_path)
    return AUExtraction(raw=raw, track=smooth_track(raw, config.smoothing), neutral=neutral_baseline(raw),
                        kind=kind, inputs=inputs, video=video, config=config, skipped=skipped)


def _no_face(path: Path, kind: str, inputs: tuple[Path, ...], video: VideoInfo | None,
             config: ExtractConfig, model_path: Path | None) -> NoFaceError:
    def frames() -> Iterable[np.ndarray]:
        return sample_frames(video) if video is not None else (load_image(p) for p in inputs[:8])

    error = face_index_error(str(path), face_index=config.tracker.face_index, option="--face-index",
                             frames=frames, config=config.tracker, model_path=model_path)
    what = {"video": "in any frame of", "image": "in", "folder": "in any image of"}[kind]
    return error or NoFaceError(f"no face found {what} {path}; give an input that shows a face")


def _extract_pyfeat(inputs: tuple[Path, ...], video: VideoInfo | None) -> AUTrack:
    backend = PyFeatBackend()
    if video is None:
        return backend.extract_images(list(inputs))
    return backend.extract_video(inputs[0], video.fps)
