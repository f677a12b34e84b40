"""The evaluation harness end to end on real faces with a tiny random generator (plumbing only)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from reenact.generator import Generator, GeneratorConfig, save_generator

TINY = GeneratorConfig(channels=8, n_res=1)


@pytest.fixture(scope="module")
def tiny_generator() -> Generator:
    torch.manual_seed(0)
    return Generator(TINY).eval()


@pytest.fixture(scope="module")
def tracker():
    from reenact.tracking import FaceTracker

    with FaceTracker() as t:
        yield t


def test_targets_eval_writes_report_sheet_and_markdown(tiny_generator, tracker, tmp_path):
    from PIL import Image

    from reenact.evaluate import EvalConfig, evaluate_targets, load_sources, run_meta, write_report

    config = EvalConfig(emotions=("happy",), intensities=(1.0,), gestures=("wink_left",), cell_size=64)
    sources = load_sources(["astronaut"], tracker=tracker)
    assert [s.name for s in sources] == ["astronaut"]
    ev = evaluate_targets(tiny_generator, sources, tracker=tracker, config=config,
                          meta=run_meta(None, tiny_generator))
    res = ev.sources[0]
    assert res.requested.shape == res.measured.shape == (2, 23)
    assert len(res.attention) == 2 and res.cells.shape == (3, 64, 64, 3)
    paths = write_report(ev, tmp_path)
    report = json.loads(paths["json"].read_text())
    summary = report["summary"]
    for key in ("fidelity", "baseline_unchanged_source", "identity", "seam_mean", "attention", "per_target"):
        assert key in summary
    assert set(summary["per_target"]) == {"happy@1", "wink_left"}
    assert {"mae", "reliable_mae", "weak_mae", "active_mae", "per_au_mae"} <= set(summary["fidelity"])
    assert {"median", "worst"} <= set(summary["identity"])
    assert {"mean", "frac_near_0", "frac_near_1"} <= set(summary["attention"])
    assert 0.0 <= summary["attention"]["mean"] <= 1.0
    if summary["mode"] == "paste":
        assert {"boundary_step", "band_step", "gradient_excess"} <= set(summary["seam_mean"])
    assert report["meta"]["weights"].startswith("random")
    md = paths["markdown"].read_text()
    assert "| AU MAE, reliable AUs |" in md and "| happy@1 |" in md
    sheet = np.asarray(Image.open(paths["sheet"]))
    assert sheet.ndim == 3 and sheet.shape[1] >= 3 * 64 and sheet.shape[0] >= 64


def test_unchanged_source_baseline_is_measured_on_the_source(tiny_generator, tracker):
    """A generator that keeps every pixel (attention 1) must score exactly the do-nothing baseline."""
    from reenact.evaluate import EvalConfig, evaluate_targets, load_sources, summarize_targets

    class KeepAll(torch.nn.Module):
        def __init__(self, g):
            super().__init__()
            self.g, self.config = g, g.config

        def forward(self, face, cond):
            color, attention = self.g(face, cond)
            return color, torch.ones_like(attention)

    config = EvalConfig(emotions=("surprise",), intensities=(1.0,), gestures=(), identity=False)
    sources = load_sources(["astronaut"], tracker=tracker)
    ev = evaluate_targets(KeepAll(tiny_generator), sources, tracker=tracker, config=config)
    summary = summarize_targets(ev)
    baseline = summary["baseline_unchanged_source"]
    assert summary["fidelity"]["mae"] == pytest.approx(baseline["mae"], abs=1e-4)
    assert summary["attention"]["frac_near_1"] == 1.0
    if summary["mode"] == "paste":  # the output is the source: no seam at all
        assert summary["seam_mean"]["boundary_step"] == pytest.approx(0.0, abs=1e-3)


def test_video_eval_background_is_still(tiny_generator, media, tmp_path):
    from reenact.evaluate import EvalConfig, evaluate_videos, load_sources, write_report
    from reenact.tracking import FaceTracker

    with FaceTracker() as t:
        sources = load_sources(["astronaut"], tracker=t)
    config = EvalConfig(max_video_frames=8, batch_size=4, identity=False, cell_size=48)
    ev = evaluate_videos(tiny_generator, sources, [media("single_face.mp4")], config=config)
    r = ev.results[0]
    assert r.n_frames == 8 and r.fidelity.n_rows + r.fidelity.n_missing == 8
    if r.mode == "paste":
        assert r.stability.outside_change == 0.0  # a still photo's background never moves
    assert np.isfinite(r.stability.au_change)
    paths = write_report(ev, tmp_path)
    run = json.loads(paths["json"].read_text())["summary"]["runs"][0]
    assert {"outside_change", "inside_change", "flicker", "still_inside_change"} <= set(run["stability"])
    assert "reliable_corr" in run["fidelity"]
    assert paths["sheet"].stat().st_size > 0


def test_cli_eval_runs_and_rejects_bad_input(tiny_generator, tmp_path, capsys):
    from cli import main

    weights = tmp_path / "tiny.safetensors"
    save_generator(tiny_generator, weights)
    out = tmp_path / "report"
    rc = main(["eval", "--weights", str(weights), "--sources", "astronaut", "--targets", "happy",
               "--intensities", "0.5", "--no-identity", "--out", str(out)])
    assert rc == 0
    assert {p.name for p in out.iterdir()} == {"report.json", "report.md", "contact_sheet.png"}
    assert json.loads((out / "report.json").read_text())["meta"]["weights_sha256"]

    bad_out = tmp_path / "bad"
    assert main(["eval", "--weights", str(tmp_path / "missing.safetensors"), "--out", str(bad_out)]) == 2
    assert main(["eval", "--weights", str(weights), "--targets", "smirk", "--out", str(bad_out)]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "unknown target" in err
    assert not bad_out.exists()


def test_crop_only_mode_scores_the_crop(tiny_generator, tracker):
    from reenact.evaluate import EvalConfig, evaluate_targets, load_sources, summarize_targets

    config = EvalConfig(emotions=("happy",), intensities=(1.0,), gestures=(), paste=False, identity=False,
                        cell_size=32)
    ev = evaluate_targets(tiny_generator, load_sources(["astronaut"], tracker=tracker), tracker=tracker,
                          config=config)
    res = ev.sources[0]
    assert res.mode == "crop" and res.seams == ()
    summary = summarize_targets(ev)
    assert summary["mode"] == "crop" and summary["seam_mean"] is None
    assert np.isfinite(res.source_aus).all()  # the 128 crop of the source is measured (upscaled)
