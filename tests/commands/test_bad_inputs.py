"""The bad-input matrix: every command with broken, unusual and colliding inputs (issue 10).

Each case builds its inputs in a fresh folder, runs the real CLI in-process (real ffmpeg, real
MediaPipe, a tiny random generator) and asserts:
- the exit code; for a failure exactly one stderr line, ``reenact: error: ...``, no traceback;
- nothing partial or temporary left: the folder holds exactly what it held plus the outputs;
- every input's sha256 is unchanged;
- for valid but unusual inputs, that the output is right (frames, size/orientation, audio).

Signals and stale temporaries, which need a second process, are in test_bad_inputs_signals.py.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from reenact import cli
from tests.bad_inputs_assets import (
    CLIP_FRAMES,
    CLIP_SIZE,
    Assets,
    listing,
    sha256_tree,
    stderr_lines,
    video_facts,
)


@dataclass
class Case:
    """One row of the matrix: the command line and what must come of it."""

    argv: list
    code: int = 2
    message: str | None = None  # part of the one error line
    outputs: frozenset[str] = frozenset()  # entries the run must add to the folder (and no other)
    check: Callable[[Path], None] | None = None  # more checks of a valid run's outputs
    warnings: int = 0  # "reenact: warning:" lines expected on stderr
    env: dict[str, str] = field(default_factory=dict)


class Ctx:
    """A case's working folder; inputs are copied into it so that its sha256 covers them."""

    def __init__(self, work: Path, assets: Assets):
        self.work, self.assets = work, assets
        self.weights = ["--model", "ganimation", "--weights", str(assets["tiny.safetensors"])]

    def copy(self, asset: str, name: str | None = None) -> Path:
        path = self.work / (name or asset)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.assets[asset], path)
        return path

    def file(self, name: str, data: bytes | str) -> Path:
        path = self.work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    def run(self, src, drv, out="OUT.mp4", *extra) -> list:
        """argv of `reenact SRC DRV OUT` with the tiny weights, quiet, 4 frames."""
        src = src if isinstance(src, Path) else self.copy(src, "SRC" + Path(src).suffix)
        drv = drv if isinstance(drv, Path) else self.copy(drv, "DRV" + Path(drv).suffix)
        out = out if isinstance(out, Path) else self.work / out
        return [src, drv, out, *self.weights, "--quiet", "--max-frames", "4", *extra]


CASES: dict[str, Callable[[Ctx], Case]] = {}


def case(name: str):
    def register(fn: Callable[[Ctx], Case]):
        CASES[name] = fn
        return fn
    return register


def error(argv: list, message: str, **kw) -> Case:
    return Case(argv=argv, message=message, **kw)


def video(frames: int, size: tuple[int, int], audio: str | None) -> Callable[[Path], None]:
    """Check OUT.mp4: decoded frames, (w, h), audio codec."""
    def check(work: Path) -> None:
        assert video_facts(work / "OUT.mp4") == (frames, *size, audio)
    return check


def rendered(frames: int = 4, size: tuple[int, int] = (256, 256), audio: str | None = "aac") -> dict:
    return dict(code=0, outputs=frozenset({"OUT.mp4"}), check=video(frames, size, audio))


# --------------------------------------------------------------------------- source photo


