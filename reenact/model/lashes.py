"""The line of lashes along a closed eye, drawn at full resolution.

When an upper lid comes down, its lashes meet the lower lid's: a real closed eye shows a thin,
dark, curved line where the lids meet. The warp moves the lid's skin over the eye and the refiner
paints it smooth (128 px), but neither draws that line, and MediaPipe reads such a soft closed eye
as half open (a wink on the astronaut: eyeBlink 0.53 with the line drawn 0.73; docs/results.md).
So where an eye has closed past half its opening, the meeting line of its lids is drawn in the
photo's own lash colour (the darkest pixels along the source's upper lid margin), anti-aliased,
``thickness`` x the eye's width in the middle, thinner towards the corners, fading in as the eye
closes.
"""

from __future__ import annotations

import numpy as np

from reenact.model.rig import EYE_SIDES


def lash_colours(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(2, 3) float32: per eye (subject's right, left), the mean colour of the darkest fifth of
    the pixels on and around (3 x 3) the source's upper lid contour: its lashes."""
    h, w = image.shape[:2]
    out = []
    for upper, _ in EYE_SIDES:
        pts = np.round(landmarks[list(upper), :2]).astype(int)
        around = np.concatenate([pts + [dx, dy] for dx in (-1, 0, 1) for dy in (-1, 0, 1)])
        colour = image[around[:, 1].clip(0, h - 1), around[:, 0].clip(0, w - 1)].astype(np.float32)
        lum = colour.mean(1)
        out.append(colour[lum <= np.quantile(lum, 0.2)].mean(0))
    return np.stack(out).astype(np.float32)


def distance_to_polyline(points: np.ndarray, line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance of each point (N, 2) to the polyline (K, 2), and where along it (0 at its first
    point, 1 at its last, by length) the nearest point lies: two (N,) arrays."""
    seg = np.linalg.norm(np.diff(line, axis=0), axis=1)
    start = np.concatenate([[0.0], np.cumsum(seg)]) / max(float(seg.sum()), 1e-12)
    best, where = np.full(len(points), np.inf), np.zeros(len(points))
    for i, (a, b) in enumerate(zip(line[:-1], line[1:], strict=True)):
        ab = b - a
        t = np.clip(((points - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
        d = np.linalg.norm(points - (a + t[:, None] * ab), axis=1)
        closer = d < best
        best = np.where(closer, d, best)
        where = np.where(closer, start[i] + t * (start[i + 1] - start[i]), where)
    return best, where


def draw_lashes(region: np.ndarray, dst: np.ndarray, closing: np.ndarray, colours: np.ndarray, *,
                thickness: float = 0.04, taper: float = 0.4, soft: float = 1.0, start: float = 0.5,
                full: float = 0.9) -> np.ndarray:
    """Draw the lash line of every closed eye into warped regions (in place).

    Args:
        region: (B, h, w, 3) uint8 warped regions.
        dst: (B, 468, 2) destination meshes in region pixels.
        closing: (B, 2) how far each eye closed (``refine_inputs.eye_closing``).
        colours: (2, 3) lash colours (``lash_colours``).
        thickness: the line's width in its middle as a fraction of the eye's width; ``taper`` x
            that at the corners; ``soft``: the width of its anti-aliased edge, pixels.
        start, full: closing at which the line starts to show and is fully drawn.
    """
    h, w = region.shape[1:3]
    strength = np.clip((closing - start) / (full - start), 0.0, 1.0)
    for b, side in zip(*np.nonzero(strength), strict=True):
        upper, lower = EYE_SIDES[side]
        line = 0.5 * (dst[b, list(upper)] + dst[b, list(lower)])  # where the lids meet
        half = 0.5 * thickness * float(np.linalg.norm(dst[b, upper[0]] - dst[b, upper[-1]]))
        x0, y0 = (max(int(np.floor(v - half - 2)), 0) for v in line.min(0))
        x1 = min(int(np.ceil(line[:, 0].max() + half + 2)) + 1, w)
        y1 = min(int(np.ceil(line[:, 1].max() + half + 2)) + 1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1]
        pts = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
        d, along = distance_to_polyline(pts, line)
        width = half * (taper + (1.0 - taper) * np.sin(np.pi * along))  # thin towards the corners
        cover = np.clip((width + soft - d) / soft, 0.0, 1.0) * strength[b, side]
        part = region[b, y0:y1, x0:x1].astype(np.float32)
        alpha = cover.reshape(y1 - y0, x1 - x0, 1).astype(np.float32)
        mixed = part + alpha * (colours[side] - part)
        region[b, y0:y1, x0:x1] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return region
