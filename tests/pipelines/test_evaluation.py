"""The evaluation harness end to end on real faces: do-nothing scores what it must, a tiny random
generator renders through the pipeline, the CLI compares models (plumbing, not quality)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from reenact.model.generator import Generator, GeneratorConfig, save_generator

TINY = GeneratorConfig(channels=8, n_res=1)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_generator(Generator(TINY).eval(), path)
    return str(path)


@pytest.fixture(scope="module")
def models(tiny_weights):
    from reenact.pipelines.evaluation.harness import NONE
    from reenact.pipelines.evaluation.render import ModelSpec

    return [NONE, ModelSpec("ganimation", tiny_weights, "tiny")]


def test_default_sources_are_every_public_face(media):
    from reenact.eval.sources import DEFAULT_SOURCES, load_sources
    from reenact.face.tracking import FaceTracker, TrackerConfig, box_iou
    from reenact.pipelines import PipelineConfig, ReenactPipeline

    with FaceTracker() as tracker:
        sources = load_sources(DEFAULT_SOURCES, tracker=tracker)
    names = [s.name for s in sources]
    assert names[:3] == ["astronaut", "astronaut-grey", "single_face"]
    assert names[3:] == [f"multi_face#{k}" for k in range(5)]  # tiles find the 3 small faces too
    grey = sources[1].image
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    for s in sources[3:]:  # the pipeline's own face choice finds the face the harness means
        config = PipelineConfig(tracker=TrackerConfig(face_index=s.face_index))
        found = ReenactPipeline(Generator(TINY), config).prepare_source(s.image).face
        # (the pipeline reads a small face again on a crop: the same face, a few pixels apart)
        assert box_iou(found.box, s.face.box) > 0.7, (s.name, found.box, s.face.box)


def test_targets_none_is_perfect_and_a_generator_is_not(models, tmp_path):
    from PIL import Image

    from reenact.eval.report import write_report
    from reenact.eval.sources import default_targets
    from reenact.eval.targets import EvalConfig
    from reenact.pipelines.evaluation.harness import EvalPlan, evaluate_models

    plan = EvalPlan(sources=("astronaut", "astronaut:grey"),
                    targets=default_targets(("surprise",), (1.0,), ("wink_left",)))
    evaluations = evaluate_models(models, plan, config=EvalConfig(cell_size=48))
    paths = write_report(evaluations, tmp_path)
    report = json.loads(paths["json"].read_text())
    none, tiny = (report["models"][m]["summary"] for m in ("none", "tiny"))
    assert none["n_targets"] == 3 and none["bar"]["targets"] == ["surprise@1", "wink_left"]
    q = none["quality"]
    assert q["sharpness"]["worst"] == 1.0 and q["speckle"]["worst"] == 1.0
    assert q["chroma_deviation"]["worst"] == 0

    assert q["grey_max_chroma"]["worst"] == 0.0
    assert none["own_expression"]["face_psnr"]["worst"] == "inf" and none["identity"]["worst"] == 0.0
    assert none["own_expression"]["au_mae"] == 0.0  # the source's own expression, read the same way

    assert all(r in (0.0, None) for r in none["geometry"]["pass_rate"].values())  # nothing moves
    assert none["geometry"]["n"]["mouth_opens"] == 2 and none["seam_mean"]["boundary_step"] == 0.0
    assert none["attention"] is None and tiny["attention"]["mean"] is not None
    assert tiny["quality"]["chroma_deviation"]["mean"] > 1.0  # random colour: seen
    assert tiny["own_expression"]["face_psnr"]["median"] < 40
    assert tiny["quality"]["grey_max_chroma"]["worst"] > 2.0  # colour in the black-and-white photo
    md = paths["markdown"].read_text()
    assert "| none | " in md and "| tiny | " in md and "requested-AU MAE" in md
    sheet = np.asarray(Image.open(paths["sheet"]))
    assert sheet.shape[0] >= 4 * 48 and sheet.shape[1] >= 4 * 48  # 2 sources x 2 models, 1 + 3 columns


def test_self_reenactment_compares_with_the_real_frames(models, media):
    from reenact.eval.image_metrics import l1_distance
    from reenact.eval.summary import summarize_videos
    from reenact.eval.targets import EvalConfig
    from reenact.io.video import read_all_frames
    from reenact.pipelines.evaluation.harness import EvalPlan, evaluate_models

    clip = media("single_face.mp4")
    evaluations = evaluate_models(models, EvalPlan(self_clips=(str(clip),)),
                                  config=EvalConfig(max_video_frames=6, identity=False, cell_size=32))
    none, tiny = (ev.results[0] for ev in evaluations)
    real = read_all_frames(clip, max_frames=6)
    copied = np.mean([l1_distance(real[0], real[t]) for t in range(1, 6)])  # do nothing = frame 0 copied
    assert none.self_reenact.n_frames == 5 and none.self_reenact.whole_l1 == pytest.approx(copied, rel=1e-5)
    assert none.self_reenact.head_l1 > 0
    assert none.self_reenact.n_face_frames == 5 and np.isfinite(none.self_reenact.face_ssim)
    assert none.stability.outside_change == 0.0 and tiny.stability.outside_change == 0.0
    assert tiny.self_reenact.face_l1 > 0 and tiny.driver_cells.shape[1:] == (32, 32, 3)
    summary = summarize_videos(evaluations[1])
    assert summary["overall_self_reenactment"]["n_frames"] == 6 and summary["overall_driving"] is None


def test_driving_a_photo_keeps_the_background_still(models, media, tmp_path):
    from reenact.eval.report import write_report
    from reenact.eval.targets import EvalConfig
    from reenact.pipelines.evaluation.harness import EvalPlan, evaluate_models

    plan = EvalPlan(sources=("astronaut",), drivers=(str(media("single_face.mp4")),))
    evaluations = evaluate_models(models[1:], plan, config=EvalConfig(max_video_frames=8, identity=False))
    run = evaluations[0].results[0]
    assert run.n_frames == 8 and run.self_reenact is None and run.stability.outside_change == 0.0
    assert run.fidelity.n_rows + run.fidelity.n_missing == 8 and run.seam is not None
    md = write_report(evaluations, tmp_path)["markdown"].read_text()
    assert "Driving videos" in md and "Self-reenactment" not in md


def test_cli_compares_models_and_rejects_bad_input(tmp_path, capsys):
    from reenact.cli import main

    out = tmp_path / "report"
    assert main(["eval", "--model", "none", "ganimation", "--weights", "random", "--sources", "astronaut",
                 "--targets", "happy", "--no-identity", "--no-geometry", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"report.json", "report.md", "contact_sheet.png"}
    report = json.loads((out / "report.json").read_text())
    assert list(report["models"]) == ["none", "ganimation:random"]
    assert report["models"]["ganimation:random"]["meta"]["weights"] == "random"
    bad = tmp_path / "bad"
    assert main(["eval", "--weights", str(tmp_path / "missing.safetensors"), "--out", str(bad)]) == 2
    assert main(["eval", "--targets", "smirk", "--out", str(bad)]) == 2
    assert main(["eval", "--model", "nonsense", "--out", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "unknown target" in err and "unknown model" in err
    assert not bad.exists()


def test_weights_files_give_rows_of_their_own_model(tiny_weights, tmp_path):
    """`reenact eval --weights` takes a refiner file as well as a generator: each file is a row of
    the model it belongs to, read from the file's format tag."""
    from reenact.model.refiner import Refiner, RefinerConfig, save_refiner
    from reenact.pipelines.evaluation.harness import model_specs

    refiner = tmp_path / "r.safetensors"
    save_refiner(Refiner(RefinerConfig(channels=8, n_res=1)).eval(), refiner)
    specs = model_specs(None, [str(refiner), tiny_weights])
    assert [(s.name, s.title) for s in specs] == [("none", "none"), ("warp+refiner", "warp+refiner:r"),
                                                  ("ganimation", "ganimation:tiny")]
    assert specs[1].weights == str(refiner)
    assert [s.title for s in model_specs(["warp"], ["random"])] == ["none", "warp", "ganimation:random"]


def test_the_reference_thread_has_its_own_dlib_model(media):
    """A clip's reference is measured beside the main thread, which reads outputs with
    ``shared_landmarks()``: the worker must not use that same dlib model (two threads in one dlib
    object corrupted the heap on a run of 6 clips)."""
    from concurrent.futures import ThreadPoolExecutor

    from reenact.eval.geometry import shared_landmarks
    from reenact.eval.identity import identity_available
    from reenact.io.video import read_all_frames
    from reenact.pipelines.evaluation import harness

    if not identity_available():
        pytest.skip("the eval extra (dlib) is not installed")
    clip = media("single_face.mp4")
    frames = read_all_frames(clip, max_frames=3)
    with ThreadPoolExecutor(max_workers=1) as pool:
        ref = pool.submit(harness._measure_clip_in_worker, clip, frames, True, 64).result()
        worker_model = pool.submit(lambda: harness._WORKER.landmarks).result()
    assert worker_model is not None and worker_model is not shared_landmarks()
    assert len(ref.readings) == 3 and ref.readings[0].face is not None
