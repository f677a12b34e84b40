"""What the refiner sees and where its paint goes: masks of a warp, aligned crops, paste-back.

All masks are built on the warp's coarse grid (``reenact.model.warp``) from its triangle map and
then sampled into the refiner's aligned crop:

- cavity: the mouth interior's CAVITY band (the part opened beyond the photo's own opening);
- eyes: the photo's own eye openings, weighted by how far each eye closed;
- gate: where the refiner may paint at all: the cavity and the closed eyes (slightly grown), and
  the regions of the AUs that rose (``texture_regions``: brows, forehead, nose, cheeks, chin),
  weighted by how much they rose. Zero change gives a zero gate: the photo stays the photo.

Crops are sampled straight from the (anti-aliased) source through the composed map crop pixel ->
photo pixel -> backward field, so no full-resolution warped image has to be cut down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from reenact.au.space import COND_NAMES
from reenact.model import mesh as M
from reenact.model.interior import CAVITY
from reenact.model.warp import WarpGeometry

#: AUs whose rise may show texture (wrinkles, folds) that a warp cannot make.
TEXTURE_AUS = ("AU01", "AU02", "AU04", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14", "AU17")


def texture_regions(regions: dict[str, np.ndarray]) -> np.ndarray:
    """(20, 478) vertex weights per cond value: the rig region of each texture AU, else 0."""
    out = np.zeros((len(COND_NAMES), M.N_LANDMARKS), np.float32)
    for k, name in enumerate(COND_NAMES):
        au = name.split("_")[0]
        if au in TEXTURE_AUS:
            out[k] = regions[au]
    return out


@dataclass(frozen=True, eq=False)
class MaskSet:
    """Masks of a batch on the warp's coarse grid: (B, 3, gh, gw) float32 in [0, 1]
    (cavity, eyes, gate), and the closing fraction of each eye (B, 2)."""

    coarse: torch.Tensor
    closing: np.ndarray


def contour_closing(src: np.ndarray, dst: np.ndarray, upper, lower) -> np.ndarray:
    """(B,) how far the opening between two contours (their inner points, corners left out)
    closed: 1 - destination / source summed gap, for the source mesh ``src`` (468+, 2) and
    destination meshes ``dst`` (B, 468+, 2); 0 where the photo's own is already shut."""
    up, lo = list(upper[1:-1]), list(lower[1:-1])
    gs = np.linalg.norm(src[lo] - src[up], axis=-1).sum()
    gd = np.linalg.norm(dst[:, lo] - dst[:, up], axis=-1).sum(-1)
    if gs < 1e-3:  # already shut in the photo: nothing to close
        return np.zeros(len(gd))
    return np.clip(1.0 - gd / gs, 0.0, 1.0)


def eye_closing(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(B, 2) how far each eye (subject's right, left) closed (``contour_closing`` of its lids)."""
    return np.stack([contour_closing(src, dst, M.RIGHT_EYE_UPPER, M.RIGHT_EYE_LOWER),
                     contour_closing(src, dst, M.LEFT_EYE_UPPER, M.LEFT_EYE_LOWER)], 1)


def build_masks(tri: torch.Tensor, labels: torch.Tensor, grid: tuple[int, int], *, eye_masks: torch.Tensor,
                closing: np.ndarray, texture: torch.Tensor | None, triangles: torch.Tensor,
                n_mesh: int) -> torch.Tensor:
    """(B, 3, gh, gw) cavity, eyes and gate from a warp's triangle map.

    Args:
        tri: (B, gh * gw) destination triangle per grid point (-1: none).
        labels: (M,) long interior labels of the warp's triangles (-1 elsewhere).
        eye_masks: (2, gh, gw) the source's eye openings on the grid.
        closing: (B, 2) per-eye closing fractions.
        texture: (B, V) per-vertex texture weights (rising AUs x their regions), or None.
        triangles: (M, 3) long; n_mesh: how many of them are open-mesh triangles.
    """
    b = tri.shape[0]
    gh, gw = grid
    hit = tri >= 0
    safe = tri.clamp(min=0)
    cavity = (hit & (labels[safe] == CAVITY)).float().view(b, 1, gh, gw)
    w = torch.from_numpy(closing).float().to(tri.device)
    eyes = (w[:, :, None, None] * eye_masks[None]).amax(1, keepdim=True)  # each eye by its own closing
    grown = _grow(torch.cat([cavity, eyes], 1)).amax(1, keepdim=True)
    gate = grown
    if texture is not None:
        per_tri = texture[:, triangles[:n_mesh]].mean(-1)  # (B, n_mesh)
        per_tri = torch.cat([per_tri, torch.zeros(b, len(triangles) - n_mesh, device=tri.device)], 1)
        tex = torch.gather(per_tri, 1, safe) * hit
        gate = torch.maximum(gate, _grow(tex.view(b, 1, gh, gw).clamp(0.0, 1.0)))
    return torch.cat([cavity, eyes, gate], 1)


def grow_mask(mask: torch.Tensor, cells: int) -> torch.Tensor:
    """(B, 1, H, W) mask grown by ``cells // 2`` pixels: its ``cells`` x ``cells`` max, taken as a
    column max then a row max (the same values, 2x faster on a 128 px crop); an empty one as is."""
    if not mask.any():
        return mask
    r = cells // 2
    return F.max_pool2d(F.max_pool2d(mask, (cells, 1), 1, (r, 0)), (1, cells), 1, (0, r))


def _grow(mask: torch.Tensor) -> torch.Tensor:
    """Dilate by one grid cell and soften (a 3x3 max, then a 3x3 box)."""
    grown = F.max_pool2d(mask, 3, 1, 1)
    return F.avg_pool2d(grown, 3, 1, 1)


def crop_grid(crop_to_region: np.ndarray, size: int, device=None) -> torch.Tensor:
    """(1, S, S, 2) region-pixel position of every crop pixel."""
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64),
                            indexing="ij")
    m = torch.from_numpy(crop_to_region)
    px = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    py = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    return torch.stack([px, py], -1)[None].float().to(device)


