"""The bad-input matrix, part 2: `aus`, `animate`, `render-batch`, `eval` and `train` with
broken, unusual and colliding inputs (issue 10); the checks are part 1's
(tests/bad_inputs_cases.py, test_bad_inputs.py).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.bad_inputs_assets import CLIP_FRAMES
from tests.bad_inputs_cases import Case, Cases, Ctx, error, registry, run_case

CASES: Cases = {}
case = registry(CASES)

# --------------------------------------------------------------------------- aus


def aus(c: Ctx, *args) -> list:
    return ["aus", *args, "--quiet"]


@case("aus_output_is_the_input")
def _(c):
    drv = c.copy("base.mp4", "DRV.mp4")
    return error(aus(c, drv, "-o", drv), "is the input")


@case("aus_plot_is_the_output")
def _(c):
    drv = c.copy("base.mp4", "DRV.mp4")
    return error(aus(c, drv, "-o", c.work / "a.png", "--plot", c.work / "a.png"), "are the same file")


@case("aus_plot_txt")
def _(c):
    drv = c.copy("base.mp4", "DRV.mp4")
    return error(aus(c, drv, "-o", c.work / "a.csv", "--plot", c.work / "a.txt"),
                 ".txt is not an image format")


@case("aus_plot_overwrites_an_image_of_the_folder")
def _(c):
    c.copy("src.png", "faces/a.png")
    return error(aus(c, c.work / "faces", "-o", c.work / "a.csv", "--plot", c.work / "faces" / "a.png"),
                 "is the input")


@case("aus_folder_skips_broken_images")
def _(c):
    c.copy("src.png", "faces/a.png")
    c.copy("src_cmyk.jpg", "faces/b.jpg")
    c.file("faces/c.png", c.assets["src.png"].read_bytes()[:900])
    c.file("faces/d.jpg", b"")

    def check(work: Path) -> None:
        with open(work / "a.csv", newline="") as f:
            assert [r["input"] for r in csv.DictReader(f)] == ["a.png", "b.jpg"]

    return Case(aus(c, c.work / "faces", "-o", c.work / "a.csv"), code=0, outputs=frozenset({"a.csv"}),
                check=check, warnings=3)


@case("aus_folder_nothing_readable")
def _(c):
    c.file("faces/c.png", b"\x89PNG broken")
    return error(aus(c, c.work / "faces", "-o", c.work / "a.csv"), "none of the 1 image(s)")


@case("aus_face_index_missing")
def _(c):
    return error(aus(c, c.copy("base.mp4", "DRV.mp4"), "-o", c.work / "a.csv", "--face-index", "3"),
                 "shows 1 face(s); --face-index 3 does not exist")


@case("aus_rotated_clip_upright")
def _(c):
    def check(work: Path) -> None:
        with open(work / "a.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == CLIP_FRAMES and all(r["face_found"] == "1" for r in rows)

    return Case(aus(c, c.copy("rotated.mp4"), "-o", c.work / "a.csv", "--smooth", "none"), code=0,
                outputs=frozenset({"a.csv"}), check=check)


# --------------------------------------------------------------------------- animate


@case("animate_script_is_a_folder")
def _(c):
    (c.work / "script").mkdir()
    return error(["animate", c.copy("src.png"), c.work / "script", c.work / "OUT.mp4", *c.weights],
                 "is a folder")


@case("animate_script_bad_yaml")
def _(c):
    script = c.file("s.yaml", "fps: 25\nkeyframes: [{t: 0, preset: happy}\n")
    return error(["animate", c.copy("src.png"), script, c.work / "OUT.mp4", *c.weights], "line")


@case("animate_output_is_the_source")
def _(c):
    script = c.file("s.yaml", "fps: 5\nkeyframes: [{t: 0, preset: happy}]\n")
    src = c.copy("src.png")
    return error(["animate", src, script, src, *c.weights], "is the source photo")


# --------------------------------------------------------------------------- render-batch


def batch(c: Ctx, targets: Path, out: Path) -> list:
    c.copy("src.png", "faces/astronaut.png")
    return ["render-batch", c.work / "faces", targets, out, *c.weights, "--quiet"]


@case("batch_unknown_au_column")
def _(c):
    targets = c.file("t.csv", "name,AU99,AU12\nx,0.5,0.8\n")
    return error(batch(c, targets, c.work / "out"), "unknown AU column AU99")


@case("batch_out_dir_is_the_faces_folder")
def _(c):
    targets = c.file("t.csv", "name,AU12\nx,0.8\n")
    return error(batch(c, targets, c.work / "faces"), "is also the FACES folder")


@case("batch_out_dir_holds_listed_faces")
def _(c):
    targets = c.file("t.csv", "name,AU12\nx,0.8\n")
    c.copy("src.png", "out/astronaut.png")
    faces = c.file("faces.txt", "out/astronaut.png\n")
    return error(["render-batch", faces, targets, c.work / "out", *c.weights, "--quiet"],
                 "holds the face photos")


@case("batch_targets_would_become_the_manifest")
def _(c):
    targets = c.file("out/manifest.jsonl", json.dumps([{"name": "x", "preset": "happy"}]) + "\n")
    return error(batch(c, targets, c.work / "out"), "has the name of an output")


@case("batch_unreadable_face_recorded")
def _(c):
    targets = c.file("t.csv", "name,AU12\nx,0.8\n")
    argv = batch(c, targets, c.work / "out")
    c.file("faces/broken.png", b"\x89PNG broken")

    def check(work: Path) -> None:
        rows = [json.loads(line) for line in (work / "out" / "manifest.jsonl").read_text().splitlines()]
        assert sorted((Path(r["source"]).name, r["face_found"]) for r in rows) == [
            ("astronaut.png", True), ("broken.png", False)]

    return Case(argv, code=0, outputs=frozenset({"out", "out/astronaut__x.png", "out/manifest.jsonl"}),
                check=check)


# --------------------------------------------------------------------------- eval and train


@case("eval_failure_leaves_no_out_folder")
def _(c):
    return error(["eval", *c.weights, "--sources", c.work / "nope.png", "--targets", "happy",
                  "--intensities", "1", "--no-identity", "--out", c.work / "out" / "eval"], "does not exist")


@case("eval_report_would_overwrite_a_source")
def _(c):
    sheet = c.copy("src.png", "out/contact_sheet.png")
    return error(["eval", *c.weights, "--sources", sheet, "--targets", "happy", "--intensities", "1",
                  "--no-identity", "--out", c.work / "out"], "is the input")


def train(c: Ctx, *args) -> list:
    (c.work / "data").mkdir(exist_ok=True)
    return ["train", c.work / "data", *args]


@case("train_config_not_yaml")
def _(c):
    return error(train(c, "-o", c.work / "run", "--config", c.file("bad.yaml", "a: [1, 2\nb: {\n")),
                 "not valid YAML/JSON")


@case("train_config_not_a_mapping")
def _(c):
    return error(train(c, "-o", c.work / "run", "--config", c.file("list.yaml", "- 1\n- 2\n")),
                 "must be a mapping")


@case("train_config_unknown_nested_field")
def _(c):
    return error(train(c, "-o", c.work / "run", "--config", c.file("cfg.yaml", "generator: {bogus: 1}\n")),
                 "bogus")


@case("train_run_folder_inside_the_data_set")
def _(c):
    return error(train(c, "-o", c.work / "data" / "run"), "overlap")


@case("train_run_would_overwrite_its_config")
def _(c):
    config = c.file("run/config.json", "{}\n")
    return error(train(c, "-o", c.work / "run", "--config", config), "is the --config")


@case("train_refiner_check_without_held_out_pairs")
def _(c):
    return error(["train-refiner", "--check", c.work / "r.safetensors"], "needs DATA")


@case("train_refiner_check_on_a_file_that_is_not_pairs")
def _(c):
    pairs = c.file("pairs.npz", "not an archive\n")
    return error(["train-refiner", pairs, "--check", c.work / "r.safetensors"], "not a readable .npz")


@case("fit_rig_plot_txt")
def _(c):
    posed = c.file("tfeid/note.txt", "no photos\n").parent
    argv = ["fit-rig", "--posed", posed, "-o", c.work / "rig.safetensors", "--plot", c.work / "rig.txt"]
    return error(argv, ".txt is not an image format")


# --------------------------------------------------------------------------- the test


def test_matrix_has_enough_cases():
    assert len(CASES) >= 20


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, tmp_path, assets, capfd, monkeypatch):
    run_case(CASES[name], tmp_path, assets, capfd, monkeypatch)
