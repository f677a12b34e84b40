"""Closing lids and lips take their pixels from lid and lip, not from the opening they close.

The warp's source positions of the points around an eye or a mouth that close (``closing_sources``):

A closed lid's pixels at its margins would otherwise take source pixels right at the lid margins,
whose interpolation reaches into the white of the eye (``lid_margins_lifted``).

MediaPipe puts the inner lip contour of a mouth that shows its teeth (or its dark gap) on the
teeth, a pixel or more inside the lips' real edge. A warp that closes such a mouth stretches each
lip back to its rest height from its source triangles, and so stretches the strip of teeth
between the contour and the lip's edge into the closed lips. Here the photo's real lip edge is
found along each column of the lip mesh (from the inner contour towards the outer one, the first
pixels that read as this lip's own colour), and the closing lips sample only the band between
that edge and the outer contour: every loop of the lip's mesh is moved into it, in order, so no
source triangle folds. In proportion to how far the mouth closes, or opens (``mouth_change``):
an opening mouth's interior then runs between the lips' real edges, so the teeth the contour sat
on go with the interior, not with the lower lip (``interior_sources``). A mouth that keeps its
opening samples as before (a request of the photo's own expression returns the photo).
"""

from __future__ import annotations

import numpy as np

from reenact.model import mesh as M
from reenact.model.closed_lips import mouth_closing, off_lip
from reenact.model.refine_inputs import eye_closing

# each lip's four loops of the face mesh, from its outer contour to its inner one (the mouth's
# corners first and last; ``mesh.LIPS_OUTER_*`` and ``mesh.LIPS_INNER_*`` are the first and last)
UPPER_LOOPS = ((61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291),
               (76, 184, 74, 73, 72, 11, 302, 303, 304, 408, 306),
               (62, 183, 42, 41, 38, 12, 268, 271, 272, 407, 292),
               (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308))
LOWER_LOOPS = ((61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291),
               (76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306),
               (62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292),
               (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308))


def _bilinear(image: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """(N, 3) float32 colours of ``image`` (h, w, 3) at points (N, 2) (x, y), bilinear."""
    h, w = image.shape[:2]
    x = np.clip(pts[:, 0], 0, w - 1.001)
    y = np.clip(pts[:, 1], 0, h - 1.001)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    im = image.astype(np.float32)
    top = im[y0, x0] * (1 - fx) + im[y0, x0 + 1] * fx
    bottom = im[y0 + 1, x0] * (1 - fx) + im[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def edge_depth(image: np.ndarray, inner: np.ndarray, outer: np.ndarray, lip: np.ndarray, *,
               reach: float = 0.6, step: float = 0.5, margin: float = 0.75) -> np.ndarray:
    """(C,) for each column (inner (C, 2) -> outer (C, 2) points, pixels), where the lip's own
    pixels begin, as a share of the column's length in [0, ``reach``]: 0 where the inner point
    already reads as lip of colour ``lip`` (3,); else the first of two lip-coloured samples in a row
    (samples ``step`` pixels apart), ``margin`` pixels further (past the blend of teeth and lip)."""
    out = np.zeros(len(inner))
    for c, (a, b) in enumerate(zip(inner, outer, strict=True)):
        length = float(np.linalg.norm(b - a))
        if length < 1.0:
            continue
        t = np.linspace(0.0, reach, max(int(np.ceil(reach * length / step)) + 1, 3))
        bright, dark = off_lip(_bilinear(image, a + t[:, None] * (b - a)), lip)
        lip_like = np.maximum(bright, dark) < 0.5
        if lip_like[0]:
            continue
        run = lip_like[:-1] & lip_like[1:]
        first = int(np.argmax(run)) if run.any() else len(t) - 1
        out[c] = min(t[first] + margin / length, reach)
    return out


def _smooth(depth: np.ndarray) -> np.ndarray:
    """A median of three along the columns (one column's misreading does not notch the lip)."""
    if len(depth) < 3:
        return depth
    padded = np.concatenate([depth[:1], depth, depth[-1:]])
    return np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), 0)


