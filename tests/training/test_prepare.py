"""prepare-data on real photos (fetched test media + the astronaut) and one non-face image."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from reenact.au.space import TABLE_AU_NAMES
from reenact.training.prepare import PrepareConfig, source_folder
from reenact.training.shards import choose_held_out


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory, media, astronaut):
    folder = tmp_path_factory.mktemp("photos")
    for name in ("single_face.jpg", "multi_face.jpg"):
        (folder / name).write_bytes(media(name).read_bytes())
    sub = folder / "more"
    sub.mkdir()
    Image.fromarray(astronaut).save(sub / "astronaut.png")
    yy, xx = np.mgrid[0:240, 0:320]
    pattern = np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1).astype(np.uint8)
    Image.fromarray(pattern).save(sub / "gradient.jpg")
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_prepare_data_cli(photo_dir, tmp_path, capsys):
    from reenact.cli import main

    out = tmp_path / "ds"
    assert main(["prepare-data", str(photo_dir), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 faces from 4 photos" in printed and "1 no face found" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n"] == 3 and manifest["skipped"] == {"no face found": 1}
    assert manifest["au_names"] == list(TABLE_AU_NAMES)
    crops = np.load(out / manifest["shards"][0])
    assert crops.shape == (3, 128, 128, 3) and crops.dtype == np.uint8
    by_file = {s["file"]: s for s in manifest["samples"]}
    assert set(by_file) == {"single_face.jpg", "multi_face.jpg", "more/astronaut.png"}
    aus = np.array([s["aus"] for s in manifest["samples"]])
    assert aus.min() >= 0 and aus.max() <= 1
    smile = TABLE_AU_NAMES.index("AU12")
    assert by_file["more/astronaut.png"]["aus"][smile] > 0.3  # she smiles
    assert (out / "au_histogram.png").stat().st_size > 1000
    # the aligned crop is the inference crop: eyes land on the template rows
    face = crops[[s["file"] for s in manifest["samples"]].index("more/astronaut.png")]
    assert face.std() > 20

    # JPEG repack for transfer: same faces within JPEG error, same labels, smaller
    from reenact.training.data import FaceShards

    packed = tmp_path / "packed"
    assert main(["prepare-data", "--repack", str(out), "-o", str(packed), "--jpeg", "90"]) == 0
    raw, jpg = FaceShards.load(out, include_held_out=True), FaceShards.load(packed, include_held_out=True)
    assert np.array_equal(raw.cond, jpg.cond)
    assert np.abs(raw.crops.astype(int) - jpg.crops).mean() < 4
    assert (packed / "shard-00000.jpg.npz").stat().st_size < (out / "shard-00000.npy").stat().st_size / 4


def test_prepare_refuses_a_non_empty_output(photo_dir, tmp_path):
    from reenact.cli import main

    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "x").write_text("x")
    assert main(["prepare-data", str(photo_dir), "-o", str(tmp_path / "ds")]) == 2


def test_identity_keys_and_held_out():
    tfeid = source_folder("/data/tfeid")
    assert tfeid.identity_chars == 2
    from pathlib import Path

    assert tfeid.identity(Path("0521a03.jpg")) == "tfeid:05"
    assert source_folder("/data/utkface").identity(Path("1_0_0_x.jpg.chip.jpg")) == "utkface:1_0_0_x.jpg.chip"
    keys = [(f"tfeid:{i:02d}", 2) for i in range(10)] + [(f"utk:{i}", 0) for i in range(200)]
    held = choose_held_out(keys, PrepareConfig())
    assert sum(k.startswith("tfeid:") for k in held) == 3
    assert sum(k.startswith("utk:") for k in held) == 4
    assert held == choose_held_out(keys, PrepareConfig())  # deterministic
