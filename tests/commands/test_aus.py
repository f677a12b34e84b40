"""`reenact aus` end to end on real media: outputs, options, and bad inputs (one line, no files)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reenact.au.space import TABLE_AU_NAMES
from reenact.au.tables import COLUMNS, read_au_table
from reenact.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, skipinitialspace=True))


def test_video_to_csv_and_plot(tmp_path, media, capsys):
    out, plot = tmp_path / "aus.csv", tmp_path / "aus.png"
    assert main(["aus", str(media("single_face.mp4")), "-o", str(out), "--plot", str(plot)]) == 0
    rows = _rows(out)
    assert len(rows) == 72  # one row per frame
    assert list(rows[0]) == list(COLUMNS)
    assert [int(r["frame"]) for r in rows] == list(range(72))
    assert all(r["face_found"] == "1" for r in rows)
    values = np.array([[float(r[n]) for n in TABLE_AU_NAMES] for r in rows])
    assert values.min() >= 0 and values.max() <= 1
    assert float(rows[-1]["timestamp"]) == pytest.approx(71 / 30, abs=1e-5)
    assert plot.read_bytes()[:8] == PNG_MAGIC and plot.stat().st_size > 20_000
    err = capsys.readouterr().err
    assert "72/72" in err  # the progress bar reached the end
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_options_change_the_output(tmp_path, media):
    clip = str(media("single_face.mp4"))
    assert main(["aus", clip, "-o", str(tmp_path / "raw.csv"), "--smooth", "none", "--quiet"]) == 0
    assert main(["aus", clip, "-o", str(tmp_path / "eu.csv"), "--smooth", "one_euro", "--quiet"]) == 0
    raw, eu = read_au_table(tmp_path / "raw.csv"), read_au_table(tmp_path / "eu.csv")
    assert len(raw) == len(eu) == 72
    np.testing.assert_allclose(eu.values[0], raw.values[0], atol=1e-4)  # One-Euro starts on the data
    assert not np.allclose(eu.values, raw.values, atol=1e-3)
    assert main(["aus", clip, "-o", str(tmp_path / "of.csv"), "--openface", "--quiet"]) == 0
    header = (tmp_path / "of.csv").read_text().splitlines()[0]
    assert header.startswith("frame, face_id, timestamp") and " AU45_r" in header


def test_image_folder_and_face_index(tmp_path, media, astronaut):
    from PIL import Image

    Image.fromarray(astronaut).save(tmp_path / "astronaut.png")
    (tmp_path / "multi.jpg").write_bytes(media("multi_face.jpg").read_bytes())
    assert main(["aus", str(tmp_path), "-o", str(tmp_path / "folder.csv"), "--plot",
                 str(tmp_path / "folder.png"), "--quiet"]) == 0
    assert (tmp_path / "folder.png").read_bytes()[:8] == PNG_MAGIC
    rows = _rows(tmp_path / "folder.csv")
    assert [r["input"] for r in rows] == ["astronaut.png", "multi.jpg"]
    by_face = []
    for k in (0, 1):
        out = tmp_path / f"face{k}.csv"
        assert main(["aus", str(tmp_path / "multi.jpg"), "-o", str(out), "--face-index", str(k),
                     "--quiet"]) == 0
        by_face.append(read_au_table(out))
    assert all(len(t) == 1 and t.found.all() for t in by_face)
    assert not np.allclose(by_face[0].values, by_face[1].values)  # two different people


@pytest.mark.parametrize("make_input, output, message", [
    (lambda d, m: d / "missing.mp4", "out.csv", "does not exist"),
    (lambda d, m: _write(d / "notes.mp4", b"plain text"), "out.csv", "not a readable video"),
    (lambda d, m: _write(d / "fake.jpg", b"plain text"), "out.csv", "not a readable image"),
    (lambda d, m: _write(d / "cut.mp4", m("WolfgangLanger_Pexels.mp4").read_bytes()[:60_000]), "out.csv",
     "truncated"),
    (lambda d, m: m("no_face.mp4"), "out.csv", "no face found"),
    (lambda d, m: m("single_face.mp4"), "missing_dir/out.csv", "does not exist"),
    (lambda d, m: m("single_face.mp4"), ".", "is a folder"),
])
def test_bad_inputs_one_line_no_output(tmp_path, media, capsys, make_input, output, message):
    out = tmp_path / output
    plot = tmp_path / "plot.png"
    before = set(tmp_path.iterdir())
    code = main(["aus", str(make_input(tmp_path, media)), "-o", str(out), "--plot", str(plot), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and err[0].startswith("reenact: error:") and message in err[0], err
    assert not plot.exists()
    assert set(tmp_path.iterdir()) - before <= {tmp_path / "notes.mp4", tmp_path / "fake.jpg",
                                                tmp_path / "cut.mp4"}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_console_command_prints_one_line(tmp_path, media):
    """The installed command (a fresh process: MediaPipe's native logging included) stays quiet."""
    exe = Path(sys.executable).with_name("reenact")
    env = {k: v for k, v in os.environ.items() if k != "REENACT_VERBOSE"}
    proc = subprocess.run([str(exe), "aus", str(media("no_face.mp4")), "-o", str(tmp_path / "x.csv"),
                           "--quiet"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("reenact: error: no face found in any frame of")
    assert not (tmp_path / "x.csv").exists()


@pytest.fixture(scope="module")
def clip_with_gap(tmp_path_factory, media):
    """single_face.mp4 with frames 30-39 blacked out (a real clip where the face vanishes)."""
    import imageio_ffmpeg

    out = tmp_path_factory.mktemp("gap") / "gap.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(media("single_face.mp4")),
                    "-vf", "drawbox=enable='between(n,30,39)':color=black:t=fill", "-c:v", "libx264",
                    "-crf", "16", "-c:a", "copy", str(out)], check=True)
    return out


@pytest.mark.parametrize("gaps", ["interpolate", "hold", "missing"])
def test_gap_policies_on_a_real_gap(tmp_path, clip_with_gap, gaps):
    out = tmp_path / f"{gaps}.csv"
    assert main(["aus", str(clip_with_gap), "-o", str(out), "--gaps", gaps, "--smooth", "none",
                 "--quiet"]) == 0
    rows = _rows(out)
    found = np.array([r["face_found"] == "1" for r in rows])
    assert len(rows) == 72
    assert not found[30:40].all() and found[:28].all() and found[42:].all()
    gap = [i for i in range(72) if not found[i]]
    cells = [rows[i]["AU12"] for i in gap]
    if gaps == "missing":
        assert all(c == "" for c in cells)
    else:
        assert all(c != "" for c in cells)
    before, after = float(rows[gap[0] - 1]["AU12"]), float(rows[gap[-1] + 1]["AU12"])
    if gaps == "hold":
        assert [float(c) for c in cells] == pytest.approx([before] * len(gap), abs=1e-4)
    if gaps == "interpolate":  # the gap (10 frames = 0.33 s) is shorter than --max-gap 0.5 s
        line = before + (after - before) * np.arange(1, len(gap) + 1) / (len(gap) + 1)
        assert [float(c) for c in cells] == pytest.approx(line.tolist(), abs=2e-4)
