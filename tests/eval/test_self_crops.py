"""Self-reenactment's aligned comparison: output frames cropped where the source's face is, or
where dlib reads each output frame (whose jitter alone changes the scores)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reenact.eval.geometry import DlibFace, face_geometry
from reenact.eval.image_metrics import l1_psnr_ssim
from reenact.eval.measure import GeometryReading
from reenact.eval.videos import HEAD_ZOOM, ClipReference, aligned_crops, aligned_scores


def _reading(points: np.ndarray) -> GeometryReading:
    box = (*points.min(0), *points.max(0))
    return GeometryReading(DlibFace(points, box, True), face_geometry(points))


def _face_points(rng, shift=(0.0, 0.0)) -> np.ndarray:
    """(68, 2) points of a frontal face about 60 px wide at (64, 64) (eyes at 36-47, nose at 30)."""
    pts = np.stack([rng.uniform(34, 94, 68), rng.uniform(40, 100, 68)], 1)
    pts[36:42] = [44, 56] + rng.normal(0, 1, (6, 2))
    pts[42:48] = [84, 56] + rng.normal(0, 1, (6, 2))
    pts[30] = [64, 76]
    return pts + np.asarray(shift)


def test_source_crops_compare_the_same_pixels_whatever_dlib_reads_on_the_output():
    """A do-nothing output (frame 0 every time) cropped at the source's face scores exactly frame
    0's crop against each real crop; cropped by jittered readings of the same pixels (dlib moving
    its eye points by a pixel) the scores change though no output pixel did."""
    rng = np.random.default_rng(0)
    size = 48
    real = rng.integers(0, 256, (4, 128, 128, 3), dtype=np.uint8)
    real = np.asarray([np.clip(f.astype(int) // 4 + 96, 0, 255) for f in real], np.uint8)  # less contrast
    real[:, 50:80, 40:90] = np.linspace(30, 220, 50, dtype=np.uint8)[None, None, :, None]  # a gradient face
    readings = tuple(_reading(_face_points(np.random.default_rng(t), (t, 0.5 * t))) for t in range(4))
    ref = ClipReference(Path("clip.mp4"), real, readings, aligned_crops(real, readings, size),
                        aligned_crops(real, readings, size, zoom=HEAD_ZOOM))
    outputs = np.repeat(real[:1], 4, 0)
    jittered = [_reading(r.face.points + [0.8 * (-1) ** t, 0.6]) for t, r in enumerate(readings[:1] * 4)]
    fixed = aligned_scores(outputs, jittered, ref, size, fixed=readings[0])
    own = aligned_scores(outputs, jittered, ref, size)
    assert len(fixed) == len(own) == 3  # frames 1..3
    for t, (face, _, _) in enumerate(fixed, start=1):
        both = ref.faces.inside[0] & ref.faces.inside[t]
        assert face == l1_psnr_ssim(ref.faces.crops[0], ref.faces.crops[t], both)
    assert all(abs(f[0][1] - o[0][1]) > 0.01 for f, o in zip(fixed, own, strict=True))
