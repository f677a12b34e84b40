"""Video reading: metadata up front, frames streamed in chunks with bounded memory.

Conventions:
- Frames are numpy arrays (n, H, W, 3) uint8 RGB, in DISPLAY orientation: a phone clip stored
  sideways with a rotation flag comes out upright, and ``VideoInfo.width/height`` are the
  displayed size.
- Decoding uses decord (fast, applies rotation) up to 720p, and PyAV (``reenact.io.pyav_decode``)
  above it and for what decord cannot read (AV1, some containers); PyAV frames are rotated
  there. Both start at any frame (``start``) from the keyframe before it. Metadata (fps, frame count,
  rotation, audio) comes from PyAV, since no ffprobe ships with imageio-ffmpeg.
- Memory is bounded by ``chunk_size`` x ``prefetch`` frames: a background thread decodes the
  next chunk while the caller works on the current one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from reenact.errors import InputError, VideoReadError
from reenact.io.images import is_image_path
from reenact.io.pyav_decode import _open_container, _packet_index, _pyav_chunks, keyframes  # noqa: F401
from reenact.io.streams import prefetched

# Codecs that decord 0.6 cannot decode (it fails or crashes on them); PyAV reads them.
_DECORD_UNSUPPORTED = ("av1",)
# Frames a container's frame count may overstate (edit lists, dropped pre-roll) without the
# clip counting as truncated: the larger of 2 frames and 0.5% of the count.
_COUNT_SLACK = 2
_COUNT_SLACK_FRACTION = 0.005


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a clip before decoding it.

    Attributes:
        path: the file.
        fps: average frame rate (frames per second).
        fps_fraction: the same rate exactly (e.g. 24000/1001), for encoders.
        n_frames: number of video frames.
        width, height: DISPLAY size in pixels (after rotation).
        rotation: display rotation in degrees counter-clockwise (0, 90, 180, 270).
        has_audio: whether the file has an audio stream.
        audio_codec: its codec name, or None.
        duration_s: duration in seconds.
        codec: video codec name (e.g. "h264", "av1").
    """

    path: Path
    fps: float
    fps_fraction: Fraction
    n_frames: int
    width: int
    height: int
    rotation: int
    has_audio: bool
    audio_codec: str | None
    duration_s: float
    codec: str

    @property
    def decord_readable(self) -> bool:
        """Whether decord can decode this codec (otherwise PyAV is used)."""
        return self.codec not in _DECORD_UNSUPPORTED


def _check_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise VideoReadError(f"video {path} does not exist; check the path")
    if path.is_dir():
        raise VideoReadError(f"{path} is a folder, not a video; give a video file")
    if is_image_path(path):
        raise VideoReadError(f"{path} is an image, not a video; use the image API (reenact.io.images)")
    if path.stat().st_size == 0:
        raise VideoReadError(f"video {path} is an empty file; give a complete video")
    return path


