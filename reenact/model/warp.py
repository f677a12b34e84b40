"""Full-resolution piecewise-affine warp of a photo by a moved face mesh.

The open face mesh (``reenact.model.mesh``), layered eye and mouth interiors
(``reenact.model.interior``) and a strip of triangles from the face oval out to a fixed outer
ring cover the face. Moving the vertices (their destination positions) defines a backward map:
every destination pixel inside a destination triangle takes the source pixel at the same
barycentric position in the source triangle. Outside the ring nothing moves, so those pixels are
the photo's own, bit for bit.

The map is rasterised (``rasterize``, pure torch, batched) on a coarse grid of the photo region
(an integer step of pixels), upsampled bilinearly (the map is piecewise linear, so the error is
confined to triangle edges and well under a pixel at the default step) and applied at full
resolution by bicubic sampling of the photo upsampled twice with Lanczos (bilinear, or bicubic on
the photo itself, would blur the face), overshoot clamped.

Conventions: region pixel coordinates have pixel centres at integers, x right, y down; a
"field" is the backward displacement (source position - destination position) in pixels,
(B, 2, gh, gw) on the coarse grid or (B, 2, h, w) at full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.path import Path as PolyPath

from reenact.face.tracking import FACE_OVAL
from reenact.model.interior import interior_triangles


@dataclass(frozen=True)
class WarpConfig:
    """Options of the warp."""

    ring_margin: float = 0.45  # outer ring: the face oval pushed out from its centre by this factor
    grid_step: int | None = None  # coarse field step in pixels; None: region side / 96, >= 1


@dataclass(frozen=True, eq=False)
class WarpGeometry:
    """A source face's warp set-up, computed once per photo.

    Attributes:
        box: (x0, y0, x1, y1) region of the photo the warp may change (x1/y1 exclusive).
        vertices: (468 + R, 2) float32 source positions in region pixels of the mesh points and
            the R ring points (the interiors' virtual points follow them, per frame).
        triangles: (M, 3) int64: the open mesh, the strip to the ring, the layered interiors.
        labels: (M,) int64: -1 for mesh and strip, else the interior band
            (``reenact.model.interior.EYE``, ``MOUTH_UPPER``, ``CAVITY``, ``MOUTH_LOWER``).
        inside: (h, w) bool: region pixels inside the ring (the only ones that can change).
        step: coarse grid step in pixels: grid point (i, j) is the centre of the step x step cell
            of pixels (i, j), at pixel ((j + 0.5) step - 0.5, (i + 0.5) step - 0.5); the grid
            covers the region, (gh, gw) = ceil((h, w) / step).
    """

    box: tuple[int, int, int, int]
    vertices: np.ndarray
    triangles: np.ndarray
    labels: np.ndarray
    inside: np.ndarray
    step: int

    @property
    def size(self) -> tuple[int, int]:
        x0, y0, x1, y1 = self.box
        return y1 - y0, x1 - x0

    @property
    def grid_size(self) -> tuple[int, int]:
        h, w = self.size
        return -(-h // self.step), -(-w // self.step)

    @property
    def offset(self) -> float:
        """Pixel position of grid point 0 (the centre of the first cell)."""
        return (self.step - 1) / 2.0

    @property
    def n_ring(self) -> int:
        return len(self.vertices) - 468


def ring_points(landmarks: np.ndarray, margin: float) -> np.ndarray:
    """(36, 2) fixed outer-ring points: the face oval pushed out from its centre by ``margin``."""
    oval = np.asarray(landmarks, np.float64)[list(FACE_OVAL), :2]
    centre = oval.mean(0)
    return centre + (oval - centre) * (1.0 + margin)


def strip_triangles() -> np.ndarray:
    """(72, 3) triangles between the face oval (mesh indices) and the ring (468 + k)."""
    n = len(FACE_OVAL)
    tris = []
    for k in range(n):
        a, b = FACE_OVAL[k], FACE_OVAL[(k + 1) % n]
        ra, rb = 468 + k, 468 + (k + 1) % n
        tris += [(a, b, ra), (b, rb, ra)]
    return np.array(tris, np.int64)


def build_geometry(landmarks: np.ndarray, image_size: tuple[int, int], mesh_triangles: np.ndarray,
                   config: WarpConfig = WarpConfig()) -> WarpGeometry:
    """The warp set-up of a face.

    Args:
        landmarks: (478, 2|3) source landmarks in photo pixels.
        image_size: (H, W) of the photo.
        mesh_triangles: (N, 3) open-mesh triangles (``FaceMesh.triangles`` without closures).
    """
    h, w = image_size
    ring = ring_points(landmarks, config.ring_margin)
    x0 = int(np.clip(np.floor(ring[:, 0].min()), 0, w - 1))
    y0 = int(np.clip(np.floor(ring[:, 1].min()), 0, h - 1))
    x1 = int(np.clip(np.ceil(ring[:, 0].max()) + 1, x0 + 1, w))
    y1 = int(np.clip(np.ceil(ring[:, 1].max()) + 1, y0 + 1, h))
    offset = np.array([x0, y0], np.float64)
    vertices = np.concatenate([np.asarray(landmarks, np.float64)[:468, :2], ring]) - offset
    rh, rw = y1 - y0, x1 - x0
    ys, xs = np.mgrid[0:rh, 0:rw]
    inside = PolyPath(ring - offset).contains_points(np.stack([xs.ravel(), ys.ravel()], 1)).reshape(rh, rw)
    step = config.grid_step or max(1, round(max(rh, rw) / 96))
    inner, inner_labels = interior_triangles(len(vertices))
    triangles = np.concatenate([mesh_triangles, strip_triangles(), inner])
    labels = np.concatenate([np.full(len(mesh_triangles) + len(FACE_OVAL) * 2, -1), inner_labels])
    return WarpGeometry(box=(x0, y0, x1, y1), vertices=vertices.astype(np.float32), triangles=triangles,
                        labels=labels, inside=inside, step=int(step))


def backward_field(src: torch.Tensor, dst: torch.Tensor, triangles: torch.Tensor, size: tuple[int, int],
                   *, scale: float = 1.0, offset: float = 0.0, origin: tuple[float, float] = (0.0, 0.0)
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Backward displacement on a grid: for each grid point, its source position - its position.

    Each destination triangle maps to its source triangle by one affine map; the grid points in
    each destination triangle's bounding box are tested with that triangle's barycentric
    coordinates, all triangles and frames at once.

    Args:
        src: (V, 2) or (B, V, 2) source vertex positions (pixels).
        dst: (B, V, 2) destination vertex positions (pixels).
        triangles: (M, 3) long.
        size: (gh, gw) of the grid; grid point (i, j) sits at pixel (ox + j * scale + offset,
            oy + i * scale + offset) with (ox, oy) = ``origin``.
        scale: pixels per grid step. offset: pixel position of grid point 0 in its cell.
        origin: pixel position of the grid's corner (a sub-box of the region).

    Returns:
        field: (B, 2, gh, gw) float32, 0 where no triangle covers the point.
        tri: (B, gh * gw) long, the covering destination triangle (-1: none).
    """
    b, m = dst.shape[0], triangles.shape[0]
    gh, gw = size
    corner = torch.tensor(origin, dtype=torch.float32, device=dst.device) + offset
    d = (dst[:, triangles].float() - corner) / scale  # (B, M, 3, 2) grid units
    s = (src if src.dim() == 3 else src[None]).expand(b, -1, -1)[:, triangles].float()  # (B, M, 3, 2) px
    a, e1, e2 = d[:, :, 0], d[:, :, 1] - d[:, :, 0], d[:, :, 2] - d[:, :, 0]
    det = e1[..., 0] * e2[..., 1] - e2[..., 0] * e1[..., 1]  # (B, M)
    ok = det.abs() > 1e-9
    inv_det = torch.where(ok, 1.0 / torch.where(ok, det, torch.ones_like(det)), torch.zeros_like(det))
    # (l1, l2) = inv @ (p - a) with inv = [[e2y, -e2x], [-e1y, e1x]] / det
    s0, s1, s2 = s[:, :, 0], s[:, :, 1] - s[:, :, 0], s[:, :, 2] - s[:, :, 0]  # (B, M, 2)
    # per (frame, triangle): where it starts and its inverse edge matrix (for the inside test of
    # every candidate point), then its source corner and edges (for the points inside only)
    # tables (6, B * M), gathered along their rows: each candidate's values come out contiguous
    test = torch.cat([a, torch.stack([e2[..., 1], -e2[..., 0], -e1[..., 1], e1[..., 0]], -1)
                      * inv_det[..., None]], -1).reshape(b * m, 6).T.contiguous()
    to_src = torch.cat([s0, s1, s2], -1).reshape(b * m, 6).T.contiguous()
    owner, px, py = _candidates(d, ok, (gh, gw))
    c = test.index_select(1, owner)  # (6, K)
    dx, dy = px.float() - c[0], py.float() - c[1]
    l1 = c[2] * dx + c[3] * dy
    l2 = c[4] * dx + c[5] * dy
    keep = ((l1 >= -1e-5) & (l2 >= -1e-5) & (l1 + l2 <= 1.0 + 1e-5)).nonzero().squeeze(1)
    l1, l2, px, py, owner = (t.index_select(0, keep) for t in (l1, l2, px, py, owner))
    c = to_src.index_select(1, owner)  # (6, K'): source corner, edge 1, edge 2
    cell = (owner // m) * (gh * gw) + py * gw + px
    field = torch.zeros((2, b * gh * gw), dtype=torch.float32, device=dst.device)
    field[0, cell] = c[0] + l1 * c[2] + l2 * c[4] - (px.float() * scale + corner[0])
    field[1, cell] = c[1] + l1 * c[3] + l2 * c[5] - (py.float() * scale + corner[1])
    tri = torch.full((b * gh * gw,), -1, dtype=torch.long, device=dst.device)
    tri[cell] = owner % m
    return field.view(2, b, gh, gw).permute(1, 0, 2, 3).contiguous(), tri.view(b, gh * gw)


def _candidates(d: torch.Tensor, ok: torch.Tensor, size: tuple[int, int], *, margin: float = 0.05
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The grid points in each (frame, triangle)'s span on each grid row it crosses: (owner, px,
    py), owner the flattened (frame, triangle) index, for ``d`` (B, M, 3, 2) in grid units and
    ``ok`` (B, M) the non-degenerate triangles. Each row's span is where the row meets the
    triangle's edges, widened by ``margin`` grid units (the inside test decides): 1.02-1.07 x
    the points inside on real meshes, against 2.6-3.0 x for the bounding boxes."""
    gh, gw = size
    bm = d.shape[0] * d.shape[1]
    pts = d.reshape(bm, 3, 2)
    lo, hi = pts.amin(1), pts.amax(1)
    ymin = lo[:, 1].ceil().clamp(0, gh - 1).long()
    bh = (hi[:, 1].floor().clamp(-1, gh - 1).long() - ymin + 1).clamp(min=0) * ok.flatten()
    tri_of_row = torch.repeat_interleave(torch.arange(bm, device=d.device), bh)
    y = (ymin.index_select(0, tri_of_row)
         + torch.arange(tri_of_row.numel(), device=d.device) - (torch.cumsum(bh, 0) - bh)[tri_of_row])
    # where each row meets the three edges (rows outside an edge's height do not count)
    p = pts.index_select(0, tri_of_row)  # (R, 3, 2)
    q = p[:, [1, 2, 0]]
    yf = y.float()[:, None]
    dy = q[..., 1] - p[..., 1]
    t = (yf - p[..., 1]) / torch.where(dy.abs() > 1e-12, dy, torch.ones_like(dy))
    x = p[..., 0] + t.clamp(0.0, 1.0) * (q[..., 0] - p[..., 0])
    low, high = torch.minimum(p[..., 1], q[..., 1]), torch.maximum(p[..., 1], q[..., 1])
    meets = (yf >= low - margin) & (yf <= high + margin)
    flat = meets & (dy.abs() <= 1e-12)  # a horizontal edge on this row: both its ends count
    big = torch.full_like(x, float("inf"))
    x_lo = torch.minimum(torch.where(meets, x, big), torch.where(flat, q[..., 0], big)).amin(1)
    x_hi = torch.maximum(torch.where(meets, x, -big), torch.where(flat, q[..., 0], -big)).amax(1)
    xs = (x_lo - margin).ceil().clamp(0, gw - 1)
    xe = (x_hi + margin).floor().clamp(-1, gw - 1)
    width = (xe - xs + 1).clamp(min=0).long()
    row = torch.repeat_interleave(torch.arange(width.numel(), device=d.device), width)
    local = torch.arange(row.numel(), device=d.device) - (torch.cumsum(width, 0) - width)[row]
    px = xs.long().index_select(0, row) + local
    return tri_of_row.index_select(0, row), px, y.index_select(0, row)


def upsample_field(field: torch.Tensor, step: int, size: tuple[int, int]) -> torch.Tensor:
    """(B, C, gh, gw) values at cell centres (``WarpGeometry``) -> (B, C, h, w) at every pixel
    (bilinear, edges held)."""
    if step == 1:
        return field[..., : size[0], : size[1]]
    gh, gw = field.shape[-2:]
    full = F.interpolate(field, size=(gh * step, gw * step), mode="bilinear", align_corners=False)
    return full[..., : size[0], : size[1]]


def upsample2(image: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 -> (2h - 1, 2w - 1, 3): the image's own pixels at even positions, Lanczos
    between them (``remap``'s source: bicubic sampling of it keeps the detail that bicubic
    sampling of the image itself blurs at sub-pixel offsets; a zero offset stays exact)."""
    import cv2

    h, w = image.shape[:2]
    up = np.float32([[2, 0, 0], [0, 2, 0]])
    return cv2.warpAffine(image, up, (2 * w - 1, 2 * h - 1), flags=cv2.INTER_LANCZOS4,
                          borderMode=cv2.BORDER_REPLICATE)


def remap(image: np.ndarray, coarse: np.ndarray, step: int, inside: np.ndarray,
          fine: list[tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]] = (),
          image2: np.ndarray | None = None) -> np.ndarray:
    """Backward-warp one uint8 image by a coarse field, at full resolution (OpenCV, bicubic on
    the image upsampled twice).

    Args:
        image: (h, w, 3) uint8 source region.
        coarse: (2, gh, gw) float32 field at cell centres (``WarpGeometry``), pixels.
        step: the grid step. inside: (h, w) bool: pixels that may move (the rest stay exact).
        fine: (box (x0, y0, x1, y1), field (2, y1 - y0, x1 - x0), covered (y1 - y0, x1 - x0) bool)
            boxes where the field was computed at every pixel (the lips and lids, where it jumps:
            a coarse field interpolated across a closed mouth would show the teeth behind it).
        image2: ``upsample2(image)`` (computed here when None; pass it to warp one source often).

    Returns:
        (h, w, 3) uint8; uint8 output saturates the cubic's overshoot. Sharpness: bicubic on the
        image itself kept 0.81 of a face's Laplacian variance under sub-pixel offsets, on
        ``upsample2``'s image 0.94 (Lanczos sampling 0.91, at 5x bicubic's cost).
    """
    h, w = inside.shape
    if step == 1:
        fx, fy = coarse[0, :h, :w].copy(), coarse[1, :h, :w].copy()
    else:
        gh, gw = coarse.shape[-2:]
        fx = cv2.resize(coarse[0], (gw * step, gh * step), interpolation=cv2.INTER_LINEAR)[:h, :w]
        fy = cv2.resize(coarse[1], (gw * step, gh * step), interpolation=cv2.INTER_LINEAR)[:h, :w]
    for (x0, y0, x1, y1), field, covered in fine:
        np.copyto(fx[y0:y1, x0:x1], field[0], where=covered)
        np.copyto(fy[y0:y1, x0:x1], field[1], where=covered)
    # map = 2 * (pixel + field) inside, 2 * pixel outside (exactly: the field times 0 or 1, and
    # doubling is exact in float32), in place: a third of the cost of np.where
    xs2, ys2 = _doubled_grid(h, w)
    fx *= inside
    fy *= inside
    map_x, map_y = fx, fy
    map_x *= 2.0
    map_x += xs2
    map_y *= 2.0
    map_y += ys2
    image2 = upsample2(image) if image2 is None else image2
    return cv2.remap(image2, map_x, map_y, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


_GRIDS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _doubled_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(2 * x, 2 * y) float32 pixel coordinates of an (h, w) region (kept for a few sizes)."""
    key = (h, w)
    if key not in _GRIDS:
        if len(_GRIDS) > 8:
            _GRIDS.clear()
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        _GRIDS[key] = (2.0 * xs, 2.0 * ys)
    return _GRIDS[key]


def triangle_areas(points: np.ndarray | torch.Tensor, triangles: np.ndarray | torch.Tensor):
    """Signed areas (..., M) of triangles over (..., V, 2) points (positive = counter-clockwise in
    x-right/y-up, i.e. clockwise on screen)."""
    p = points[..., triangles, :]  # (..., M, 3, 2)
    a = p[..., 1, :] - p[..., 0, :]
    c = p[..., 2, :] - p[..., 0, :]
    return 0.5 * (a[..., 0] * c[..., 1] - a[..., 1] * c[..., 0])


def fine_fields(src_v: np.ndarray, dst_v: np.ndarray, geom: WarpGeometry, *contours, pad: int = 3) -> list:
    """Per frame, the backward field at every pixel of the box around each of the destination's
    ``contours`` (mesh indices: the mouth and the eyes, where the field jumps), ``pad`` pixels
    wider: ``remap``'s ``fine`` argument."""
    h, w = geom.size
    src_t, dst_t = torch.from_numpy(src_v).float(), torch.from_numpy(dst_v).float()
    corners = dst_v[:, geom.triangles]  # (B, M, 3, 2)
    lo, hi = corners.min(2).min(0), corners.max(2).max(0)  # (M, 2) over the batch
    per_frame: list[list] = [[] for _ in range(len(dst_v))]
    for contour in contours:
        own = np.array([pad_box(p, pad, w, h) for p in dst_v[:, list(contour)]])  # (B, 4) each frame's
        x0, y0, x1, y1 = (*own[:, :2].min(0), *own[:, 2:].max(0))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        near = (hi[:, 0] >= x0) & (lo[:, 0] <= x1) & (hi[:, 1] >= y0) & (lo[:, 1] <= y1)
        tris = torch.from_numpy(geom.triangles[near])
        field, tri = backward_field(src_t, dst_t, tris, (y1 - y0, x1 - x0), origin=(float(x0), float(y0)))
        covered = (tri >= 0).view(-1, y1 - y0, x1 - x0).numpy()
        for b, (f, c) in enumerate(zip(field.numpy(), covered, strict=True)):
            # the batch's box is computed at once, each frame keeps its own box of it: a frame
            # comes out the same whatever frames share its batch
            keep = np.zeros_like(c)
            keep[own[b, 1] - y0:own[b, 3] - y0, own[b, 0] - x0:own[b, 2] - x0] = True
            per_frame[b].append(((x0, y0, x1, y1), f, c & keep))
    return per_frame


def pad_box(pts: np.ndarray, pad: int, w: int, h: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) around points (K, 2), ``pad`` pixels wider, inside a (h, w) region."""
    x0, y0 = (max(int(np.floor(v)) - pad, 0) for v in pts.min(0))
    x1, y1 = (int(np.ceil(v)) + pad + 1 for v in pts.max(0))
    return x0, y0, min(x1, w), min(y1, h)
