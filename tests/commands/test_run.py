"""The `reenact SOURCE DRIVER OUT` and `reenact animate` commands: outputs, errors, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from reenact import cli
from reenact.model.generator import Generator, GeneratorConfig, save_generator
from reenact.pipelines.demo import EXAMPLE_SCRIPT

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "tiny.safetensors"
    save_generator(Generator(GeneratorConfig(channels=8, n_res=1)), path)
    return path


@pytest.fixture(scope="module")
def astronaut_file(tmp_path_factory, astronaut):
    from PIL import Image

    path = tmp_path_factory.mktemp("src") / "astronaut.jpg"
    Image.fromarray(astronaut).save(path, quality=95)
    return path


def n_frames(path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("reenact: error: ")
    return err[-1]


def test_run_writes_video_preview_and_plot(tmp_path, tiny_weights, astronaut_file, media, capsys):
    out = tmp_path / "out.mp4"
    rc = cli.main([str(astronaut_file), str(media("single_face.mp4")), str(out),
                   "--model", "ganimation", "--weights",
                   str(tiny_weights), "--max-frames", "20", "--preview", "--plot", "--only", "mouth",
                   "--strength", "1.5", "--mode", "absolute"])
    assert rc == 0
    assert n_frames(out) == 20 and n_frames(tmp_path / "out.preview.mp4") == 20
    assert (tmp_path / "out.aus.png").is_file()
    printed = capsys.readouterr().out
    assert "20 frames" in printed and "generate" in printed


def test_animate_mp4_and_png_folder(tmp_path, tiny_weights, astronaut_file):
    script = EXAMPLE_SCRIPT
    assert cli.main(["animate", str(astronaut_file), str(script), str(tmp_path / "a.mp4"),
                     "--model", "ganimation", "--weights",
                     str(tiny_weights), "--quiet"]) == 0
    assert n_frames(tmp_path / "a.mp4") == 100
    assert cli.main(["animate", str(astronaut_file), str(script), str(tmp_path / "frames"),
                     "--model", "ganimation", "--weights",
                     str(tiny_weights), "--quiet"]) == 0
    assert len(list((tmp_path / "frames").glob("frame_*.png"))) == 100


@pytest.mark.parametrize("case", ["no_face_source", "no_face_driver", "missing_driver", "bad_out_dir",
                                  "bad_weights", "bad_only", "bad_script", "not_a_video"])
def test_bad_input_one_line_nonzero_nothing_left(case, tmp_path, tiny_weights, astronaut_file, media, capsys):
    out = tmp_path / "out.mp4"
    src, drv, extra = str(astronaut_file), str(media("single_face.mp4")), []
    weights = ["--model", "ganimation", "--weights", str(tiny_weights)]
    if case == "no_face_source":
        from PIL import Image

        src = str(tmp_path / "wall.png")
        Image.fromarray(np.full((64, 64, 3), 100, np.uint8)).save(src)
    elif case == "no_face_driver":
        drv, extra = str(media("no_face.mp4")), ["--max-frames", "24"]
    elif case == "missing_driver":
        drv = str(tmp_path / "nope.mp4")
    elif case == "bad_out_dir":
        out = tmp_path / "missing" / "out.mp4"
    elif case == "bad_weights":
        weights = ["--model", "ganimation", "--weights", str(tmp_path / "none.safetensors")]
    elif case == "bad_only":
        extra = ["--only", "lips"]
    elif case == "not_a_video":
        drv = str(astronaut_file)
    argv = [src, drv, str(out), *weights, *extra]
    if case == "bad_script":
        script = tmp_path / "s.yaml"
        script.write_text("fps: 25\nkeyframes:\n  - {t: 0, preset: joy}\n")
        argv = ["animate", src, str(script), str(out), *weights]
    before = set(tmp_path.iterdir())
    assert cli.main(argv) == 2
    line = one_error_line(capsys)
    assert len(line) < 400
    assert set(tmp_path.iterdir()) == before  # nothing partial left


def test_ctrl_c_in_a_real_process_leaves_nothing(tmp_path, tiny_weights, astronaut_file, media):
    out = tmp_path / "out.mp4"
    cmd = [sys.executable, "-m", "reenact", str(astronaut_file), str(media("WolfgangLanger_Pexels.mp4")),
           str(out), "--model", "ganimation", "--weights", str(tiny_weights), "--preview", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 90
    while time.time() < deadline and not list(tmp_path.glob("*.part.mp4")) and proc.poll() is None:
        time.sleep(0.05)  # wait until pass 2 is writing the (temporary) video
    assert list(tmp_path.glob("*.part.mp4")), "the render never started"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()[-500:]
    assert list(tmp_path.iterdir()) == []


def test_sigterm_also_leaves_nothing(tmp_path, tiny_weights, astronaut_file, media):
    out = tmp_path / "out.mp4"
    cmd = [sys.executable, "-m", "reenact", str(astronaut_file), str(media("WolfgangLanger_Pexels.mp4")),
           str(out), "--model", "ganimation", "--weights", str(tiny_weights), "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 90
    while time.time() < deadline and not list(tmp_path.glob("*.part.mp4")) and proc.poll() is None:
        time.sleep(0.05)
    assert list(tmp_path.glob("*.part.mp4")), "the render never started"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and list(tmp_path.iterdir()) == []  # 128 + SIGTERM, as a shell reports
    assert err.decode().strip().splitlines()[-1] == "reenact: interrupted by SIGTERM"