def lip_sampling(image: np.ndarray, points: np.ndarray, refs: np.ndarray, *, origin=(0, 0)
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Where fully closing lips sample the photo: (indices (K,), positions (K, 2)) for the mesh
    points of both lips' loops but the corners, ``points`` (468+, 2) in ``image``'s pixels;
    ``refs`` (2, 3) the lower and upper lip's colours (``closed_lips.lip_references``); the
    positions are returned relative to ``origin`` (x, y) (a region's corner).

    Each point keeps its place along its column, inner contour (0) to outer (1), in the band that
    is lip: t -> d + t (1 - d), d = the column's ``edge_depth``."""
    index, place = [], []
    for loops, lip in ((LOWER_LOOPS, refs[0]), (UPPER_LOOPS, refs[1])):
        cols = slice(1, -1)
        inner, outer = points[list(loops[-1][cols])], points[list(loops[0][cols])]
        depth = _smooth(edge_depth(image, inner, outer, lip))
        seg = outer - inner
        for loop in loops[1:]:
            p = points[list(loop[cols])]
            t = ((p - inner) * seg).sum(1) / np.maximum((seg ** 2).sum(1), 1e-9)
            t = np.clip(t, 0.0, 1.0)
            index.extend(loop[cols])
            place.append(inner + (depth + t * (1.0 - depth))[:, None] * seg)
    return np.asarray(index), np.concatenate(place) - np.asarray(origin, np.float64)


def sample_lips(src: np.ndarray, sampling: tuple[np.ndarray, np.ndarray], closing: np.ndarray, *,
                full: float = 0.3) -> np.ndarray:
    """Source vertices (B, V, 2) with the lips' points moved towards ``lip_sampling``'s places in
    proportion to how far each mouth closes (``closing`` (B,): from 0, fully from ``full``)."""
    index, place = sampling
    share = np.clip(np.asarray(closing, np.float64) / full, 0.0, 1.0)
    if not share.any() or len(index) == 0:
        return src
    out = np.array(src, np.float64, copy=True)
    out[:, index] += share[:, None, None] * (place[None] - out[:, index])
    return out


def lid_margins_lifted(src: np.ndarray, dst: np.ndarray, *, lift: float = 0.25) -> np.ndarray:
    """Source positions with each closing eye's lid margins sampled a little away from the eye.

    A closed lid's pixels at its margins would otherwise take source pixels right at the lid
    margins, whose interpolation reaches into the white of the eye: a pale line along the closed
    eye. Sampling the upper margin ``lift`` x the eye's opening higher and the lower one as much
    lower (in proportion to how far the eye closed) lines the closed eye with lashes and skin.

    Args:
        src: (B, V, 2) source vertices (region pixels); dst: (B, 468, 2) destination mesh points.
    """
    out = np.array(src, np.float64, copy=True)
    for side, (upper, lower) in enumerate(((M.RIGHT_EYE_UPPER, M.RIGHT_EYE_LOWER),
                                           (M.LEFT_EYE_UPPER, M.LEFT_EYE_LOWER))):
        up, lo = list(upper[1:-1]), list(lower[1:-1])
        opening = src[0, up] - src[0, lo]  # (7, 2) lower -> upper lid, pixels
        closing = eye_closing(src[0, :M.N_MESH], dst)[:, side]  # (B,)
        out[:, up] += lift * closing[:, None, None] * opening[None]
        out[:, lo] -= lift * closing[:, None, None] * opening[None]
    return out


def mouth_change(src: np.ndarray, dst: np.ndarray, *, wide: float = 0.1) -> np.ndarray:
    """(B,) how far each mouth closes (``closed_lips.mouth_closing``) or opens (the inner lips'
    mean gap grown by ``wide`` x the mouth's width = 1): the lips sample their own band either
    way (an opening mouth's interior then takes the teeth the contour sat on)."""
    up, lo = list(M.LIPS_INNER_UPPER[1:-1]), list(M.LIPS_INNER_LOWER[1:-1])
    gs = np.linalg.norm(src[lo] - src[up], axis=-1).mean()
    gd = np.linalg.norm(dst[:, lo] - dst[:, up], axis=-1).mean(-1)
    width = np.linalg.norm(src[M.LIPS_INNER_UPPER[0]] - src[M.LIPS_INNER_UPPER[-1]])
    opening = np.clip((gd - gs) / max(wide * width, 1e-3), 0.0, 1.0)
    return np.maximum(mouth_closing(src, dst), opening)


def closing_sources(src: np.ndarray, dst: np.ndarray, lips: tuple[np.ndarray, np.ndarray] | None
                    ) -> np.ndarray:
    """The warp's source vertices (B, V, 2) for destination meshes ``dst`` (B, 468+, 2), both in
    region pixels: closing lids' margins lifted (``lid_margins_lifted``) and, given a
    ``lip_sampling`` ``lips``, the lips of a mouth that closes or opens sampled in the photo's lips
    (``sample_lips``)."""
    out = lid_margins_lifted(src, dst)
    if lips is not None:
        out = sample_lips(out, lips, mouth_change(src[0, :M.N_MESH], dst))
    return out


def interior_sources(fixed: np.ndarray, moved: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(B, 468, 2) where the mouth interior's columns start and end in the photo: at the lips'
    real edges (``moved``, ``closing_sources``) for a mouth that opens (its interior takes the
    teeth the contour sat on), at MediaPipe's contour (``fixed``) for one that closes (the lips
    cover it)."""
    opens = mouth_closing(fixed[0, :M.N_MESH], dst) <= 0.0
    return np.where(opens[:, None, None], moved[:, :M.N_MESH], fixed[:, :M.N_MESH])


def warp_sources(fixed: np.ndarray, dst: np.ndarray, lips: tuple[np.ndarray, np.ndarray] | None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The warp's source vertices (B, V, 2) (``closing_sources``) and its mouth interior's
    (B, 468, 2) (``interior_sources``) for the photo's vertices ``fixed`` (B, V, 2) and
    destination meshes ``dst`` (B, 468+, 2), in region pixels."""
    moved = closing_sources(fixed, dst, lips)
    return moved, interior_sources(fixed, moved, dst)