def _normalised(pos: torch.Tensor, w: float, h: float) -> torch.Tensor:
    return torch.stack([pos[..., 0] * (2.0 / max(w, 1.0)) - 1.0, pos[..., 1] * (2.0 / max(h, 1.0)) - 1.0], -1)


def crop_inputs(blurred: torch.Tensor, coarse_field: torch.Tensor, masks: torch.Tensor, grid: torch.Tensor,
                *, step: int, region_size: tuple[int, int], offset: float = 0.0
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """The refiner's crop and masks.

    Args:
        blurred: (1, 3, h, w) anti-aliased source region, 0..255.
        coarse_field: (B, 2, gh, gw) backward field (region pixels) on the coarse grid.
        masks: (B, 3, gh, gw) from ``build_masks``.
        grid: (1, S, S, 2) from ``crop_grid``.
        step: the coarse grid's step; offset: pixel position of its point 0; region_size: (h, w).

    Returns:
        crop (B, 3, S, S) in [-1, 1]; masks (B, 3, S, S) in [0, 1].
    """
    b = coarse_field.shape[0]
    h, w = region_size
    gh, gw = coarse_field.shape[-2:]
    g = grid.expand(b, -1, -1, -1)
    on_coarse = _normalised((g - offset) / step, gw - 1, gh - 1)
    field = F.grid_sample(coarse_field, on_coarse, mode="bilinear", padding_mode="zeros", align_corners=True)
    src = g + field.permute(0, 2, 3, 1)
    crop = F.grid_sample(blurred.expand(b, -1, -1, -1), _normalised(src, w - 1, h - 1), mode="bilinear",
                         padding_mode="border", align_corners=True)
    crop_masks = F.grid_sample(masks, on_coarse, mode="bilinear", padding_mode="zeros", align_corners=True)
    return crop / 127.5 - 1.0, crop_masks


def paste_refined(warped: np.ndarray, color: torch.Tensor, weight: torch.Tensor,
                  crop_to_region: np.ndarray, boxes: list[tuple[int, int, int, int]],
                  keep: torch.Tensor | None = None) -> np.ndarray:
    """Compose the refiner's paint into the full-resolution warped region (in place, the boxes only).

    Args:
        warped: (B, h, w, 3) uint8. color: (B, 3, S, S) in [-1, 1]. weight: (B, 1, S, S) in [0, 1]
            (gate x (1 - attention)).
        crop_to_region: (2, 3) affine crop pixels -> region pixels.
        boxes: disjoint (x0, y0, x1, y1) sub-boxes of the region that can change (``gate_boxes``;
            empty: nothing changes).
        keep: (B, 1, S, S) in [0, 1], or None (0 everywhere): where it is 1 the paint replaces only
            the warp's detail coarser than a crop pixel (``weight x (color - the warp blurred to
            the crop's resolution)`` is added), so the photo's own finer detail stays under it;
            where it is 0 the upsampled colour replaces the warp's pixels by ``weight``.
    """
    import cv2
    import kornia.geometry.transform as KT

    b = color.shape[0]
    layers = [(color.float() + 1.0) * 127.5, weight.float()] + ([keep.float()] if keep is not None else [])
    paint = torch.cat(layers, 1)
    sigma = 0.5 * float(np.hypot(*crop_to_region[:, 0]))  # half a crop pixel, in region pixels
    for x0, y0, x1, y1 in boxes:
        m = torch.from_numpy(crop_to_region).float().clone()
        m[:, 2] -= torch.tensor([x0, y0], dtype=torch.float32)
        up = KT.warp_affine(paint, m[None].expand(b, 2, 3).to(paint), (y1 - y0, x1 - x0), mode="bilinear",
                            padding_mode="zeros", align_corners=True).permute(0, 2, 3, 1).cpu().numpy()
        part = warped[:, y0:y1, x0:x1].astype(np.float32)
        under = part
        if keep is not None:
            coarse = np.stack([cv2.GaussianBlur(p, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
                               for p in part])
            under = part + up[..., 4:5] * (coarse - part)
        mixed = part + up[..., 3:4] * (up[..., :3] - under)
        warped[:, y0:y1, x0:x1] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return warped


def gate_boxes(gate: torch.Tensor, step: int, size: tuple[int, int], pad: int = 2
               ) -> list[tuple[int, int, int, int]]:
    """Disjoint region-pixel boxes (x0, y0, x1, y1), one around each separate part of the grid
    cells with a gate above 1/255 in any frame (the eyes, the mouth), each as ``gate_box`` would
    draw it around that part alone; boxes that would overlap are merged. Empty: no gate."""
    from scipy import ndimage

    on = (gate > 1.0 / 255).any(0).cpu().numpy()
    if not on.any():
        return []
    labels, _ = ndimage.label(on, structure=np.ones((3, 3), bool))
    boxes = [_cell_box(sl[1].start, sl[0].start, sl[1].stop - 1, sl[0].stop - 1, step, size, pad)
             for sl in ndimage.find_objects(labels)]
    while True:  # merge overlapping boxes until none overlap
        pair = next(((i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
                     if _overlap(boxes[i], boxes[j])), None)
        if pair is None:
            return boxes
        a, c = boxes[pair[0]], boxes.pop(pair[1])
        boxes[pair[0]] = (min(a[0], c[0]), min(a[1], c[1]), max(a[2], c[2]), max(a[3], c[3]))


def _overlap(a: tuple[int, int, int, int], c: tuple[int, int, int, int]) -> bool:
    return a[0] < c[2] and c[0] < a[2] and a[1] < c[3] and c[1] < a[3]


def _cell_box(cx0: int, cy0: int, cx1: int, cy1: int, step: int, size: tuple[int, int], pad: int
              ) -> tuple[int, int, int, int]:
    """Region-pixel box around grid cells cx0..cx1 x cy0..cy1 (inclusive), ``pad`` cells more."""
    h, w = size
    return (max(cx0 - pad, 0) * step, max(cy0 - pad, 0) * step,
            min((cx1 + pad + 1) * step + 1, w), min((cy1 + pad + 1) * step + 1, h))


def gate_box(gate: torch.Tensor, step: int, size: tuple[int, int], pad: int = 2
             ) -> tuple[int, int, int, int] | None:
    """Region-pixel box (x0, y0, x1, y1) around every grid cell with a gate above 1/255, or None."""
    on = (gate > 1.0 / 255).any(0)
    if not on.any():
        return None
    ys, xs = torch.nonzero(on, as_tuple=True)
    return _cell_box(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()), step, size, pad)


def antialiased(region: torch.Tensor, scale: float) -> torch.Tensor:
    """The region blurred to the refiner crop's sampling rate (``scale`` crop px per photo px)."""
    from kornia.filters import gaussian_blur2d

    if scale >= 0.8:
        return region
    sigma = 0.45 / scale
    k = 2 * int(np.ceil(3 * sigma)) + 1
    return gaussian_blur2d(region, (k, k), (sigma, sigma), border_type="reflect")


def eye_masks(landmarks: np.ndarray, geom: WarpGeometry) -> torch.Tensor:
    """(2, gh, gw) float: the source's eye openings (right, left), on the coarse grid."""
    from matplotlib.path import Path as PolyPath

    gh, gw = geom.grid_size
    ys, xs = np.mgrid[0:gh, 0:gw] * geom.step + geom.offset
    pts = np.stack([xs.ravel(), ys.ravel()], 1)
    out = [PolyPath(landmarks[list(eye), :2]).contains_points(pts).reshape(gh, gw)
           for eye in (M.RIGHT_EYE, M.LEFT_EYE)]
    return torch.from_numpy(np.stack(out).astype(np.float32))
