"""A clip's first frame is read on the crop MediaPipe tracks, as every later frame is; absolute
transfer reads the photo the same way."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from reenact.au.blendshapes import aus_from_face
from reenact.au.extract import track_clip
from reenact.face.tracking import FaceTracker


def test_the_first_frame_is_read_on_the_tracked_crop_not_the_detection(astronaut):
    from reenact.pipelines.reenact_video import tracked_aus

    track = track_clip([np.stack([astronaut, astronaut])], 25.0)
    with FaceTracker() as tracker:
        detected = aus_from_face(tracker.detect_all(astronaut)[0])
    assert track.found.all()
    np.testing.assert_array_equal(tracked_aus(astronaut), track.values[0])
    assert np.abs(track.values[0] - detected).max() > 0.05  # the detection's reading is another


def test_absolute_transfer_reads_the_photo_as_the_driver_is_read(astronaut, media):
    from reenact.pipelines import PipelineConfig, ReenactPipeline
    from reenact.pipelines.reenact_video import tracked_aus

    base = PipelineConfig(max_frames=2)
    absolute = replace(base, transfer=replace(base.transfer, mode="absolute"))
    clip = media("single_face.mp4")
    out = ReenactPipeline.from_pretrained(config=absolute)(astronaut, clip)
    np.testing.assert_array_equal(out.source.aus, tracked_aus(astronaut))
    relative = ReenactPipeline.from_pretrained(config=base)
    assert np.array_equal(relative(astronaut, clip).source.aus, relative.prepare_source(astronaut).aus)
