"""mp4 writing with the real ffmpeg: frame count, exact rate, audio, odd sizes, atomicity."""

from __future__ import annotations

import subprocess
from fractions import Fraction

import av
import numpy as np
import pytest

from reenact.errors import InputError, OutputError
from reenact.io.encode import VideoWriter, write_video


def frames(n: int, h: int = 64, w: int = 80, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.zeros((n, h, w, 3), np.uint8)
    for i in range(n):  # a moving bright square, so every frame differs
        base[i] = rng.integers(0, 8, (h, w, 3)) + np.linspace(0, 120, w, dtype=np.uint8)[None, :, None]
        base[i, 10:30, (2 * i) % (w - 20):(2 * i) % (w - 20) + 20] = 230
    return base


def read(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        out = {"rate": v.average_rate, "codec": v.codec_context.name, "pix_fmt": v.format.name,
               "size": (v.height, v.width), "audio": [s.codec_context.name for s in c.streams.audio]}
        out["frames"] = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return out


def no_leftovers(folder) -> bool:
    return not [p for p in folder.iterdir() if ".part" in p.name]


def test_exact_rate_and_every_frame(tmp_path):
    clip = frames(25)
    out = write_video(tmp_path / "a.mp4", [clip[:7], clip[7:]], fps=Fraction(24000, 1001))
    info = read(out)
    assert info["rate"] == Fraction(24000, 1001)
    assert len(info["frames"]) == 25  # the last frame is kept
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p" and info["audio"] == []
    err = np.abs(np.stack(info["frames"]).astype(int) - clip.astype(int)).mean()
    assert err < 6  # near-lossless at crf 18 (yuv420p chroma subsampling aside)
    assert no_leftovers(tmp_path)


def test_colours_come_back_and_grey_stays_grey(tmp_path, astronaut):
    """Frames go to ffmpeg as I420 converted here: a photo decodes to its own colours (a range or
    matrix mix-up would shift them by ~10 levels) and a grey one stays grey."""
    photo = np.ascontiguousarray(astronaut[:256, 128:384])
    grey = np.repeat(photo.mean(2, keepdims=True).astype(np.uint8), 3, 2)
    decoded = read(write_video(tmp_path / "c.mp4", [np.stack([photo, grey])], fps=Fraction(25)))["frames"]
    colour_err = decoded[0].astype(float) - photo
    # measured: a bias of 0.8-1.5 levels a channel and 3.3 mean, as ffmpeg's own rgb24 input gave
    assert np.abs(colour_err.mean((0, 1))).max() < 2.5 and np.abs(colour_err).mean() < 4
    back = decoded[1].astype(int)
    assert np.abs(back - back.mean(2, keepdims=True)).max() <= 2  # no colour in a grey frame
    assert np.abs(back.mean() - grey.mean()) < 1.5


def test_odd_size_is_padded(tmp_path):
    clip = frames(5, 63, 81)
    info = read(write_video(tmp_path / "odd.mp4", [clip], fps=30))
    assert info["size"] == (64, 82) and len(info["frames"]) == 5


def test_driver_audio_is_copied_and_trimmed(tmp_path, media):
    driver = media("WolfgangLanger_Pexels.mp4")
    fps = Fraction(24000, 1001)
    n = 48
    out = write_video(tmp_path / "au.mp4", [frames(n)], fps=fps, audio_from=driver, audio_codec="aac",
                      audio_duration_s=n / fps)
    with av.open(str(out)) as c, av.open(str(driver)) as d:
        a = c.streams.audio[0]
        assert a.codec_context.name == "aac"
        pkts = [bytes(p) for p in c.demux(a) if p.size]
        src = [bytes(p) for p, _ in zip(d.demux(d.streams.audio[0]), range(len(pkts)), strict=False)]
        assert pkts[:10] == src[:10]  # stream copy: packets byte-identical
        dur = float(a.duration * a.time_base) if a.duration else len(pkts) * 1024 / a.rate
        assert abs(dur - n / float(fps)) < 0.1
    assert len(read(out)["frames"]) == n


def test_other_audio_is_reencoded_to_aac(tmp_path):
    import imageio_ffmpeg

    wav = tmp_path / "tone.mkv"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi",
                    "-i", "sine=frequency=440:duration=1", "-c:a", "pcm_s16le", str(wav)], check=True)
    out = write_video(tmp_path / "pcm.mp4", [frames(10)], fps=10, audio_from=wav, audio_codec="pcm_s16le")
    assert read(out)["audio"] == ["aac"]


def test_error_inside_block_leaves_nothing(tmp_path):
    target = tmp_path / "x.mp4"
    for exc in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            with VideoWriter(target, width=80, height=64, fps=25) as w:
                w.write(frames(3))
                raise exc
        assert not target.exists() and no_leftovers(tmp_path)


def test_existing_output_survives_a_failed_write(tmp_path):
    target = tmp_path / "keep.mp4"
    target.write_bytes(b"old")
    with pytest.raises(InputError):
        with VideoWriter(target, width=80, height=64, fps=25) as w:
            w.write(frames(2, 10, 10))  # wrong size
    assert target.read_bytes() == b"old" and no_leftovers(tmp_path)


def test_bad_outputs(tmp_path):
    with pytest.raises(OutputError):
        write_video(tmp_path / "missing" / "x.mp4", [frames(2)], fps=25)
    with pytest.raises(OutputError):
        write_video(tmp_path / "x.avi", [frames(2)], fps=25)
    with pytest.raises(InputError):
        write_video(tmp_path / "x.mp4", [], fps=25)
    with pytest.raises(InputError):
        VideoWriter(tmp_path / "x.mp4", width=80, height=64, fps=0)
