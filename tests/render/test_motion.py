"""Landmark motion transfer: known answers on a real face's landmarks, and the pipeline path."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.au.smoothing import SmoothingConfig
from reenact.au.space import TABLE_AU_NAMES
from reenact.au.track import AUTrack
from reenact.errors import InputError
from reenact.render.motion import MotionConfig, landmark_motion


@pytest.fixture(scope="module")
def rig():
    from reenact.model.registry import load_registered_rig

    return load_registered_rig()


@pytest.fixture(scope="module")
def face(astronaut):
    from reenact.face.tracking import FaceTracker

    with FaceTracker() as tracker:
        return tracker.detect(astronaut)


def track_of(frames: np.ndarray, values: np.ndarray | None = None, fps: float = 25.0) -> AUTrack:
    t = len(frames)
    found = np.isfinite(frames).all(axis=(1, 2))
    vals = np.zeros((t, len(TABLE_AU_NAMES)), np.float32) if values is None else values
    return AUTrack(values=vals, found=found, pose=np.zeros((t, 3), np.float32), fps=fps, landmarks=frames)


def moved(face, rig, canonical_shift: np.ndarray, *, rotate_deg: float = 0.0) -> np.ndarray:
    """The face's landmarks with a canonical displacement applied, optionally rolled in the image."""
    lm = face.landmarks.astype(np.float64)
    pose = rig.pose(lm)
    out = pose.from_canonical(pose.to_canonical(lm) + canonical_shift)
    if rotate_deg:
        a = np.radians(rotate_deg)
        c = out[:, :2].mean(0)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        out[:, :2] = (out[:, :2] - c) @ rot.T + c
    return out.astype(np.float32)


def test_motion_from_the_first_frame_is_the_known_displacement_even_when_the_head_rolls(face, rig):
    shift = np.zeros((478, 3))
    shift[14:18, 1] = 0.8  # the lower lip down by 0.8 cm
    frames = np.stack([moved(face, rig, 0 * shift), moved(face, rig, shift, rotate_deg=12.0)])
    motion = landmark_motion(track_of(frames), rig, smoothing=SmoothingConfig(method="none"),
                             config=MotionConfig(reference="first"))
    assert np.abs(motion[0]).max() < 1e-4
    assert np.allclose(motion[1, 14:18, 1], 0.8, atol=0.05)
    assert np.abs(np.delete(motion[1], range(14, 18), axis=0)).max() < 0.05  # head roll removed


def test_neutral_reference_is_the_calmest_frames_and_only_keeps_regions(face, rig):
    shift = np.zeros((478, 3))
    shift[:, 1] = 0.3  # everything down (a pure translation in the canonical frame is not motion)
    shift[105, 1] += 0.5  # and a brow point
    shift[17, 1] += 0.6  # and the lower lip
    values = np.zeros((3, len(TABLE_AU_NAMES)), np.float32)
    values[0] = 0.5  # frame 0 is not calm
    frames = np.stack([moved(face, rig, shift), moved(face, rig, 0 * shift), moved(face, rig, 0 * shift)])
    motion = landmark_motion(track_of(frames, values), rig, smoothing=SmoothingConfig(method="none"),
                             config=MotionConfig(reference="neutral", rest_fraction=0.5))
    assert np.abs(motion[1:]).max() < 1e-3
    mouth = landmark_motion(track_of(frames, values), rig, smoothing=SmoothingConfig(method="none"),
                            config=MotionConfig(reference="neutral", rest_fraction=0.5, only=("mouth",)))
    assert mouth[0, 17, 1] > 0.4 and abs(mouth[0, 105, 1]) < 0.05


def test_gaps_and_errors(face, rig):
    frames = np.stack([moved(face, rig, np.zeros((478, 3)))] * 4)
    frames[2] = np.nan
    motion = landmark_motion(track_of(frames), rig)
    assert np.isfinite(motion).all() and np.abs(motion).max() < 1e-3
    with pytest.raises(InputError):
        landmark_motion(AUTrack(values=np.zeros((2, 23), np.float32), found=np.ones(2, bool),
                                pose=np.zeros((2, 3), np.float32), fps=25.0), rig)


def test_pipeline_in_landmark_mode(astronaut, media):
    from reenact.model.registry import build_editor
    from reenact.pipelines import PipelineConfig, ReenactPipeline

    with pytest.raises(InputError, match="landmark motion needs a warp-guided model"):
        ReenactPipeline(build_editor("none"), PipelineConfig(motion="landmarks"))
    pipe = ReenactPipeline(build_editor("warp"), PipelineConfig(max_frames=16, motion="landmarks"))
    out = pipe(astronaut, media("single_face.mp4"))
    assert out.frames.shape == (16, 512, 512, 3) and out.raw_track.landmarks.shape == (16, 478, 3)
    assert (out.frames != astronaut).any()