@case("source_truncated_png")
def _(c: Ctx) -> Case:
    data = c.assets["src.png"].read_bytes()
    return error(c.run(c.file("SRC.png", data[: len(data) // 2]), "base.mp4"), "not a readable image")


@case("source_zero_byte")
def _(c):
    return error(c.run(c.file("SRC.png", b""), "base.mp4"), "not a readable image")


@case("source_text_named_jpg")
def _(c):
    return error(c.run(c.file("SRC.jpg", "not a photo\n"), "base.mp4"), "not a readable image")


@case("source_missing")
def _(c):
    return error(c.run(c.work / "nope.png", "base.mp4"), "does not exist")


@case("source_is_folder")
def _(c):
    (c.work / "photos").mkdir()
    return error(c.run(c.work / "photos", "base.mp4"), "is a folder")


@case("source_huge_14000x14000")
def _(c):
    return error(c.run("src_huge.png", "base.mp4"),
                 "196 megapixels, over the limit of 50; shrink it, or raise the limit with --max-pixels")


@case("source_over_lowered_max_pixels")
def _(c):
    return error(c.run("src.png", "base.mp4", "OUT.mp4", "--max-pixels", "10000"), "over the limit of 0.01")


@case("source_over_env_max_pixels")
def _(c):
    return error(c.run("src.png", "base.mp4"), "over the limit of 0.01", env={"REENACT_MAX_PIXELS": "10000"})


@case("source_tiny_16px")
def _(c):
    return error(c.run("src_tiny.png", "base.mp4"), "no face found in the source photo")


@case("source_no_face")
def _(c):
    return error(c.run("src_grey_wall.png", "base.mp4"), "no face found in the source photo")


@case("source_face_index_missing")
def _(c):
    return error(c.run("multi_face.jpg", "base.mp4", "OUT.mp4", "--face-index", "9"),
                 "--face-index 9 does not exist")


@case("source_cmyk_jpeg")
def _(c):
    return Case(c.run("src_cmyk.jpg", "base.mp4"), **rendered())


@case("source_16bit_grey_png")
def _(c):
    return Case(c.run("src_16bit.png", "base.mp4"), **rendered())


@case("source_alpha_png")
def _(c):
    return Case(c.run("src_rgba.png", "base.mp4"), **rendered())


@case("source_exif_rotated_comes_out_upright")
def _(c):
    return Case(c.run("src_exif.jpg", "base.mp4"), **rendered(size=(256, 200)))  # displayed size, not stored


@case("source_jpeg_named_png")
def _(c):
    return Case(c.run("src_jpeg_named.png", "base.mp4"), **rendered())


@case("source_odd_size_padded")
def _(c):
    return Case(c.run("src_odd.png", "base.mp4"), **rendered(size=(258, 252)))  # yuv420p: one edge row/col


@case("source_several_faces_index_1")
def _(c):
    from PIL import Image

    w, h = Image.open(c.assets["multi_face.jpg"]).size
    return Case(c.run("multi_face.jpg", "base.mp4", "OUT.mp4", "--face-index", "1"),
                **rendered(size=(w + w % 2, h + h % 2)))


# --------------------------------------------------------------------------- driver


@case("driver_still_image")
def _(c):
    return error(c.run("src.png", c.copy("src.png", "still.png")), "`reenact animate PHOTO SCRIPT OUT`")


@case("driver_truncated")
def _(c):
    return error(c.run("src.png", "truncated.mp4", "OUT.mp4", "--max-frames", "48"), "truncated")


@case("driver_header_only")
def _(c):
    return error(c.run("src.png", "header_only.mp4"), "damaged or truncated")


@case("driver_zero_byte")
def _(c):
    return error(c.run("src.png", c.file("DRV.mp4", b"")), "empty file")


@case("driver_audio_only")
def _(c):
    return error(c.run("src.png", "audio_only.m4a"), "has no video stream")


@case("driver_text_named_mp4")
def _(c):
    return error(c.run("src.png", c.file("DRV.mp4", "hello\n" * 100)), "not a readable video")


@case("driver_missing")
def _(c):
    return error(c.run("src.png", c.work / "nope.mp4"), "does not exist")


@case("driver_without_a_face")
def _(c):
    return error(c.run("src.png", "no_face.mp4"), "no face found in any frame of the driver")


@case("driver_face_index_missing")
def _(c):
    return error(c.run("src.png", "base.mp4", "OUT.mp4", "--driver-face-index", "3"),
                 "shows 1 face(s); --driver-face-index 3 does not exist (use 0..0")


@case("driver_two_faces_index_5")
def _(c):
    return error(c.run("src.png", "two_faces.mp4", "OUT.mp4", "--driver-face-index", "5"),
                 "shows 2 face(s); --driver-face-index 5 does not exist")


@case("driver_two_faces_index_1")
def _(c):
    return Case(c.run("src.png", "two_faces.mp4"), **rendered(audio=None))


@case("driver_av1")
def _(c):
    return Case(c.run("src.png", "av1.mp4", "OUT.mp4", "--max-frames", "99"), **rendered(frames=CLIP_FRAMES))


@case("driver_vfr")
def _(c):
    return Case(c.run("src.png", "vfr.mp4", "OUT.mp4", "--max-frames", "99"), **rendered(frames=CLIP_FRAMES))


@case("driver_display_rotated")
def _(c):
    return Case(c.run("src.png", "rotated.mp4", "OUT.mp4", "--max-frames", "99"),
                **rendered(frames=CLIP_FRAMES))


@case("driver_no_face_stretch")
def _(c):
    return Case(c.run("src.png", "gap.mp4", "OUT.mp4", "--max-frames", "99"), **rendered(frames=CLIP_FRAMES))


@case("driver_pcm_audio_reencoded")
def _(c):
    return Case(c.run("src.png", "pcm.mov"), **rendered(audio="aac"))


@case("driver_opus_audio_copied")
def _(c):
    return Case(c.run("src.png", "opus.mkv"), **rendered(audio="opus"))


@case("driver_mp3_audio_copied")
def _(c):
    return Case(c.run("src.png", "mp3.mp4"), **rendered(audio="mp3"))


@case("driver_without_audio")
def _(c):
    return Case(c.run("src.png", "noaudio.mp4"), **rendered(audio=None))


# --------------------------------------------------------------------------- output paths of `run`


@case("plot_is_the_source")
def _(c):
    argv = c.run("src.png", "base.mp4")
    return error(argv + ["--plot", str(c.work / "SRC.png")], "--plot")


@case("plot_default_path_is_the_source")
def _(c):
    src = c.copy("src.png", "OUT.aus.png")  # what --plot without a path writes for OUT.mp4
    return error(c.run(src, "base.mp4", "OUT.mp4", "--plot"), "is the source photo")


@case("plot_symlink_to_the_source")
def _(c):
    argv = c.run("src.png", "base.mp4")
    (c.work / "plot.png").symlink_to(c.work / "SRC.png")
    return error(argv + ["--plot", str(c.work / "plot.png")], "is the source photo")


@case("preview_is_the_driver")
def _(c):
    argv = c.run("src.png", "base.mp4")
    return error(argv + ["--preview", str(c.work / "DRV.mp4")], "is the driver")


@case("preview_is_the_output")
def _(c):
    return error(c.run("src.png", "base.mp4", "OUT.mp4", "--preview", str(c.work / "OUT.mp4")),
                 "are the same file")


@case("output_is_the_driver")
def _(c):
    return error(c.run("src.png", "base.mp4", "DRV.mp4"), "is the driver")


@case("output_hard_link_of_the_driver")
def _(c):
    argv = c.run("src.png", "base.mp4")
    os.link(c.work / "DRV.mp4", c.work / "alias.mp4")
    argv[2] = c.work / "alias.mp4"
    return error(argv, "is the driver")


@case("plot_txt_rejected_before_work")
def _(c):
    return error(c.run("src.png", "base.mp4", "OUT.mp4", "--plot", str(c.work / "aus.txt")),
                 ".txt is not an image format")


@case("preset_bogus")
def _(c):
    return error(c.run("src.png", "base.mp4", "OUT.mp4", "--preset", "bogus"), "veryfast")


@case("output_folder_missing")
def _(c):
    return error(c.run("src.png", "base.mp4", c.work / "missing" / "OUT.mp4"), "does not exist; create it")


@case("output_under_proc")
def _(c):
    return error(c.run("src.png", "base.mp4", Path("/proc/OUT.mp4")), "cannot write to /proc")


@case("output_in_read_only_folder")
def _(c):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; output_under_proc covers root")
    folder = c.work / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    return error(c.run("src.png", "base.mp4", folder / "OUT.mp4"), "cannot write to")


@case("output_is_a_folder")
def _(c):
    (c.work / "OUT.mp4").mkdir()
    return error(c.run("src.png", "base.mp4"), "is a folder")


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


# --------------------------------------------------------------------------- the test


@pytest.fixture(scope="module")
def assets(tmp_path_factory, media) -> Assets:
    return Assets(tmp_path_factory.mktemp("assets"), media)


def test_matrix_has_enough_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, tmp_path, assets, capfd, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    spec = CASES[name](Ctx(work, assets))
    for key, value in spec.env.items():
        monkeypatch.setenv(key, value)
    before, hashes = listing(work), sha256_tree(work)
    code = cli.main([str(a) for a in spec.argv])
    lines = stderr_lines(capfd.readouterr().err)
    assert not [line for line in lines if "Traceback" in line], lines
    assert code == spec.code, lines
    if spec.code:
        assert len(lines) == 1 and lines[0].startswith("reenact: error: "), lines
        assert spec.message in lines[0], lines
    else:
        assert len(lines) == spec.warnings and all(x.startswith("reenact: warning: ") for x in lines), lines
    assert listing(work) == before | spec.outputs  # nothing partial or temporary, no input gone
    assert {k: v for k, v in sha256_tree(work).items() if k in hashes} == hashes  # inputs untouched
    if spec.check is not None:
        spec.check(work)


def test_clips_are_what_the_matrix_says(assets):
    """The unusual clips really are unusual (else the matrix tests nothing)."""
    from reenact.io.video import probe_video, read_all_frames

    assert probe_video(assets["av1.mp4"]).codec == "av1"
    rotated = probe_video(assets["rotated.mp4"])
    assert rotated.rotation in (90, 270) and (rotated.width, rotated.height) == CLIP_SIZE
    assert read_all_frames(assets["rotated.mp4"]).shape[1:3] == CLIP_SIZE[::-1]  # decoded upright
    vfr = probe_video(assets["vfr.mp4"])
    assert vfr.n_frames == CLIP_FRAMES and abs(vfr.fps - 30) > 1  # irregular timestamps
    assert probe_video(assets["pcm.mov"]).audio_codec == "pcm_s16le"