def _count_packets(container, stream) -> int:
    return sum(1 for p in container.demux(stream) if p.size)


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Metadata of a video file, read with PyAV (decodes at most the first frame).

    Raises:
        VideoReadError: missing file, not a video, no video stream, or no decodable frame.
    """
    path = _check_path(path)
    with _open_container(path) as container:
        if not container.streams.video:
            raise VideoReadError(f"{path} has no video stream; give a video file")
        stream = container.streams.video[0]
        codec = stream.codec_context.codec.canonical_name
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or rate <= 0:
            raise VideoReadError(f"{path} has no frame rate; re-encode it with ffmpeg")
        fps_fraction = Fraction(rate.numerator, rate.denominator)
        try:
            first = next(container.decode(stream), None)
        except av.error.FFmpegError as exc:
            raise VideoReadError(
                f"{path}: its first frame cannot be decoded; the file is damaged or truncated, "
                "re-encode or re-download it"
            ) from exc
        if first is None:
            raise VideoReadError(f"{path} has no video frames; give a video with frames")
        rotation = int(round(first.rotation or 0)) % 360
        n_frames = int(stream.frames or 0)
        if n_frames <= 0:  # containers such as mkv/webm store no frame count: count packets
            container.seek(0)
            n_frames = _count_packets(container, stream)
        if stream.duration and stream.time_base:
            duration_s = float(stream.duration * stream.time_base)
        elif container.duration:
            duration_s = container.duration / 1e6
        else:
            duration_s = n_frames / float(fps_fraction)
        w, h = first.width, first.height
        if rotation in (90, 270):
            w, h = h, w
        audio = container.streams.audio
        return VideoInfo(
            path=path, fps=float(fps_fraction), fps_fraction=fps_fraction, n_frames=n_frames,
            width=w, height=h, rotation=rotation, has_audio=bool(audio),
            audio_codec=audio[0].codec_context.codec.canonical_name if audio else None,
            duration_s=duration_s, codec=codec,
        )


_DECORD_REOPEN_FRAMES = 64


def _decord_chunks(info: VideoInfo, chunk_size: int, num_threads: int, first: int = 0
                   ) -> Iterator[np.ndarray]:
    import decord

    decord.logging.set_level(decord.logging.QUIET)  # its errors surface as VideoReadError

    def open_reader(at: int):
        try:
            return decord.VideoReader(str(info.path), ctx=decord.cpu(0), num_threads=num_threads)
        except (decord.DECORDError, RuntimeError) as exc:
            raise _DecordFailed(str(exc), at) from exc

    reader = open_reader(first)
    n = len(reader)
    opened_at = first
    for start in range(first, n, chunk_size):
        if start - opened_at >= _DECORD_REOPEN_FRAMES:
            # A long-lived VideoReader's memory grows with the frames read when the consumer is
            # slower than the decoder (measured: 2.4 GiB after 1,300 640x360 frames with a
            # tracker consuming them; at most ~700 MiB when re-opened every 128 frames, at the
            # same speed and with identical frames). Every 64: pass 1 runs two readers at once,
            # and a 1-minute 640x360 run peaked at 1,722 MiB with 128, 1,340 MiB with 64; a
            # re-open costs ~85 ms on a 10-minute clip (its index), ~1.3 ms a frame.
            del reader
            reader = open_reader(start)
            opened_at = start
        try:
            batch = reader.get_batch(list(range(start, min(start + chunk_size, n)))).asnumpy()
        except (decord.DECORDError, RuntimeError) as exc:
            raise _DecordFailed(str(exc), start) from exc
        yield batch


class _DecordFailed(Exception):
    """decord failed at frame ``at`` (0: could not open the file): PyAV takes over from there."""

    def __init__(self, message: str, at: int = 0):
        super().__init__(message)
        self.at = at


# Frames above this many pixels are decoded with PyAV under backend "auto": decord's reader grows by
# the frames read until it is re-opened (every 128 frames: 1.1 GiB at 1080p), PyAV streams flat
# (190 MiB) and decoded a 400-frame 1080p clip faster here (12 s vs 21 s).
_DECORD_MAX_PIXELS = 1280 * 720


def uses_decord(info: VideoInfo, backend: str = "auto") -> bool:
    """Whether ``iter_frames`` decodes this clip with decord (else PyAV)."""
    big = info.width * info.height > _DECORD_MAX_PIXELS
    return backend == "decord" or (backend == "auto" and info.decord_readable and not big)


def random_access(info: VideoInfo, backend: str = "auto") -> bool:
    """Whether ``iter_frames(..., start=k)`` starts near frame k instead of decoding every frame
    before it: decord seeks by its own index; PyAV by the packets' timestamps, which most files
    carry (``_packet_index``); where they cannot say which frame is which (an edit list, say), PyAV
    decodes and drops the frames before k."""
    return uses_decord(info, backend) or _packet_index(info) is not None


def _chunks(info: VideoInfo, chunk_size: int, backend: str, num_threads: int, start: int = 0
            ) -> Iterator[np.ndarray]:
    if not uses_decord(info, backend):
        yield from _pyav_chunks(info, chunk_size, skip=start)
        return
    try:
        yield from _decord_chunks(info, chunk_size, num_threads, start)
    except _DecordFailed as failed:
        if backend == "decord":
            raise VideoReadError(
                f"decord cannot read {info.path} (from frame {failed.at}); use backend='pyav'"
            ) from None
        # PyAV reads some files decord stumbles on; a damaged file then ends early in PyAV too
        # and is reported as truncated by _checked.
        yield from _pyav_chunks(info, chunk_size, skip=failed.at)


def _checked(info: VideoInfo, chunks: Iterator[np.ndarray], start: int = 0) -> Iterator[np.ndarray]:
    """Pass chunks through, then fail if far fewer frames came out than the container promised
    (from frame ``start`` on)."""
    n = start
    for chunk in chunks:
        n += len(chunk)
        yield chunk
    if n == 0:
        raise VideoReadError(f"{info.path} has no decodable frames; give a video with frames")
    if n < info.n_frames - max(_COUNT_SLACK, int(_COUNT_SLACK_FRACTION * info.n_frames)):
        raise VideoReadError(
            f"{info.path} is truncated: decoded {n} of {info.n_frames} frames; re-encode or "
            "re-download it"
        )


def iter_frames(path: str | os.PathLike, *, chunk_size: int = 32, info: VideoInfo | None = None,
                backend: str = "auto", prefetch: int = 2, num_threads: int = 0, start: int = 0,
                ) -> Iterator[np.ndarray]:
    """Decode a clip as chunks of frames, (n, H, W, 3) uint8 RGB, display-rotated.

    Args:
        path: the video file.
        chunk_size: frames per chunk (the last chunk may be shorter).
        info: ``probe_video(path)`` if already known (saves a probe).
        backend: "auto" (decord, PyAV for what decord cannot read), "decord" or "pyav".
        prefetch: chunks decoded ahead in a background thread (0: decode in the caller's thread).
            Memory holds at most (prefetch + 1) * chunk_size frames.
        num_threads: decord decoding threads (0: decord's default).
        start: the first frame to return (``random_access`` says whether the frames before it are
            skipped or decoded and dropped).

    Raises:
        VideoReadError: missing, unreadable, truncated or zero-frame video (a truncated clip is
            detected when decoding stops early, so after the frames before the damage).
    """
    if chunk_size < 1 or start < 0:
        raise ValueError(f"chunk_size must be >= 1 and start >= 0, got {chunk_size}, {start}")
    if backend not in ("auto", "decord", "pyav"):
        raise ValueError(f"backend must be 'auto', 'decord' or 'pyav', got {backend!r}")
    info = info or probe_video(path)
    chunks = _checked(info, _chunks(info, chunk_size, backend, num_threads, start), start)
    if prefetch <= 0:
        return chunks
    return prefetched(chunks, prefetch)




def read_all_frames(path: str | os.PathLike, *, max_frames: int | None = None) -> np.ndarray:
    """All frames (or the first ``max_frames``) of a short clip as one (T, H, W, 3) array.

    Only for short clips (tests, previews): memory grows with the clip.
    """
    out: list[np.ndarray] = []
    n = 0
    chunks = iter_frames(path, prefetch=0)
    for chunk in chunks:
        out.append(chunk)
        n += len(chunk)
        if max_frames is not None and n >= max_frames:
            chunks.close()
            break
    frames = np.concatenate(out)
    return frames if max_frames is None else frames[:max_frames]


def read_frames(path: str | os.PathLike, indices: list[int] | tuple[int, ...]) -> np.ndarray:
    """Selected frames (len(indices), H, W, 3) uint8 RGB, in the order given.

    The clip is streamed once; only the requested frames are kept (memory: the selection plus
    one chunk). Raises VideoReadError for an index past the end.
    """
    wanted = sorted(set(int(i) for i in indices))
    if wanted and wanted[0] < 0:
        raise VideoReadError(f"frame indices must be >= 0, got {wanted[0]}")
    kept: dict[int, np.ndarray] = {}
    start = 0
    chunks = iter_frames(path, prefetch=0)
    for chunk in chunks:
        for i in wanted:
            if start <= i < start + len(chunk):
                kept[i] = chunk[i - start].copy()
        start += len(chunk)
        if len(kept) == len(wanted):
            chunks.close()
            break
    missing = [i for i in wanted if i not in kept]
    if missing:
        raise VideoReadError(f"{path} has {start} frames; frame {missing[0]} does not exist")
    return np.stack([kept[int(i)] for i in indices]) if len(indices) else np.zeros((0, 0, 0, 3), np.uint8)


def list_clips(paths: Iterable[str | os.PathLike]) -> tuple[Path, ...]:
    """Clips given as files or folders of them (searched recursively for .mp4, sorted).

    Raises:
        InputError: a path that does not exist.
    """
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out += sorted(path.rglob("*.mp4"))
        elif path.is_file():
            out.append(path)
        else:
            raise InputError(f"clip or folder {path} does not exist")
    return tuple(out)
