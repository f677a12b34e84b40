"""A driving video moves the face by the rig at a share of its calibration gains; scripts, and
a request of the source's own expression, are unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.au.space import COND_NAMES, preset
from reenact.errors import InputError
from reenact.model.rig import load_rig
from reenact.model.rig_gain import calibration_gains, driving_rig
from reenact.render.transfer import TransferConfig
from reenact.weights import fetch


@pytest.fixture(scope="module")
def rig():
    return load_rig(fetch("rig", quiet=True))


def test_the_driving_rig_divides_each_basis_by_its_gain_to_the_unused_share(rig):
    gains = calibration_gains(rig)
    assert gains is not None and gains.shape == (20,) and (gains >= 1.0).all() and gains.max() > 2.0
    assert driving_rig(rig, 1.0) is rig
    for share in (0.0, 0.5):
        driven = driving_rig(rig, share)
        for k, name in enumerate(COND_NAMES):
            g = 1.0 if name.startswith("AU45") else gains[k]  # the blink keeps its whole gain
            np.testing.assert_allclose(driven.bases[k], rig.bases[k] / g ** (1 - share), rtol=1e-5)
            np.testing.assert_allclose(driven.lower_bases[k], rig.lower_bases[k] / min(g, 1.5) ** (1 - share),
                                       rtol=1e-5)
    assert np.array_equal(driving_rig(rig, 0.5).mean, rig.mean)
    with pytest.raises(InputError, match="rig gain"):
        TransferConfig(rig_gain=1.5)


def test_a_video_moves_the_face_less_than_a_script_and_its_own_expression_not_at_all(astronaut):
    """The same AU request through a driving video's prepared face (rig_gain 0.5) moves the
    brows less than as a script (the whole gain: ``render`` without a gain, as the AU targets,
    ``animate`` and ``render-batch`` use it), by about the square root of their gains; the
    source's own expression still returns the photo exactly."""
    from reenact.model import mesh as M
    from reenact.pipelines import PipelineConfig, ReenactPipeline

    video = ReenactPipeline.from_pretrained(config=PipelineConfig())
    src = video.prepare_source(astronaut)
    driven, scripted = video.prepared_face(src, video.config.transfer.rig_gain), video.prepared_face(src)
    assert driven.rig is not None and scripted.rig is None and video.config.transfer.rig_gain == 0.5
    request = preset("surprise")[None]
    base = src.face.landmarks[:M.N_MESH, :2]
    brows = [70, 63, 105, 66, 107, 300, 293, 334, 296, 336]  # the upper edges of both brows
    moved = {name: np.abs(video.editor.target_landmarks(p, request)[0] - base)[brows, 1].mean()
             for name, p in (("video", driven), ("script", scripted))}
    assert 0.4 < moved["video"] / moved["script"] < 0.85, moved
    own = video.editor.edit(driven, src.aus[None]).regions[0]
    assert np.array_equal(own, driven.region_u8)


def test_only_the_video_path_takes_the_driving_gain(astronaut, media):
    """``ReenactPipeline.__call__`` (a driving video, AU mode) renders at ``rig_gain``; the same
    pipeline's ``render`` of AU rows (what the AU targets of ``reenact eval`` and the sample
    sheets use) keeps the whole gain whatever ``rig_gain`` says."""
    from dataclasses import replace

    from reenact.io.sinks import MemorySink
    from reenact.pipelines import PipelineConfig, ReenactPipeline

    base = PipelineConfig(max_frames=4)
    runs = {}
    for gain in (0.5, 1.0):
        config = replace(base, transfer=replace(base.transfer, rig_gain=gain))
        pipe = ReenactPipeline.from_pretrained(config=config)
        runs[gain] = pipe(astronaut, media("single_face.mp4")).frames
        src = pipe.prepare_source(astronaut)
        runs[f"render {gain}"] = pipe.render(src, np.stack([preset("surprise")]), MemorySink())
    assert not np.array_equal(runs[0.5], runs[1.0])
    assert np.array_equal(runs["render 0.5"], runs["render 1.0"])
