"""Layered eye and mouth interiors for the warp: what a real lid and a real jaw do.

MediaPipe's mesh closes the eyes and the mouth with thin triangles; warping over those would
squeeze the eyeball into a line when a lid closes and stretch the teeth when the mouth opens.
Instead the interiors get extra ("virtual") vertices, recomputed for every frame:

- Eyes: the visible part of the eye is anchored to the LOWER lid. When the upper lid comes down,
  it covers the eye; what stays visible is the source's eye at its own scale, seen up to the
  lid (vertex C_i sits on the moved upper lid but samples the source at the same height above
  the lower lid). Opening wider than the source stretches it (nothing new can be shown).
- Mouth: the upper teeth stay with the upper lip, the lower teeth with the lower lip. The source
  interior is split at its middle: the upper half moves with the upper lip unscaled (band
  between the inner upper lip and vertex A_i), the lower half with the lower lip (between B_i and
  the inner lower lip). When the mouth opens beyond the source, the band between A_i and B_i is
  new: a cavity (``CAVITY``), which samples the source's middle line and is painted over (dark,
  or by the refiner). When it closes, the lips cover the teeth from both sides; when they nearly
  meet, the interior fades out and the gap shows the lips' inner edges.

- Teeth keep their width: when the mouth narrows (a smile let go into an "O"), the interior
  shows the middle of the photo's interior at its own scale (the lips cover the side teeth)
  instead of squeezing every tooth into a fang. The interior bands therefore have their own
  copies of the inner lip vertices (same destination, their own source positions).

Vertex layout of a warp: 468 mesh points, then the outer ring, then the virtual points
(``N_VIRTUAL``: A_1..A_9, B_1..B_9 of the mouth, C_1..C_7 of the right eye, then the left, then
the interior's copies of the inner lips: the right corner, the 9 upper, the 9 lower, the left
corner).
"""

from __future__ import annotations

import numpy as np

from reenact.model import mesh as M

EYE, MOUTH_UPPER, CAVITY, MOUTH_LOWER = 0, 1, 2, 3
_MOUTH_COLS = len(M.LIPS_INNER_UPPER) - 2  # 9 interior columns
_EYE_COLS = len(M.RIGHT_EYE_UPPER) - 2  # 7
# the interior's own copies of the inner lips: the right corner, the upper lip, the lower one, the left corner
_LIP_COPIES = (M.LIPS_INNER_UPPER[0], *M.LIPS_INNER_UPPER[1:-1], *M.LIPS_INNER_LOWER[1:-1],
               M.LIPS_INNER_UPPER[-1])
_N_LIP_COPIES = len(_LIP_COPIES)
N_VIRTUAL = 2 * _MOUTH_COLS + 2 * _EYE_COLS + _N_LIP_COPIES

#: The colour of a real mouth's dark interior (the oral cavity: not teeth, not a lit tongue)
#: relative to the lips' median colour (``lip_colour``), per channel (R, G, B), at 8 heights from
#: the inner upper lip to the inner lower lip (``mouth_coordinates``' t), and its falloff from the
#: middle towards the corners (s). Medians over 286 open mouths, TFEID photos and MEAD frames:
#: ``python benchmarks/mouth_interiors.py``. Darker under the upper lip, lighter towards the
#: tongue, redder than the lips.
CAVITY_PROFILE = np.array([[0.310, 0.205, 0.148], [0.330, 0.227, 0.192], [0.348, 0.271, 0.249],
                           [0.359, 0.281, 0.268], [0.368, 0.288, 0.291], [0.376, 0.296, 0.291],
                           [0.419, 0.324, 0.321], [0.439, 0.332, 0.328]])
CAVITY_CORNERS = np.array([0.835, 0.969, 0.983, 0.995, 1.005, 0.977, 0.983, 0.878])


def _quads(top: list[int], bottom: list[int]) -> list[tuple[int, int, int]]:
    """Triangles of the band between two runs of vertices (same length), skipping degenerate ones."""
    tris = []
    for i in range(len(top) - 1):
        for t in ((top[i], top[i + 1], bottom[i]), (top[i + 1], bottom[i + 1], bottom[i])):
            if len(set(t)) == 3:
                tris.append(t)
    return tris


