"""Video encoding: raw RGB frames in, an h264 yuv420p mp4 out, with the driver's audio kept.

ffmpeg is imageio-ffmpeg's static binary (no system ffmpeg needed); ffmpeg-python builds the
argument list and the process is started without a shell, in its own process group, so that a
Ctrl-C reaches Python, which stops ffmpeg and deletes the temporary file. Frames are piped as
raw I420 (yuv420p), converted here with OpenCV, at the driver's EXACT frame rate (a ``Fraction``
such as 24000/1001): at 1080p OpenCV's conversion took 0.9 ms a frame and saved ffmpeg's own
4.6 ms of CPU (42.5 -> 37.9 ms a frame at veryfast), and the pipe carries half the bytes. The driver's
audio is copied when its codec fits in mp4 (AAC, MP3, ALAC, AC-3, Opus) and re-encoded to AAC
otherwise. ``-shortest`` is never used: it drops the last video frame. Odd frame sizes are
padded by one edge-replicated row/column (yuv420p needs even sizes).

Everything is written to a temporary file beside ``path`` and renamed at the end
(``reenact.io.files.atomic_output``): an error or Ctrl-C leaves nothing partial.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import ffmpeg
import imageio_ffmpeg
import numpy as np

from reenact.errors import InputError, OutputError
from reenact.io.files import atomic_output, defer_signals, restore_signals

#: Audio codecs that mp4 carries as they are (stream copy); others are re-encoded to AAC.
MP4_AUDIO_CODECS = ("aac", "mp3", "alac", "ac3", "eac3", "opus")
#: x264's presets, fastest first.
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
                "veryslow", "placebo")


@dataclass(frozen=True)
class EncodeConfig:
    """Options of the mp4 encoder (checked when built, so a typo fails before any work)."""

    crf: int = 18  # x264 quality (0 lossless .. 51 worst); 18 is visually near-lossless
    preset: str = "veryfast"  # x264 speed/size trade-off (ultrafast .. veryslow)
    audio_bitrate: str = "192k"  # only when the audio has to be re-encoded to AAC

    def __post_init__(self) -> None:
        if self.preset not in X264_PRESETS:
            raise InputError(f"unknown x264 preset {self.preset!r}; use one of {', '.join(X264_PRESETS)}")
        if isinstance(self.crf, bool) or not isinstance(self.crf, int) or not 0 <= self.crf <= 51:
            raise InputError(f"crf must be an integer in 0..51, got {self.crf!r}")


def even_size(height: int, width: int) -> tuple[int, int]:
    """The (height, width) an odd-sized frame is padded to for yuv420p."""
    return height + height % 2, width + width % 2


def audio_args(audio_codec: str | None) -> dict:
    """ffmpeg output options for the audio stream."""
    if audio_codec is None:
        return {}
    if audio_codec in MP4_AUDIO_CODECS:
        return {"acodec": "copy"}
    return {"acodec": "aac"}


def build_command(path: str | os.PathLike, *, width: int, height: int, fps: Fraction,
                  audio_from: str | os.PathLike | None = None, audio_codec: str | None = None,
                  duration_s: float | None = None, config: EncodeConfig = EncodeConfig()) -> list[str]:
    """The ffmpeg argument list (without the executable) for one encode.

    Args:
        path: output file (.mp4).
        width, height: frame size piped in (must be even).
        fps: exact frame rate.
        audio_from: a file whose first audio stream is muxed in (None: no audio).
        audio_codec: that stream's codec name (decides copy vs AAC).
        duration_s: cut the audio to this length (a render of the first N frames of a driver);
            None keeps all of it.
    """
    video_in = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="yuv420p", s=f"{width}x{height}",
                            framerate=f"{fps.numerator}/{fps.denominator}")
    streams = [video_in.video]
    out_opts = {"vcodec": "libx264", "pix_fmt": "yuv420p", "crf": config.crf, "preset": config.preset,
                "movflags": "+faststart", "r": f"{fps.numerator}/{fps.denominator}"}
    if audio_from is not None and audio_codec is not None:
        audio_in = {"t": f"{float(duration_s):.6f}"} if duration_s is not None else {}
        streams.append(ffmpeg.input(str(audio_from), **audio_in).audio)
        out_opts.update(audio_args(audio_codec))
        if out_opts.get("acodec") == "aac":
            out_opts["audio_bitrate"] = config.audio_bitrate
    out = ffmpeg.output(*streams, str(path), format="mp4", **out_opts)
    return ["-hide_banner", "-loglevel", "error", "-nostdin", "-y", *out.get_args()]


class VideoWriter:
    """Write frames to an mp4 through ffmpeg; a context manager that commits on success.

    Example::

        with VideoWriter("out.mp4", width=w, height=h, fps=info.fps_fraction,
                         audio_from=driver, audio_codec=info.audio_codec) as writer:
            for frames in batches:           # (n, h, w, 3) uint8 RGB
                writer.write(frames)

    On an exception (or Ctrl-C) inside the block, ffmpeg is stopped and the temporary file is
    deleted; ``path`` is only created, atomically, when the block ends normally.
    """

    def __init__(self, path: str | os.PathLike, *, width: int, height: int, fps: Fraction | float,
                 audio_from: str | os.PathLike | None = None, audio_codec: str | None = None,
                 audio_duration_s: float | None = None, config: EncodeConfig = EncodeConfig()):
        if width < 1 or height < 1:
            raise InputError(f"frame size must be positive, got {width}x{height}")
        fps = Fraction(fps).limit_denominator(1_000_000) if not isinstance(fps, Fraction) else fps
        if fps <= 0:
            raise InputError(f"frame rate must be > 0, got {fps}")
        self.path = Path(path)
        if self.path.suffix.lower() != ".mp4":
            raise OutputError(f"output {self.path} must end in .mp4")
        self.width, self.height, self.fps = width, height, fps
        self.audio_from, self.audio_codec, self.config = audio_from, audio_codec, config
        self.audio_duration_s = audio_duration_s
        self.frames_written = 0
        self._stack: contextlib.ExitStack | None = None
        self._proc = None
        self._stderr: list[bytes] = []
        self._drain: threading.Thread | None = None

    def __enter__(self) -> VideoWriter:
        self._stack = contextlib.ExitStack()
        try:
            tmp = self._stack.enter_context(atomic_output(self.path))
            h, w = even_size(self.height, self.width)
            args = build_command(tmp, width=w, height=h, fps=self.fps, audio_from=self.audio_from,
                                 audio_codec=self.audio_codec, duration_s=self.audio_duration_s,
                                 config=self.config)
            # a SIGTERM between ffmpeg's start and this assignment left ffmpeg running (its own
            # session) and writing the temporary after it was deleted: the signal waits
            deferred = defer_signals()
            try:
                self._proc = _popen(imageio_ffmpeg.get_ffmpeg_exe(), args)
            finally:
                restore_signals(deferred)
            self._drain = threading.Thread(target=self._read_stderr, name="reenact-ffmpeg-stderr",
                                           daemon=True)
            self._drain.start()
        except BaseException as exc:  # e.g. Ctrl-C while starting: no temporary file is left
            if self._proc is not None:
                _stop(self._proc)
                self._proc = None
            self._stack.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def _read_stderr(self) -> None:
        for line in self._proc.stderr:
            if len(self._stderr) < 200:
                self._stderr.append(line)

    def write(self, frames: np.ndarray) -> None:
        """Append frames (n, H, W, 3) or one frame (H, W, 3), uint8 RGB of the writer's size."""
        if self._proc is None:
            raise OutputError("VideoWriter.write called outside its `with` block")
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.shape[1:] != (self.height, self.width, 3) or frames.dtype != np.uint8:
            raise InputError(f"frames must be (n, {self.height}, {self.width}, 3) uint8, "
                             f"got {frames.shape} {frames.dtype}")
        h, w = even_size(self.height, self.width)
        if (h, w) != (self.height, self.width):
            frames = np.pad(frames, ((0, 0), (0, h - self.height), (0, w - self.width), (0, 0)), mode="edge")
        try:
            for frame in frames:  # I420 (BT.601, limited range, as ffmpeg's own conversion)
                self._proc.stdin.write(memoryview(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)).cast("B"))
        except (BrokenPipeError, OSError) as exc:
            raise OutputError(f"ffmpeg stopped while writing {self.path}: {self._error_text()}") from exc
        self.frames_written += len(frames)

    def _error_text(self) -> str:
        if self._drain is not None:
            self._drain.join(timeout=2.0)
        text = b"".join(self._stderr).decode("utf-8", "replace").strip().splitlines()
        return text[-1] if text else "no message"

    def __exit__(self, exc_type, exc, tb) -> None:
        proc, self._proc = self._proc, None
        try:
            if exc_type is None:
                proc.stdin.close()
                code = proc.wait()
                if code != 0:
                    raise OutputError(f"ffmpeg failed to write {self.path} (exit {code}): "
                                      f"{self._error_text()}")
                if self.frames_written == 0:
                    raise OutputError(f"no frames were written to {self.path}")
            else:
                _stop(proc)
        except BaseException as err:
            _stop(proc)
            self._stack.__exit__(type(err), err, err.__traceback__)
            raise
        self._stack.__exit__(exc_type, exc, tb)


def _popen(exe: str, args: list[str]):
    """Start ffmpeg with stdin/stderr pipes, in its own process group so that a Ctrl-C reaches
    only Python (which then stops ffmpeg and deletes the temporary file)."""
    return subprocess.Popen([exe, *args], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def _stop(proc) -> None:
    """Kill ffmpeg and reap it (used on errors and Ctrl-C)."""
    with contextlib.suppress(OSError):
        proc.stdin.close()
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def write_video(path: str | os.PathLike, frames, *, fps: Fraction | float,
                audio_from: str | os.PathLike | None = None, audio_codec: str | None = None,
                audio_duration_s: float | None = None, config: EncodeConfig = EncodeConfig()) -> Path:
    """Encode an iterable of frame batches (n, H, W, 3) uint8 to ``path`` (all the same size)."""
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise InputError("no frames to encode")
    first = np.asarray(first)
    if first.ndim == 3:
        first = first[None]
    h, w = first.shape[1:3]
    with VideoWriter(path, width=w, height=h, fps=fps, audio_from=audio_from, audio_codec=audio_codec,
                     audio_duration_s=audio_duration_s, config=config) as writer:
        writer.write(first)
        for batch in it:
            writer.write(batch)
    return Path(path)
