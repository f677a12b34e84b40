"""The bad-input matrix, part 1: `reenact SOURCE DRIVER OUT` with broken, unusual and colliding
source photos, driving videos and output paths (issue 10).

Each case builds its inputs in a fresh folder, runs the real CLI in-process (real ffmpeg, real
MediaPipe, a tiny random generator) and asserts (tests/bad_inputs_cases.py):
- the exit code; for a failure exactly one stderr line, ``reenact: error: ...``, no traceback;
- nothing partial or temporary left: the folder holds exactly what it held plus the outputs;
- every input's sha256 is unchanged;
- for valid but unusual inputs, that the output is right (frames, size/orientation, audio).

The other commands are in test_bad_inputs_commands.py; signals and stale temporaries, which need
a second process, in test_bad_inputs_signals.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.bad_inputs_assets import CLIP_FRAMES, CLIP_SIZE
from tests.bad_inputs_cases import Case, Cases, Ctx, error, registry, rendered, run_case

CASES: Cases = {}
case = registry(CASES)

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


@case("workers_zero")
def _(c):
    return error(c.run("src.png", "base.mp4", "OUT.mp4", "--workers", "0"), "--workers must be >= 1")


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


# --------------------------------------------------------------------------- the test


def test_matrix_has_enough_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, tmp_path, assets, capfd, monkeypatch):
    run_case(CASES[name], tmp_path, assets, capfd, monkeypatch)


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