def interior_triangles(first_virtual: int) -> tuple[np.ndarray, np.ndarray]:
    """(K, 3) triangles of the layered interiors and their (K,) labels (EYE, MOUTH_UPPER, ...).

    ``first_virtual`` is the index of the first virtual vertex (468 + the ring's points).
    """
    a0, b0 = first_virtual, first_virtual + _MOUTH_COLS
    c0 = first_virtual + 2 * _MOUTH_COLS
    d0 = c0 + 2 * _EYE_COLS  # the interior's copies of the inner lips
    right, left = d0, d0 + _N_LIP_COPIES - 1
    up = [right] + list(range(d0 + 1, d0 + 1 + _MOUTH_COLS)) + [left]
    lo = [right] + list(range(d0 + 1 + _MOUTH_COLS, left)) + [left]
    a = [right] + list(range(a0, a0 + _MOUTH_COLS)) + [left]
    b = [right] + list(range(b0, b0 + _MOUTH_COLS)) + [left]
    tris, labels = [], []
    for band, label in ((_quads(up, a), MOUTH_UPPER), (_quads(a, b), CAVITY), (_quads(b, lo), MOUTH_LOWER)):
        tris += band
        labels += [label] * len(band)
    eyes = ((M.RIGHT_EYE_UPPER, M.RIGHT_EYE_LOWER), (M.LEFT_EYE_UPPER, M.LEFT_EYE_LOWER))
    for k, (eu, el) in enumerate(eyes):
        start = c0 + k * _EYE_COLS
        c = [eu[0]] + list(range(start, start + _EYE_COLS)) + [eu[-1]]
        band = _quads(c, list(el))
        tris += band
        labels += [EYE] * len(band)
    return np.array(tris, np.int64), np.array(labels, np.int64)


def _columns(points: np.ndarray, upper, lower) -> tuple[np.ndarray, np.ndarray]:
    return points[..., list(upper[1:-1]), :], points[..., list(lower[1:-1]), :]


def teeth_split(image: np.ndarray, landmarks: np.ndarray, *, lo: float = 0.35, hi: float = 0.92,
                min_gap: float = 2.0, step: float = 10.0, dip_step: float = 60.0) -> np.ndarray:
    """(9,) per mouth column, the share of the photo's mouth interior that belongs to the upper
    teeth (``interior_points``' ``upper``), read from the luma along the column, inner upper lip
    (0) to inner lower lip (1), within [``lo``, ``hi``]:

    - a dark line between two bright rows (at least ``dip_step`` levels darker than the brightest
      on either side): teeth that meet; the split is there;
    - else where the luma steps down most (the mean above minus the mean below, at least
      ``step`` levels): under the upper teeth, over the gap to the lower teeth or the lower lip;
    - else ``hi`` where it stays bright down to the lower lip (at least 0.75 of its brightest,
      brighter than the lips and than the cheeks): upper teeth all the way;
    - else 0.5 (a dark gap; a mouth open under ``min_gap`` pixels).

    A median of three across the columns. ``image`` (h, w, 3), ``landmarks`` (468+, 2+) in its
    pixels."""
    up, dn = _columns(np.asarray(landmarks, np.float64)[:, :2], M.LIPS_INNER_UPPER, M.LIPS_INNER_LOWER)
    t = np.linspace(0.0, 1.0, 17)
    h, w = image.shape[:2]
    luma = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    out = np.full(len(up), 0.5)
    ks = np.flatnonzero((t >= lo) & (t <= hi))
    cheek = np.round(np.asarray(landmarks, np.float64)[[205, 425], :2]).astype(int)
    cheeks = luma[cheek[:, 1].clip(0, h - 1), cheek[:, 0].clip(0, w - 1)].mean()
    for c, (a, b) in enumerate(zip(up, dn, strict=True)):
        if np.linalg.norm(b - a) < min_gap:
            continue
        pts = a + np.concatenate([t, [-0.25, 1.25]])[:, None] * (b - a)  # and a point on each lip
        x = np.clip(np.round(pts[:, 0]).astype(int), 0, w - 1)
        y = np.clip(np.round(pts[:, 1]).astype(int), 0, h - 1)
        profile, lips = luma[y[:-2], x[:-2]], luma[y[-2:], x[-2:]].mean()
        dip = np.array([min(profile[:k].max(), profile[k + 1:].max()) - profile[k] for k in ks])
        drop = np.array([profile[:k].mean() - profile[k:].mean() for k in ks])
        low = profile[t >= lo]
        if dip.max() >= dip_step:  # a dark line between two bright rows: the teeth meet there
            out[c] = t[ks[np.argmax(dip)]]
        elif drop.max() >= step:
            out[c] = t[ks[np.argmax(drop)]]
        elif low.min() >= 0.75 * profile.max() and low.mean() > max(1.1 * lips, cheeks):  # teeth
            out[c] = hi
    padded = np.concatenate([out[:1], out, out[-1:]])
    return np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), 0)


