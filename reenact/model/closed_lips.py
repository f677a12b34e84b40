"""Lips that close over teeth show lip, not a strip of teeth.

MediaPipe puts the inner lip contour of a mouth that shows its teeth on the teeth, a pixel or two
inside the lips' real edge, and a smile stretches the lips thin. When the warp closes such a mouth
it stretches the lips back to their rest height, and the strip of teeth (and the dark gap at the
gums) inside the lip triangles with them: a row of teeth between closed lips. Here the pixels of
the closing lips that are far brighter (teeth) or darker (the gap) than the photo's own lip are
replaced by the lip colour around them, in proportion to how far the mouth closed.
"""

from __future__ import annotations

import numpy as np

from reenact.model import mesh as M
from reenact.model.interior import polygon_cover
from reenact.model.lashes import distance_to_polyline
from reenact.model.refine_inputs import contour_closing
from reenact.model.warp import pad_box

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
#: The colour where shut lips meet, as a fraction of the lips' own (a red-brown shade).
_SEAM = np.array([0.55, 0.42, 0.42], np.float32)
_LIPS = (M.LIPS_OUTER_UPPER + M.LIPS_OUTER_LOWER[::-1][1:-1],  # the outer polygon of both lips
         M.LIPS_INNER_UPPER + M.LIPS_INNER_LOWER[::-1][1:-1])  # the opening inside them


