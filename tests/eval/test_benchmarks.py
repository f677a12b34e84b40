"""The benchmark scripts still run end to end (tiny generator, a few frames; no timing asserted)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module", autouse=True)
def bench_on_path():
    sys.path.insert(0, str(BENCH))
    yield
    sys.path.remove(str(BENCH))


def test_bench_pipeline_prints_stage_table(tmp_path, capsys, media):
    import bench_pipeline

    media("WolfgangLanger_Pexels.mp4")
    out = tmp_path / "rows.json"
    assert bench_pipeline.main(["--sizes", "360", "--frames", "8", "--tiny", "--device", "cpu",
                                "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| 640x360 | 8 |" in text and "track+AUs" in text and "peak RSS MiB" in text
    row = json.loads(out.read_text())[0]
    assert row["frames"] == 8 and row["fps"] > 0 and row["peak_rss_mib"] > 0
    stages = {"decode", "track", "smooth", "warp", "generate", "paste", "encode", "setup"}
    assert set(row["stages_s"]) == stages


def test_bench_memory_samples_rss(tmp_path, capsys, media):
    import bench_memory

    media("WolfgangLanger_Pexels.mp4")
    out = tmp_path / "rows.json"
    assert bench_memory.main(["--minutes", "0.05", "--device", "cpu", "--json", str(out)]) == 0
    row = json.loads(out.read_text())[0]
    assert 60 <= row["frames"] <= 80 and row["peak_rss_mib"] >= max(row["rss_at_25_50_75_100_mib"]) - 1
    assert "RSS at 25/50/75/100" in capsys.readouterr().out


def test_eval_quality_writes_three_reports(tmp_path, capsys, media):
    import eval_quality

    assert eval_quality.main(["--model", "none", "--quick", "--out", str(tmp_path)]) == 0
    for name in ("targets", "self", "video"):
        assert (tmp_path / name / "report.json").is_file()
        assert (tmp_path / name / "contact_sheet.png").is_file()
    text = capsys.readouterr().out
    assert "requested-AU MAE" in text and "Self-reenactment" in text and "Driving videos" in text


def test_bench_eval_prints_its_table(tmp_path, capsys, media):
    import bench_eval

    out = tmp_path / "rows.json"
    args = ["--model", "none", "--jobs", "self", "--quick", "--no-warmup", "--json", str(out)]
    assert bench_eval.main(args) == 0

    (row,) = json.loads(out.read_text())
    assert row["job"] == "self" and row["work"] == "8 frames" and row["total_s"] > 0
    assert "| self | none" in capsys.readouterr().out



def test_real_faces_scores_real_clips_against_the_prototypes(tmp_path, capsys, media):
    import numpy as np
    import real_faces

    from reenact.au.space import EMOTION_PROTOTYPES, table_from_values

    sad = table_from_values(EMOTION_PROTOTYPES["sad"])
    err, strength = real_faces.prototype_errors(np.stack([sad, np.zeros_like(sad)]), "sad")
    assert err[0] == 0 and np.isclose(err[1], (0.8 + 0.7 + 0.8) / 3) and np.isclose(strength[0], 2.3)

    # a real clip under MEAD's naming: the smiling speaker scored as "happy"
    clip = tmp_path / "X001_front_happy_level3_001.mp4"
    clip.symlink_to(media("WolfgangLanger_Pexels.mp4"))
    (row,) = [line for line in real_faces.mead_table(tmp_path) if line.startswith("| X001")]
    best, p90 = (float(v) for v in row.split("|")[2].split("/"))
    assert 0 <= best <= p90 <= 1 and row.count(" - ") == 6  # only the happy column is filled

    assert real_faces.main(["--mead", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_real_faces_sharpness_compares_each_face_with_its_own_neutral_face(astronaut):
    import numpy as np
    import real_faces
    from scipy.ndimage import gaussian_filter

    blurred = np.stack([gaussian_filter(astronaut[..., c].astype(np.float32), 1.0) for c in range(3)], -1)
    blurred = np.clip(blurred + 0.5, 0, 255).astype(np.uint8)
    (geometry, sharp), (_, soft) = real_faces._measure(astronaut), real_faces._measure(blurred)
    assert geometry.mouth_open > 0 and 0 < soft < 0.5 * sharp  # a 1 px blur halves the detail or more

    pairs = [("F", "sad", None, (geometry, sharp), None, (geometry, value)) for value in (sharp, soft, soft)]
    pairs.append(("F", "happy", None, (geometry, sharp), None, (geometry, float("nan"))))  # no face: left out
    rows = real_faces.sharpness_table(pairs)
    (row,) = [line for line in rows if line.startswith("| F |")]
    assert row.split("|")[2:5] == [" sad ", " 3 ", f" {soft / sharp:.2f} "]


def test_mouth_interiors_reads_the_cavity_model_back_from_a_warped_mouth(astronaut):
    """The measurement behind ``interior.CAVITY_PROFILE``, run on the warp's own surprise on the
    astronaut (whose cavity is that model): its middle heights read the profile back; the
    astronaut's own smile (teeth, no dark cavity) is not counted."""
    import mouth_interiors
    import numpy as np

    from reenact.au.space import preset
    from reenact.face.tracking import FaceTracker
    from reenact.model import interior
    from reenact.model.registry import build_editor
    from reenact.pipelines import ReenactPipeline

    editor = build_editor("warp")
    prepared = editor.prepare(ReenactPipeline(editor).prepare_source(astronaut))
    frame = prepared.assemble(editor.edit(prepared, preset("surprise")[None]).regions)[0]
    with FaceTracker() as tracker:
        opened, own = tracker.detect(frame), tracker.detect(astronaut)
    assert mouth_interiors.face_ratios(astronaut, own.landmarks) is None
    by_height, by_corner = mouth_interiors.face_ratios(frame, opened.landmarks, min_gap=0.1, min_width=20)
    middle = slice(2, 6)
    assert np.abs(by_height[middle] / interior.CAVITY_PROFILE[middle] - 1).max() < 0.2
    assert by_height[middle, 0].min() > by_height[middle, 2].max()  # redder than the lips