def mouth_narrowing(src: np.ndarray, dst: np.ndarray, *, start: float = 0.9, ramp: float = 0.2,
                    opening: float = 0.5) -> np.ndarray:
    """(B,) the share of the photo's interior, around its middle, that the destination mouth
    shows at its own width: its inner width over the photo's (corner to corner), r, for a mouth
    that narrows and opens (a smile let go into surprise); 1 (the plain warp) otherwise.

    The share goes from 1 to r as r falls from ``start`` to ``start - ramp``, and as the mouth's
    gap grows from the photo's to ``1 + opening`` times it. Speech, which narrows the lips a
    little over teeth that stay put, keeps the plain warp: on the held-out talking clips the
    middle teeth shown wider matched the real frames less well (results.md)."""
    corners = [M.LIPS_INNER_UPPER[0], M.LIPS_INNER_UPPER[-1]]
    ws = np.linalg.norm(src[..., corners[1], :] - src[..., corners[0], :], axis=-1)
    wd = np.linalg.norm(dst[:, corners[1]] - dst[:, corners[0]], axis=-1)
    up, lo = list(M.LIPS_INNER_UPPER[1:-1]), list(M.LIPS_INNER_LOWER[1:-1])
    gs = np.linalg.norm(src[..., lo, :] - src[..., up, :], axis=-1).sum(-1)
    gd = np.linalg.norm(dst[:, lo] - dst[:, up], axis=-1).sum(-1)
    r = np.minimum(wd / np.maximum(ws, 1e-9), 1.0)
    opens = np.clip((gd / np.maximum(gs, 1e-9) - 1.0) / opening, 0.0, 1.0)
    return 1.0 - (1.0 - r) * np.clip((start - r) / ramp, 0.0, 1.0) * opens


