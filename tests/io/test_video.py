"""Video reading on real clips: metadata, chunks, rotation, AV1 fallback, bounded memory, bad files."""

from __future__ import annotations

import subprocess
import tracemalloc
from fractions import Fraction

import numpy as np
import pytest

from reenact.errors import VideoReadError
from reenact.io.video import VideoInfo, iter_frames, probe_video, read_all_frames, read_frames


def _ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *args], check=True,
                   capture_output=True)


@pytest.fixture(scope="module")
def single(media):
    return media("single_face.mp4")


@pytest.fixture(scope="module")
def clips(tmp_path_factory, media, single):
    """Derived clips made at test time from the real ones with imageio-ffmpeg's ffmpeg."""
    d = tmp_path_factory.mktemp("clips")
    wl = media("WolfgangLanger_Pexels.mp4")
    _ffmpeg("-display_rotation", "90", "-i", str(single), "-c", "copy", str(d / "rot90.mp4"))
    _ffmpeg("-i", str(single), "-frames:v", "24", "-an", "-c:v", "libsvtav1", "-preset", "12",
            str(d / "av1.mp4"))
    _ffmpeg("-i", str(single), "-vn", "-c:a", "copy", str(d / "audio_only.mp4"))
    data = wl.read_bytes()
    (d / "truncated.mp4").write_bytes(data[:60_000])  # header intact, most frames cut off
    (d / "header_only.mp4").write_bytes(data[:30_000])  # not one decodable frame
    (d / "not_a_video.mp4").write_text("this is text, not a video\n")
    (d / "empty.mp4").write_bytes(b"")
    return d


def test_probe_known_clips(media, single):
    info = probe_video(single)
    assert isinstance(info, VideoInfo)
    assert (info.n_frames, info.width, info.height, info.rotation) == (72, 640, 360, 0)
    assert info.fps == 30.0 and info.fps_fraction == Fraction(30)
    assert info.has_audio and info.codec == "h264"
    assert info.duration_s == pytest.approx(2.4, abs=0.05)
    wl = probe_video(media("WolfgangLanger_Pexels.mp4"))
    assert wl.n_frames == 472 and wl.fps_fraction == Fraction(24000, 1001)
    assert wl.audio_codec == "aac" and wl.duration_s == pytest.approx(19.7, abs=0.05)


def test_chunks_cover_every_frame_once(single):
    chunks = list(iter_frames(single, chunk_size=10))
    assert [len(c) for c in chunks] == [10] * 7 + [2]
    assert all(c.dtype == np.uint8 and c.shape[1:] == (360, 640, 3) for c in chunks)
    frames = np.concatenate(chunks)
    # Consecutive frames of a real clip differ a little; no frame is duplicated or dropped.
    assert len(frames) == 72
    assert np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3)).min() > 0


def test_decord_and_pyav_agree(single):
    a = np.concatenate(list(iter_frames(single, backend="decord")))
    b = np.concatenate(list(iter_frames(single, backend="pyav")))
    assert a.shape == b.shape
    assert np.abs(a.astype(np.int16) - b.astype(np.int16)).mean() < 0.3  # a 1-frame shift: ~0.9


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_rotation_flag_is_applied(clips, single, backend):
    info = probe_video(clips / "rot90.mp4")
    assert info.rotation == 90 and (info.width, info.height) == (360, 640)
    rotated = read_frames(clips / "rot90.mp4", [0, 40]) if backend == "decord" else np.concatenate(
        list(iter_frames(clips / "rot90.mp4", backend="pyav")))[[0, 40]]
    upright = read_frames(single, [0, 40])
    assert rotated.shape == (2, 640, 360, 3)
    # Display rotation is counter-clockwise: the displayed frame is np.rot90 of the stored one.
    expected = np.rot90(upright, 1, axes=(1, 2))
    assert np.abs(rotated.astype(np.int16) - expected.astype(np.int16)).mean() < 2.0


def test_av1_falls_back_to_pyav(clips, single):
    info = probe_video(clips / "av1.mp4")
    assert info.codec == "av1" and not info.decord_readable and info.n_frames == 24
    frames = np.concatenate(list(iter_frames(clips / "av1.mp4", chunk_size=8)))
    assert frames.shape == (24, 360, 640, 3)
    source = read_all_frames(single, max_frames=24).astype(np.float32)
    psnr = 10 * np.log10(255.0**2 / np.mean((frames.astype(np.float32) - source) ** 2))
    assert psnr > 25, f"AV1 decode differs from the source: PSNR {psnr:.1f} dB"
    with pytest.raises(VideoReadError):
        list(iter_frames(clips / "av1.mp4", backend="decord"))


def test_memory_is_bounded_by_chunks(media):
    """Streaming the 472-frame clip holds a few chunks, never the whole clip."""
    path = media("WolfgangLanger_Pexels.mp4")
    frame_bytes = 360 * 640 * 3
    tracemalloc.start()
    n = 0
    for chunk in iter_frames(path, chunk_size=16, prefetch=2):
        n += len(chunk)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == 472
    assert peak < 6 * 16 * frame_bytes, f"peak {peak / 2**20:.0f} MiB"
    assert peak < 0.25 * 472 * frame_bytes


