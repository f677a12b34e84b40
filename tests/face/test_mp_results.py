"""MediaPipe's results read straight from its C struct equal its public Python objects."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.face import mp_results
from reenact.face.tracking import FaceTracker, TrackerConfig
from reenact.io.images import load_image
from reenact.io.video import read_all_frames


def _image(mp, array):
    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(array))


@pytest.mark.parametrize("name", ["multi_face.jpg", "single_face.jpg"])
def test_c_results_equal_the_public_objects(media, name):
    import mediapipe as mp

    image = load_image(media(name))
    with FaceTracker(TrackerConfig(max_faces=8)) as tracker:
        fast = mp_results.detect(tracker._landmarker, "detect", _image(mp, image))
        public = mp_results.from_objects(tracker._landmarker.detect(_image(mp, image)))
    assert len(fast) == len(public) >= 1
    if name == "multi_face.jpg":
        assert len(fast) >= 2
    for mine, theirs in zip(fast, public, strict=True):
        assert [a.shape for a in mine] == [(478, 3), (52,), (4, 4)]
        for a, b in zip(mine, theirs, strict=True):
            assert a.dtype == b.dtype == np.float32
            np.testing.assert_array_equal(a, b)


def test_video_mode_results_equal_the_public_objects(media):
    import mediapipe as mp

    frames = read_all_frames(media("single_face.mp4"), max_frames=6)
    found = {}
    for path in ("fast", "public"):
        with FaceTracker(TrackerConfig(max_faces=1), video=True) as tracker:
            lm = tracker._landmarker
            found[path] = [mp_results.detect(lm, "detect_for_video", _image(mp, f), 40 * i) if path == "fast"
                           else mp_results.from_objects(lm.detect_for_video(_image(mp, f), 40 * i))
                           for i, f in enumerate(frames)]
    for mine, theirs in zip(found["fast"], found["public"], strict=True):
        assert len(mine) == len(theirs) == 1
        for a, b in zip(mine[0], theirs[0], strict=True):
            np.testing.assert_array_equal(a, b)


def test_a_landmarker_without_the_c_parts_takes_the_public_call(media):
    """Another mediapipe release may lack ``_lib``/``_handle``: the public API is used then."""
    import mediapipe as mp

    image = load_image(media("single_face.jpg"))
    with FaceTracker() as tracker:
        class Public:  # only the public method
            def detect(self, img):
                return tracker._landmarker.detect(img)

        faces = mp_results.detect(Public(), "detect", _image(mp, image))
        assert len(faces) == 1 and faces[0][0].shape == (478, 3)
        np.testing.assert_array_equal(faces[0][0], mp_results.detect(tracker._landmarker, "detect",
                                                                     _image(mp, image))[0][0])
