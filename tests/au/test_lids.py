"""The driver's blinks from its lids' geometry: two lowered lids are not a wink; blinks close."""

from __future__ import annotations

import numpy as np

from reenact.au.lids import geometric_blinks
from reenact.au.space import TABLE_AU_NAMES
from reenact.au.track import AUTrack
from tests.aus_fixtures import WL_BLINK, WL_EYES_CLOSED, WL_SMILE_OPEN_EYES, winks, wl_raw_track

L, R = TABLE_AU_NAMES.index("AU45_L"), TABLE_AU_NAMES.index("AU45_R")


def _track(lids: np.ndarray, scores: np.ndarray | None = None) -> AUTrack:
    """A clip's track with these lid openings (T, 2) and blink scores (T, 2) (right, left)."""
    t = len(lids)
    values = np.zeros((t, len(TABLE_AU_NAMES)), np.float32)
    if scores is not None:
        values[:, [R, L]] = scores
    return AUTrack(values=values, found=np.ones(t, bool), pose=np.zeros((t, 3), np.float32), fps=25.0,
                   lids=lids.astype(np.float32))


def test_the_closure_is_measured_against_the_clips_open_eyes():
    lids = np.full((20, 2), 0.2)
    lids[3] = [0.1, 0.2]  # the right eye half closed, the left open
    lids[4] = [0.04, 0.04]  # both closed past the knee: shut
    lids[5] = [0.12, 0.12]  # both narrowed, but no blink score: a smile's eyes
    scores = np.zeros((20, 2))
    scores[3] = [0.3, 0.0]
    scores[4] = [0.9, 0.9]
    out = geometric_blinks(_track(lids, scores)).values
    assert np.allclose(out[3, [R, L]], [0.5, 0.0], atol=1e-6)
    assert np.allclose(out[4, [R, L]], 1.0)
    assert np.allclose(out[5, [R, L]], 0.0)
    assert np.allclose(out[[0, 10], :][:, [R, L]], 0.0)
    assert np.allclose(out[3, TABLE_AU_NAMES.index("AU45")], 0.25)  # the bilateral column: the mean
    half = scores.copy()
    half[3] = [0.15, 0.0]  # a faint score: half the measured closure
    assert np.allclose(geometric_blinks(_track(lids, half)).values[3, R], 0.25, atol=1e-6)
    # nothing to measure against: a track without lids, too short a clip, eyes never open
    bare = _track(lids).replace(lids=None)
    assert geometric_blinks(bare) is bare
    assert np.allclose(geometric_blinks(_track(lids[:5], scores[:5])).values[:, [R, L]], scores[:5])
    assert np.allclose(geometric_blinks(_track(np.full((20, 2), 0.05), scores)).values[:, [R, L]],
                          scores)


def test_a_driver_looking_down_lowers_both_lids_and_still_blinks():
    """The demo's driver at its first frames (head turned, looking down): MediaPipe's blink scores
    read a wink (left 0.78+, right 0.04-0.15); her lids' geometry reads both lowered, the left more
    (52 % and 69 % at frame 0), and lowered together they differ by under 0.15 (drawn as measured,
    the left showed a closed lid and its lashes beside a half-open right eye). Her real blink and
    her closed eyes still read closed on both sides, and her broad smile with open eyes (narrowed
    from below) stays open."""
    raw = wl_raw_track()
    geo = geometric_blinks(raw)
    first = slice(0, 11)
    assert (raw.values[first, L] - raw.values[first, R]).min() > 0.6
    gap = geo.values[first, L] - geo.values[first, R]
    assert (gap > 0.0).all() and gap.max() < 0.15  # the left a little lower, not a wink
    assert geo.values[first][:, [L, R]].min() > 0.4
    for frame in (WL_BLINK, WL_EYES_CLOSED):
        assert geo.values[frame, [L, R]].min() > 0.75
    assert geo.values[WL_SMILE_OPEN_EYES, [L, R]].max() < 0.15


def test_two_lowered_lids_come_together_and_a_wink_stays_a_wink():
    from reenact.au.lids import lowered_together

    closure = np.array([[0.52, 0.69],  # looking down, the head turned: together
                        [0.95, 0.30],  # a wink, the other eye narrowed: kept
                        [0.50, 0.05],  # one eye half closing alone: kept
                        [1.00, 0.95],  # a blink: (almost) as it was
                        [0.0, 0.0]])
    out = lowered_together(closure)
    assert abs(out[0, 1] - out[0, 0]) < 0.25 * 0.17 + 1e-6 and np.isclose(out[0].mean(), closure[0].mean())
    assert np.allclose(out[1:3], closure[1:3])
    assert np.abs(out[3:] - closure[3:]).max() < 0.02


def test_lid_openings_see_a_wink_on_its_side():
    from reenact.au.blendshapes import lid_apertures
    from reenact.face.tracking import FaceTracker

    with FaceTracker() as tracker:
        images = winks()
        opening = {k: lid_apertures(tracker.detect(images[k]).landmarks[None])[0] for k in ("open", "left")}
    assert opening["left"][1] < 0.5 * opening["open"][1]  # the subject's left eye closed
    assert opening["left"][0] > 0.7 * opening["open"][0]  # the right one open