def _middle(lines: np.ndarray, axis: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Contours (B, K, 2) resampled over the middle ``share`` (B,) of their span along ``axis``
    (B, 2, 2: the photo's two inner mouth corners): each point moves to where the contour is at
    0.5 + (s - 0.5) x share of its own place s in [0, 1]; unchanged where ``share`` is 1."""
    if (share >= 1.0).all():  # most frames: no mouth narrows, nothing to resample
        return lines
    right, left = axis[:, 0], axis[:, 1]
    ax = left - right
    width2 = np.maximum((ax ** 2).sum(-1), 1e-9)
    place = ((lines - right[:, None]) * ax[:, None]).sum(-1) / width2[:, None]  # (B, K)
    place = np.maximum.accumulate(place, axis=1)
    new = 0.5 + (place - 0.5) * share[:, None]
    out = np.stack([np.stack([np.interp(n, p, line[:, c]) for c in range(2)], -1)
                    for n, p, line in zip(new, place, lines, strict=True)])
    return np.where((share >= 1.0)[:, None, None], lines, out)


def interior_points(src: np.ndarray, dst: np.ndarray, *, upper=0.5, lips: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Source and destination positions of the virtual vertices.

    Args:
        src: (468+, 2) source mesh points (pixels), or (B, 468+, 2) one per destination.
        dst: (B, 468+, 2) destination mesh points.
        upper: the share of the source's mouth interior (from the inner upper lip) that moves
            with the upper lip (the upper teeth); the rest moves with the lower lip. One share,
            or one per column (9,) (``teeth_split``).
        lips: (B, 468+, 2) where the lip vertices sample the photo (default ``src``): the
            interior's copies of the inner lips sample there too, the upper one moved towards
            the middle where the mouth narrows (``mouth_narrowing``).

    Returns:
        (B, N_VIRTUAL, 2) source positions, (B, N_VIRTUAL, 2) destination positions.
    """
    b = dst.shape[0]
    src_b = np.broadcast_to(src, (b,) + src.shape[-2:])  # one source, or one per destination
    lips_b = src_b if lips is None else np.broadcast_to(lips, (b,) + lips.shape[-2:])
    s_up, s_lo = _columns(src_b, M.LIPS_INNER_UPPER, M.LIPS_INNER_LOWER)
    d_up, d_lo = _columns(dst, M.LIPS_INNER_UPPER, M.LIPS_INNER_LOWER)
    hs = np.linalg.norm(s_lo - s_up, axis=-1, keepdims=True)
    hd = np.linalg.norm(d_lo - d_up, axis=-1, keepdims=True)
    # (1 or 9, 1) per column; a column that closes splits at its middle (its teeth go under the lips)
    upper = np.where(hd >= hs, np.asarray(upper, np.float64).reshape(-1, 1), 0.5)
    k_up, k_lo = upper * np.minimum(hs, hd), (1.0 - upper) * np.minimum(hs, hd)
    # lips that (nearly) meet hide the mouth: below a fifth of the photo's widest opening the
    # visible part of the interior fades out, so a closing mouth shows the lips' inner edges,
    # not a jagged line of teeth
    shown = np.clip((hd / np.maximum(hs.max(-2, keepdims=True), 1e-9) - 0.1) / 0.2, 0.0, 1.0)
    shown = np.where(hd >= hs, 1.0, shown)  # only a closing mouth hides (no change: no change)
    into_lip = 0.04 * hs.max(-2, keepdims=True)  # hidden: sample just inside the lips, not their edge
    ks_up, ks_lo = (k * shown - (1.0 - shown) * into_lip for k in (k_up, k_lo))  # pixels in the photo
    fd_up, fd_lo = (k / np.maximum(hd, 1e-9) for k in (k_up, k_lo))
    # the upper teeth keep their width: in a narrower mouth each column's upper band samples the
    # photo's interior nearer its middle, as many pixels down from the upper lip as before
    share = mouth_narrowing(src_b, dst)
    axis = src_b[:, [M.LIPS_INNER_UPPER[0], M.LIPS_INNER_UPPER[-1]]]
    m_up = _middle(src_b[:, list(M.LIPS_INNER_UPPER)], axis, share)[:, 1:-1]
    m_lo = _middle(src_b[:, list(M.LIPS_INNER_LOWER)], axis, share)[:, 1:-1]
    m_h = np.linalg.norm(m_lo - m_up, axis=-1, keepdims=True)
    src_a = m_up + (m_lo - m_up) * np.minimum(ks_up / np.maximum(m_h, 1e-9), 1.0)
    src_b2 = s_lo - (s_lo - s_up) * ks_lo / np.maximum(hs, 1e-9)
    dst_a, dst_b = d_up + (d_lo - d_up) * fd_up, d_lo - (d_lo - d_up) * fd_lo
    src_v, dst_v = [src_a, src_b2], [dst_a, dst_b]
    for upper, lower in ((M.RIGHT_EYE_UPPER, M.RIGHT_EYE_LOWER), (M.LEFT_EYE_UPPER, M.LEFT_EYE_LOWER)):
        s_u, s_l = _columns(src_b, upper, lower)
        d_u, d_l = _columns(dst, upper, lower)
        hs = np.linalg.norm(s_l - s_u, axis=-1, keepdims=True)
        hd = np.linalg.norm(d_l - d_u, axis=-1, keepdims=True)
        seen = np.minimum(hd, hs) / np.maximum(hs, 1e-9)  # fraction of the source eye still visible
        src_v.append(s_l + (s_u - s_l) * seen)  # anchored to the lower lid
        dst_v.append(d_u)
    copies = lips_b[:, list(_LIP_COPIES)].copy()
    copies[:, 1:1 + _MOUTH_COLS] = _middle(lips_b[:, list(M.LIPS_INNER_UPPER)], axis, share)[:, 1:-1]
    return np.concatenate(src_v + [copies], 1), np.concatenate(dst_v + [dst[:, list(_LIP_COPIES)]], 1)


def mouth_coordinates(points: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where points lie in a mouth's opening: (t, s), each (N,) in [0, 1].

    t: height from the inner upper lip (0) to the inner lower lip (1), in the same column;
    s: position from the subject's right mouth corner (0) to the left one (1).

    Args:
        points: (N, 2) pixel positions. landmarks: (468+, 2) the mesh in the same pixels.
    """
    right, left = landmarks[M.LIPS_OUTER_UPPER[0]], landmarks[M.LIPS_OUTER_UPPER[-1]]
    width = max(float(np.linalg.norm(left - right)), 1e-6)
    ax = (left - right) / width
    ay = np.array([-ax[1], ax[0]])
    s = (points - right) @ ax / width
    v = (points - right) @ ay
    rows = []
    for lip in (M.LIPS_INNER_UPPER, M.LIPS_INNER_LOWER):
        lip_s = (landmarks[list(lip)] - right) @ ax / width
        lip_v = (landmarks[list(lip)] - right) @ ay
        order = np.argsort(lip_s)
        rows.append(np.interp(s, lip_s[order], lip_v[order]))
    span = rows[1] - rows[0]
    t = (v - rows[0]) / np.where(np.abs(span) < 1e-6, 1e-6, span)
    return np.clip(t, 0.0, 1.0), np.clip(s, 0.0, 1.0)


def cavity_colour(lip_colour: np.ndarray, t: np.ndarray, s: np.ndarray, *, grey: bool = False) -> np.ndarray:
    """(N, 3) float colour of a mouth's dark interior at (t, s) (``mouth_coordinates``): the lips'
    median colour x ``CAVITY_PROFILE`` (per channel, by height) x ``CAVITY_CORNERS`` (by position
    between the corners). ``grey``: one ratio for all channels (a greyscale photo stays grey)."""
    bins = (np.arange(len(CAVITY_PROFILE)) + 0.5) / len(CAVITY_PROFILE)
    profile = CAVITY_PROFILE.mean(1, keepdims=True).repeat(3, 1) if grey else CAVITY_PROFILE
    ratio = np.stack([np.interp(t, bins, profile[:, c]) for c in range(3)], 1)
    corner_bins = (np.arange(len(CAVITY_CORNERS)) + 0.5) / len(CAVITY_CORNERS)
    ratio *= np.interp(s, corner_bins, CAVITY_CORNERS)[:, None]
    return np.asarray(lip_colour, np.float64).reshape(1, 3) * ratio


def cavity_cover(src: np.ndarray, dst: np.ndarray, box: tuple[int, int, int, int], *, upper=0.5,
                 full: float | None = None) -> np.ndarray:
    """(B, y1 - y0, x1 - x0) float32 in [0, 1]: how much of each pixel of ``box`` the CAVITY band
    covers (its polygon between the A and B vertices; 4 x 4 samples a pixel), for the source mesh
    ``src`` (468+, 2) and destination meshes ``dst`` (B, 468, 2), all in the box's frame of
    pixels. Sharper than the warp's coarse grid, whose cells drew its edge as steps that cut into
    the teeth.

    ``full``: times how deep the cavity is where the pixel lies (its column's height over
    ``full`` x the mouth's inner width, at most 1): a mouth that opens by a pixel or two shows a
    shaded gap between teeth and lip, not a black line that follows every column's jitter."""
    x0, y0, x1, y1 = box
    _, virt = interior_points(src[..., :M.N_MESH, :], dst, upper=upper)
    up = list(M.LIPS_INNER_UPPER)
    out = np.zeros((len(dst), y1 - y0, x1 - x0), np.float32)
    for b in range(len(dst)):
        a, lo = virt[b, :_MOUTH_COLS], virt[b, _MOUTH_COLS:2 * _MOUTH_COLS]
        poly = np.concatenate([dst[b, up[:1]], a, dst[b, up[-1:]], lo[::-1]]) - [x0, y0]
        x, y = poly[:, 0], poly[:, 1]
        if abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) < 1.0:  # under half a pixel:
            continue  # no cavity (a degenerate polygon would still rasterise its outline)
        out[b] = polygon_cover(out.shape[1:], poly)
        if full is not None:
            out[b] *= _depth(dst[b] - [x0, y0], a - [x0, y0], lo - [x0, y0], out.shape[1:], full)
    return out


def _depth(dst: np.ndarray, a: np.ndarray, lo: np.ndarray, shape: tuple[int, int], full: float) -> np.ndarray:
    """(h, w) the cavity's depth ramp (``cavity_cover``'s ``full``) at every pixel, by its place
    between the mouth's corners."""
    right, left = dst[M.LIPS_INNER_UPPER[0]], dst[M.LIPS_INNER_UPPER[-1]]
    width = max(float(np.linalg.norm(left - right)), 1e-6)
    ax = (left - right) / width
    height = np.linalg.norm(lo - a, axis=-1)
    ramp = np.clip(height / max(full * width, 1e-6), 0.0, 1.0)
    cols = ((0.5 * (a + lo) - right) @ ax) / width
    order = np.argsort(cols)
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    place = ((np.stack([xs, ys], -1) - right) @ ax) / width
    return np.interp(place, cols[order], ramp[order]).astype(np.float32)


def polygon_cover(shape: tuple[int, int], poly: np.ndarray, k: int = 4) -> np.ndarray:
    """(h, w) float32 in [0, 1]: how much of each pixel the polygon ``poly`` (N, 2, pixels)
    covers, ``k`` x ``k`` samples a pixel."""
    import cv2

    h, w = shape
    fine = np.zeros((h * k, w * k), np.uint8)  # pixel centres at integers, here and in cv2:
    pts = np.round(((poly + 0.5) * k - 0.5) * 16).astype(np.int32)  # fine pixel j is at (j + 0.5) / k - 0.5
    cv2.fillPoly(fine, [pts], 1, cv2.LINE_8, 4)
    return fine.reshape(h, k, w, k).mean((1, 3))


def cavity_patch(lip_colour: np.ndarray, box: tuple[int, int, int, int], landmarks: np.ndarray, *,
                 grey: bool = False) -> np.ndarray:
    """(y1 - y0, x1 - x0, 3) float32 ``cavity_colour`` at every pixel of ``box`` (x0, y0, x1, y1),
    for a mouth with mesh ``landmarks`` (468+, 2) in the same pixels."""
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[y0:y1, x0:x1]
    pts = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
    colour = cavity_colour(lip_colour, *mouth_coordinates(pts, landmarks), grey=grey)
    return colour.reshape(y1 - y0, x1 - x0, 3).astype(np.float32)


def lip_colour(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(3,) float32 median colour of the outer lip contour's pixels."""
    pts = np.round(landmarks[list(M.LIPS_OUTER_UPPER + M.LIPS_OUTER_LOWER), :2]).astype(int)
    h, w = image.shape[:2]
    pts[:, 0] = pts[:, 0].clip(0, w - 1)
    pts[:, 1] = pts[:, 1].clip(0, h - 1)
    return np.median(image[pts[:, 1], pts[:, 0]].astype(np.float32), 0)
