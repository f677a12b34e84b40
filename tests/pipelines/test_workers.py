"""Work on two cores: the driver tracked as two parts at once (pass 1) and batches edited by two
threads (pass 2), with real tracking, the registered warp-guided model and real clips."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.errors import VideoReadError
from reenact.io.sinks import MemorySink
from reenact.io.video import iter_frames, probe_video
from reenact.pipelines import PipelineConfig, ReenactPipeline


@pytest.fixture(scope="module")
def tracked(media):
    """The first 120 frames of WolfgangLanger tracked by one tracker and as two parts."""
    info = probe_video(media("WolfgangLanger_Pexels.mp4"))
    out = {}
    for workers in (1, 2):
        pipe = ReenactPipeline.from_pretrained(config=PipelineConfig(workers=workers, max_frames=120))
        out[workers] = (pipe._track_parts(info, 120), pipe.track(info))
    return out


def test_the_driver_is_tracked_as_two_parts(tracked):
    (one_parts, one), (two_parts, two) = tracked[1], tracked[2]
    assert one_parts == [(0, 120)] and two_parts == [(0, 72), (72, 120)]  # 72: a keyframe
    assert len(two) == len(one) == 120 and np.array_equal(two.found, one.found)
    # the first part is the same tracker on the same frames; the second starts afresh at frame 72
    np.testing.assert_array_equal(two.values[:72], one.values[:72])
    assert not np.array_equal(two.values[72:], one.values[72:])
    assert np.nanmean(np.abs(two.values - one.values)) < 0.01  # measured 0.0017 (150 frames)


def test_short_clips_and_own_extractors_stay_one_part(media):
    config = PipelineConfig(workers=2)
    info = probe_video(media("single_face.mp4"))  # 72 frames: parts of 36 are too short
    assert ReenactPipeline.from_pretrained(config=config)._track_parts(info, 72) == [(0, 72)]
    wl = probe_video(media("WolfgangLanger_Pexels.mp4"))
    own = ReenactPipeline.from_pretrained(config=config, extractor=lambda chunks, fps: None)
    assert own._track_parts(wl, 472) == [(0, 472)]


def test_parts_start_at_a_keyframe_near_the_even_split(media):
    """A part decodes from the keyframe before its first frame: WolfgangLanger's keyframes are
    every 72 frames."""
    from dataclasses import replace

    from reenact.io.video import keyframes

    wl = probe_video(media("WolfgangLanger_Pexels.mp4"))
    assert keyframes(wl) == [0, 72, 144, 216, 288, 360, 432]
    pipe = ReenactPipeline.from_pretrained(config=PipelineConfig(workers=2))
    assert pipe._track_parts(wl, 472) == [(0, 216), (216, 472)]  # 236 -> 216
    assert pipe._track_parts(wl, 100) == [(0, 50), (50, 100)]  # decord: 50 frames back are cheap
    big = replace(wl, width=1920, height=1080)  # decoded by PyAV, ~7 ms a frame
    assert pipe._track_parts(big, 472) == [(0, 216), (216, 472)]
    assert pipe._track_parts(big, 100) == [(0, 100)]  # no keyframe near 50: one part


def test_two_threads_render_the_same_frames_in_order(astronaut):
    from reenact.au.space import preset

    rng = np.random.default_rng(0)
    targets = np.clip(preset("surprise", 0.6)[None] + rng.normal(0, 0.3, (40, 23)), 0, 1).astype(np.float32)
    frames = {}
    for workers in (1, 2):
        pipe = ReenactPipeline.from_pretrained(config=PipelineConfig(workers=workers, batch_size=8))
        assert pipe.render_workers == workers
        frames[workers] = pipe.render(pipe.prepare_source(astronaut), targets, MemorySink())
    assert frames[1].shape == (40, 512, 512, 3)
    assert len({f.tobytes() for f in frames[1]}) == 40  # every frame differs: order shows
    np.testing.assert_array_equal(frames[2], frames[1])


def test_an_error_in_a_batch_reaches_the_caller(astronaut):
    pipe = ReenactPipeline.from_pretrained(config=PipelineConfig(workers=2, batch_size=4))
    src = pipe.prepare_source(astronaut)
    calls = []
    edit = pipe.editor.edit

    def failing(prepared, targets, **options):
        calls.append(len(targets))
        if len(calls) == 3:
            raise RuntimeError("batch 3 failed")
        return edit(prepared, targets, **options)

    pipe.editor.edit = failing
    with pytest.raises(RuntimeError, match="batch 3 failed"):
        pipe.render(src, np.zeros((40, 23), np.float32), MemorySink())
    assert len(calls) < 10  # stopped: the batches after the failure were not all edited


def test_a_failing_part_stops_the_other(media):
    from reenact.au.extract import track_clip_parts

    frames = np.concatenate(list(iter_frames(media("single_face.mp4"), chunk_size=8)))
    taken = []

    def long_part():  # the clip 20 times: far longer than the failing part takes
        for _ in range(20):
            for k in range(0, len(frames), 8):
                taken.append(k)
                yield frames[k:k + 8]

    def failing_part():
        yield frames[:8]
        raise VideoReadError("part 2 is damaged")

    with pytest.raises(VideoReadError, match="part 2 is damaged"):
        track_clip_parts([long_part(), failing_part()], 30.0)
    assert len(taken) < 20 * 9
