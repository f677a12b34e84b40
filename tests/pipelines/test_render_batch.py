"""Batch rendering: targets tables, manifest, resume, shards, faces without a face."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from reenact.au.space import TABLE_AU_NAMES, preset
from reenact.au.targets import read_targets
from reenact.errors import InputError, ScriptError
from reenact.model.generator import Generator, GeneratorConfig
from reenact.pipelines import PipelineConfig, RenderBatchPipeline
from reenact.pipelines.render_batch import list_faces, parse_shard, read_done

COL = {n: i for i, n in enumerate(TABLE_AU_NAMES)}


@pytest.fixture(scope="module")
def pipeline():
    torch.manual_seed(0)
    return RenderBatchPipeline(Generator(GeneratorConfig(channels=8, n_res=1)), PipelineConfig(batch_size=2))


@pytest.fixture()
def faces(tmp_path, astronaut, media):
    from PIL import Image

    folder = tmp_path / "faces"
    folder.mkdir()
    Image.fromarray(astronaut).save(folder / "astronaut.png")
    shutil.copy(media("single_face.jpg"), folder / "single.jpg")
    Image.fromarray(np.full((200, 200, 3), 90, np.uint8)).save(folder / "wall.png")  # no face
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    return folder


@pytest.fixture()
def targets_csv(tmp_path):
    p = tmp_path / "targets.csv"
    p.write_text("name,preset,intensity,AU26,AU45_L\nhappy,happy,0.8,,\nopen,,,0.9,\nwink,,,,1\n")
    return p


def rows(out_dir):
    manifests = sorted(out_dir.glob("manifest*.jsonl"))
    return [json.loads(line) for m in manifests for line in m.read_text().splitlines()]


def test_targets_from_csv_json_and_openface_columns(tmp_path, targets_csv):
    t = read_targets(targets_csv)
    assert [x.name for x in t] == ["happy", "open", "wink"]
    np.testing.assert_allclose(t[0].values, preset("happy", 0.8), atol=1e-6)
    assert t[1].values[COL["AU26"]] == pytest.approx(0.9) and t[2].values[COL["AU45_L"]] == 1
    assert t[2].values[COL["AU45_R"]] == 0
    js = tmp_path / "t.json"
    js.write_text(json.dumps([{"name": "s", "preset": "sad"}, {"aus": {"AU12": 0.5}, "name": "x y"}]))
    assert [x.name for x in read_targets(js)] == ["s", "x_y"]
    of = tmp_path / "of.csv"
    of.write_text("name,AU12_r\nbig,5\n")
    assert read_targets(of)[0].values[COL["AU12"]] == pytest.approx(1.0)


def test_bad_targets(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("name,AU12\na,0.5\nb,lots\n")
    with pytest.raises(ScriptError, match="line 3"):
        read_targets(bad)
    dup = tmp_path / "dup.csv"
    dup.write_text("name,AU12\na,0.5\na,0.2\n")
    with pytest.raises(ScriptError, match="twice"):
        read_targets(dup)
    js = tmp_path / "bad.yaml"
    js.write_text("- {name: a, preset: happy}\n- {name: b, preset: joy}\n")
    with pytest.raises(ScriptError, match="line 2.*unknown preset"):
        read_targets(js)
    with pytest.raises(InputError):
        read_targets(tmp_path / "missing.csv")


def test_shard_and_face_lists(tmp_path, faces):
    assert parse_shard("1/4") == (1, 4) and parse_shard(None) == (0, 1)
    for bad in ("4/4", "x", "1/0"):
        with pytest.raises(InputError):
            parse_shard(bad)
    listing = tmp_path / "list.txt"
    listing.write_text("# my faces\nfaces/astronaut.png\n\nfaces/single.jpg\n")
    assert [p.name for p in list_faces(listing)] == ["astronaut.png", "single.jpg"]
    assert [p.name for p in list_faces(faces)] == ["astronaut.png", "broken.jpg", "single.jpg", "wall.png"]


def test_render_manifest_and_resume(tmp_path, pipeline, faces, targets_csv):
    out = tmp_path / "out"
    targets = read_targets(targets_csv)
    s = pipeline(list_faces(faces), targets, out)
    assert s.rendered == 6 and s.no_face == 2 and s.faces == 4
    assert sorted(p.name for p in out.glob("*.png")) == sorted(
        f"{f}__{t}.png" for f in ("astronaut", "single") for t in ("happy", "open", "wink"))
    r = rows(out)
    assert len(r) == 12
    no_face = [x for x in r if not x["face_found"]]
    assert {x["source"].split("/")[-1] for x in no_face} == {"wall.png", "broken.jpg"}
    assert all(x["output"] is None and x["reason"] for x in no_face)
    ok = next(x for x in r if x["target"] == "open" and x["face_found"])
    assert ok["aus"]["AU26"] == pytest.approx(0.9)
    from reenact.io.images import load_image

    img = load_image(out / "astronaut__happy.png")
    assert img.shape == (512, 512, 3)
    # resume: a deleted output and a stale temp file are redone / removed; the rest is skipped
    (out / "astronaut__wink.png").unlink()
    (out / ".astronaut__open.tmp123.part.png").write_bytes(b"half")
    s2 = pipeline(list_faces(faces), targets, out)
    assert s2.rendered == 1 and s2.skipped == 11
    assert (out / "astronaut__wink.png").is_file() and not list(out.glob(".*part*"))
    assert read_done(out) >= {(str(faces / "astronaut.png"), "wink")}


def test_shards_split_the_faces(tmp_path, pipeline, faces, targets_csv):
    out = tmp_path / "out"
    targets = read_targets(targets_csv)[:1]
    a = pipeline(list_faces(faces), targets, out, shard=(0, 2), crop=True)
    b = pipeline(list_faces(faces), targets, out, shard=(1, 2), crop=True)
    assert a.faces + b.faces == 4
    assert sorted(m.name for m in out.glob("manifest*")) == ["manifest-0-of-2.jsonl", "manifest-1-of-2.jsonl"]
    assert len(rows(out)) == 4
    from reenact.io.images import load_image

    assert load_image(out / "astronaut__happy.png").shape == (128, 128, 3)  # --crop


def test_cli_render_batch(tmp_path, faces, targets_csv, tiny_weights, capsys):
    from reenact import cli

    rc = cli.main(["render-batch", str(faces), str(targets_csv), str(tmp_path / "o"),
                   "--model", "ganimation", "--weights",
                   str(tiny_weights), "--quiet"])
    assert rc == 0 and len(list((tmp_path / "o").glob("*.png"))) == 6
    rc = cli.main(["render-batch", str(faces), str(targets_csv), str(tmp_path / "o"),
                   "--model", "ganimation", "--weights",
                   str(tiny_weights), "--shard", "3/2"])
    assert rc == 2 and "--shard" in capsys.readouterr().err


@pytest.fixture()
def tiny_weights(tmp_path):
    from reenact.model.generator import save_generator

    torch.manual_seed(0)
    path = tmp_path / "tiny.safetensors"
    save_generator(Generator(GeneratorConfig(channels=8, n_res=1)), path)
    return path