def test_read_frames_picks_in_order(single):
    frames = read_frames(single, [5, 0, 5])
    every = read_all_frames(single)
    np.testing.assert_array_equal(frames, every[[5, 0, 5]])
    with pytest.raises(VideoReadError, match="frame 72"):
        read_frames(single, [72])


def test_early_stop_releases_the_decoder(media):
    it = iter_frames(media("WolfgangLanger_Pexels.mp4"), chunk_size=8, prefetch=2)
    first = next(it)
    it.close()  # must not hang or leave a thread decoding
    assert first.shape == (8, 360, 640, 3)


@pytest.mark.parametrize("name, message", [
    ("missing.mp4", "does not exist"),
    ("not_a_video.mp4", "not a readable video"),
    ("empty.mp4", "empty file"),
    ("audio_only.mp4", "no video stream"),
    ("header_only.mp4", "damaged or truncated"),
])
def test_bad_files_fail_on_probe(clips, name, message):
    with pytest.raises(VideoReadError, match=message) as err:
        probe_video(clips / name)
    assert "\n" not in str(err.value)
    with pytest.raises(VideoReadError):
        list(iter_frames(clips / name))


def test_truncated_clip_is_detected_while_decoding(clips):
    info = probe_video(clips / "truncated.mp4")  # the header still promises 472 frames
    assert info.n_frames == 472
    with pytest.raises(VideoReadError, match=r"truncated: decoded \d+ of 472"):
        for _ in iter_frames(clips / "truncated.mp4"):
            pass


def test_images_and_folders_are_not_videos(media, tmp_path):
    with pytest.raises(VideoReadError, match="is an image"):
        probe_video(media("single_face.jpg"))
    with pytest.raises(VideoReadError, match="folder"):
        probe_video(tmp_path)


def test_decord_failure_mid_clip_continues_with_pyav(monkeypatch, single):
    """Plumbing: decord stops at frame 20 (simulated); PyAV decodes the rest, nothing is lost."""
    import decord

    reference = read_all_frames(single)
    real_get_batch = decord.VideoReader.get_batch

    def failing(self, indices):
        if indices[0] >= 20:
            raise decord.DECORDError("simulated failure")
        return real_get_batch(self, indices)

    monkeypatch.setattr(decord.VideoReader, "get_batch", failing)
    frames = np.concatenate(list(iter_frames(single, chunk_size=10, prefetch=0)))
    assert frames.shape == reference.shape
    # Same frames in the same places (a one-frame shift would differ by ~0.9 on average).
    assert np.abs(frames.astype(np.int16) - reference.astype(np.int16)).mean() < 0.3
    with pytest.raises(VideoReadError, match="from frame 20"):
        list(iter_frames(single, chunk_size=10, backend="decord"))


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_decoding_from_a_frame_returns_the_rest_of_the_clip(single, backend):
    """``start`` (pass 1 decodes parts of a clip at once): exactly the frames from there on."""
    reference = np.concatenate(list(iter_frames(single, backend=backend, prefetch=0)))
    frames = np.concatenate(list(iter_frames(single, chunk_size=10, backend=backend, start=37)))
    np.testing.assert_array_equal(frames, reference[37:])


def test_random_access_where_decord_or_the_packets_timestamps_find_a_frame(media, single):
    from dataclasses import replace

    from reenact.io.video import random_access

    info = probe_video(single)
    assert random_access(info) and random_access(info, "decord") and random_access(info, "pyav")
    assert random_access(replace(info, width=1920, height=1080))  # PyAV seeks big frames too
    edited = probe_video(media("no_face.mp4"))  # an edit list: 3 of its 98 packets are discarded
    assert random_access(edited) and not random_access(edited, "pyav")


def test_pyav_decodes_from_the_start_when_a_seek_misses_its_frame(monkeypatch, single):
    """Plumbing: a seek that does not land on the frame asked for (simulated: a timestamp no
    frame has) decodes from the first frame and drops the ones before; no frame is lost."""
    import reenact.io.pyav_decode as video

    reference = np.concatenate(list(iter_frames(single, backend="pyav", prefetch=0)))
    real = video._frame_pts
    monkeypatch.setattr(video, "_frame_pts", lambda info, index: real(info, index) + 1)
    frames = np.concatenate(list(iter_frames(single, chunk_size=10, backend="pyav", start=37)))
    np.testing.assert_array_equal(frames, reference[37:])


def test_a_prefetch_thread_still_running_at_exit_is_stopped_and_closes_its_source(tmp_path):
    """A process that exits while a prefetched stream is still referenced (as an interruption's
    traceback does) stops the decoding thread and closes its source before the interpreter
    finalises; a daemon thread killed mid-decode at exit once aborted ``reenact aus`` (-6)."""
    import subprocess
    import sys
    import textwrap

    marker = tmp_path / "closed.txt"
    script = textwrap.dedent(f"""
        import sys, time
        from reenact.io.streams import prefetched

        def source():
            try:
                for i in range(1000):
                    time.sleep(0.02)  # a decoder at work
                    yield i
            finally:
                open({str(marker)!r}, "w").write("closed")

        KEEP = prefetched(source(), 2)
        next(KEEP)
        sys.exit(143)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 143, done.stderr
    assert marker.read_text() == "closed"