def mouth_closing(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(B,) how far the mouth closed: ``refine_inputs.contour_closing`` of the inner lips (0: not closing);
    ``src`` (468+, 2) and ``dst`` (B, 468+, 2) mesh points in the same pixels."""
    return contour_closing(src, dst, M.LIPS_INNER_UPPER, M.LIPS_INNER_LOWER)


def lip_reference(image: np.ndarray, landmarks: np.ndarray, *, upper: bool = False) -> np.ndarray:
    """(3,) float32 median colour of the middle of the lower (or ``upper``) lip: its central
    points, the middle half of its height: the lip's own colour, away from teeth, skin and the
    lips' edges. An upper lip is usually darker than the lower one (it faces down)."""
    rows = (M.LIPS_INNER_UPPER, M.LIPS_OUTER_UPPER) if upper else (M.LIPS_INNER_LOWER, M.LIPS_OUTER_LOWER)
    inner, outer = landmarks[list(rows[0]), :2], landmarks[list(rows[1]), :2]
    t = np.linspace(0.25, 0.75, 5)
    cols = range(3, len(inner) - 3)  # the central points of the lip
    pts = np.concatenate([inner[c] + t[:, None] * (outer[c] - inner[c]) for c in cols])
    h, w = image.shape[:2]
    x = np.round(pts[:, 0]).astype(int).clip(0, w - 1)
    y = np.round(pts[:, 1]).astype(int).clip(0, h - 1)
    return np.median(image[y, x].astype(np.float32), 0)


def lip_references(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(2, 3) float32: ``lip_reference`` of the lower lip and of the upper lip; where the upper
    lip's reads as teeth or gap against the lower one's (a thin lip over teeth), the lower's."""
    lower, upper = lip_reference(image, landmarks), lip_reference(image, landmarks, upper=True)
    bright, dark = off_lip(upper[None], lower)
    return np.stack([lower, upper if max(bright[0], dark[0]) < 0.5 else lower])


def off_lip(pixels: np.ndarray, lip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How clearly pixels (..., 3) are not lip of colour ``lip`` (3,): two (...,) float32 in
    [0, 1], much brighter (teeth, whose red also falls towards their green) and much darker (the
    gap at the gums)."""
    luma, lip_luma = pixels @ _LUMA, max(float(lip @ _LUMA), 1.0)
    ratio = luma / lip_luma
    red = (pixels[..., 0] - pixels[..., 1]) / np.maximum(luma, 1.0)  # teeth: near 0, lips: 0.3-0.9
    lip_red = float(lip[0] - lip[1]) / lip_luma
    if lip_red > 0.1:  # teeth are about as bright as lips but far less red
        paler = np.clip((0.85 * lip_red - red) / (0.25 * lip_red), 0.0, 1.0)
        bright = np.clip((ratio - 0.8) / 0.15, 0.0, 1.0) * paler
    else:  # a grey photo: brightness alone
        bright = np.clip((ratio - 1.15) / 0.2, 0.0, 1.0)
    dark = np.clip((0.55 - ratio) / 0.15, 0.0, 1.0)  # a lip in shadow is not the gap
    return bright.astype(np.float32), dark.astype(np.float32)


def _meeting_line(dst: np.ndarray) -> np.ndarray:
    """(K, 2) the line where the lips meet: halfway between the inner lips of ``dst`` (468+, 2)."""
    return 0.5 * (dst[list(M.LIPS_INNER_UPPER)] + dst[list(M.LIPS_INNER_LOWER)])


def _above_the_line(dst: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) float32 in [0, 1]: 1 above the line where the lips meet (halfway between the inner
    lips, ``dst`` (468+, 2) in the same pixels), 0 below, a pixel's ramp across it."""
    meet = _meeting_line(dst)
    order = np.argsort(meet[:, 0])
    line = np.interp(np.arange(shape[1]), meet[order, 0], meet[order, 1])
    return np.clip(line[None, :] - np.arange(shape[0])[:, None] + 0.5, 0.0, 1.0).astype(np.float32)


def _lip_fill(part: np.ndarray, good: np.ndarray, sigma: float, colour: np.ndarray) -> np.ndarray:
    """(h, w, 3) the normalised Gaussian average of ``part``'s ``good`` pixels; where there are
    too few of them nearby, ``colour``."""
    import cv2

    num = cv2.GaussianBlur(part * good[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(good, (0, 0), sigma)[..., None]
    trust = np.clip(den / 0.3, 0.0, 1.0)
    return trust * num / np.maximum(den, 1e-6) + (1.0 - trust) * colour


def close_lips(warped: np.ndarray, dst: np.ndarray, closing: np.ndarray, lip: np.ndarray, *,
               start: float = 0.25, full: float = 0.6, shut: tuple[float, float] = (0.7, 0.85),
               seam: tuple[float, float, float] = (0.8, 1.0, 0.006)) -> np.ndarray:
    """Replace the off-lip pixels of closing lips by the lip colour around them (in place).

    Args:
        warped: (B, h, w, 3) uint8 warped regions.
        dst: (B, 468+, 2) destination meshes in the region's pixels.
        closing: (B,) ``mouth_closing``; the lips change from ``start`` on, fully from ``full``;
            the teeth in what is left of the opening only as the mouth shuts (``shut``: from, full),
            and then all of the opening and ``seam[1]`` pixels either side of where the lips meet,
            over which a line is drawn: a red-brown shade (``_SEAM`` x the lips' colour) at
            ``seam[0]`` opacity, a Gaussian ``seam[2]`` of the mouth's width across (the stretched
            teeth and gap left a ragged line there).
        lip: (3,) the photo's lip colour (``lip_reference``), or (2, 3) its lower and upper lips'
            (``lip_references``): pixels above the line where the lips meet take the upper lip's
            colour around them, the others the lower lip's.
    """
    import cv2

    h, w = warped.shape[1:3]
    refs = np.broadcast_to(np.asarray(lip, np.float32).reshape(-1, 3), (2, 3))
    for b in np.flatnonzero(closing > start):
        strength = min((closing[b] - start) / (full - start), 1.0)
        teeth = float(np.clip((closing[b] - shut[0]) / (shut[1] - shut[0]), 0.0, 1.0))
        outer = dst[b, list(_LIPS[0])]
        x0, y0, x1, y1 = pad_box(outer, 3, w, h)
        if x1 - x0 < 3 or y1 - y0 < 3:
            continue
        origin = np.array([x0, y0], np.float64)
        shape = (y1 - y0, x1 - x0)
        mouth = polygon_cover(shape, outer - origin)
        lips = np.clip(mouth - polygon_cover(shape, dst[b, list(_LIPS[1])] - origin), 0, 1)
        part = warped[b, y0:y1, x0:x1].astype(np.float32)
        above = _above_the_line(dst[b] - origin, shape)
        # teeth are brighter than either lip; the gap is darker than the lip it is in (an upper
        # lip in shade, darker than the lower one, is not the gap)
        bright, dark = off_lip(part, refs[0])
        dark = above * off_lip(part, refs[1])[1] + (1.0 - above) * dark
        # in the lips, teeth and gap go; in what is left of the opening, only the teeth of a shut
        # mouth (an open one shows them; the dark corners are the shadow a closed mouth has)
        bad = np.maximum(bright * np.maximum(lips, teeth * mouth), dark * lips)
        if teeth > 0.0:  # a shut mouth: lip up to where the lips meet, all of what is left of
            # the opening and the stretched teeth and gap next to it (``seam`` draws the line)
            meet = _distance_to_meet(dst[b] - origin, shape)
            near = np.clip(seam[1] + 1.0 - meet[0], 0.0, 1.0)
            bad = np.maximum(bad, teeth * np.maximum(mouth - lips, near * mouth))
        good = (1.0 - np.maximum(bright, dark)) * lips
        sigma = max(float(np.ptp(outer[:, 1])) / 4.0, 1.0)
        fill = sum(side[..., None] * _lip_fill(part, good * side, sigma, colour)
                   for side, colour in ((above, refs[1]), (1.0 - above, refs[0])))
        soft = np.maximum(bad, np.clip(cv2.GaussianBlur(bad, (0, 0), 0.7) * 1.5, 0.0, 1.0))  # a soft rim
        # the fill fades out towards the lips' outer edge, as a lip's colour fades into skin
        edge = np.minimum(mouth, cv2.GaussianBlur(mouth, (0, 0), 1.0))
        weight = (soft * edge)[..., None]
        out = part + strength * weight * (fill - part)
        if teeth > 0.0:
            out = _draw_seam(out, dst[b] - origin, meet, mouth, strength * teeth, _seam_colour(refs), seam)
        warped[b, y0:y1, x0:x1] = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return warped


def _seam_colour(refs: np.ndarray) -> np.ndarray:
    """(3,) the colour of the line where shut lips meet: ``_SEAM`` x the lips' mean colour (``refs``
    (2, 3)); for grey lips (a greyscale photo) its mean, so that grey stays grey."""
    lip = refs.mean(0)
    return lip * (_SEAM if np.ptp(lip) >= 2.0 else _SEAM.mean())


def _distance_to_meet(dst: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Two (h, w) arrays: each pixel's distance to the line where the lips meet (halfway between
    the inner lips, ``dst`` (468+, 2) in the same pixels) and where along it (0..1, corner to
    corner) its nearest point lies."""
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    pixels = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
    d, where = distance_to_polyline(pixels, _meeting_line(dst))
    return d.reshape(shape).astype(np.float32), where.reshape(shape).astype(np.float32)


def _draw_seam(part: np.ndarray, dst: np.ndarray, meet: tuple[np.ndarray, np.ndarray], mouth: np.ndarray,
               weight: float, colour: np.ndarray, seam: tuple[float, float, float]) -> np.ndarray:
    """``part`` (h, w, 3) float with the line where shut lips meet drawn in: blended towards
    ``colour`` at ``weight`` x ``seam[0]`` opacity at the line, a Gaussian profile across it whose
    width grows with the mouth's (``seam[2]`` of its width, at least 0.6 px), anti-aliased,
    fading out over the last tenth towards each corner; ``meet``: ``_distance_to_meet``."""
    d, where = meet
    width = float(np.ptp(dst[list(_LIPS[0]), 0]))
    sigma = max(0.6, seam[2] * width)
    ends = np.clip(np.minimum(where, 1.0 - where) / 0.1, 0.0, 1.0)
    line = (weight * seam[0] * np.exp(-0.5 * (d / sigma) ** 2) * ends * mouth)[..., None]
    return part + line * (colour - part)
