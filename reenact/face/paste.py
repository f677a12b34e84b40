"""Paste-back: the generator's 128x128 output composed into the full-resolution source photo.

The source face is aligned once (``reenact.face.align``). For every frame G returns a colour image C
and an attention mask A on the 128x128 crop. Both are warped back to the photo with kornia
(``crop_to_frame``) and composed AT FULL RESOLUTION::

    out = src + M * (C_full - src),    M = face_mask * (1 - A_full) * crop_window

so where G keeps the pixel (A = 1) or outside the feathered face mask, the output IS the source's
own full-resolution pixel (bit-identical outside the mask's support); only the moving regions
come from the 128x128 colour head. The face mask is the MediaPipe face-oval polygon with a
Gaussian-profile edge (the normal CDF of the signed distance to the polygon), so there is no
step anywhere; ``crop_window`` fades G's edit out at the crop border so that the square crop
never shows.

Work is restricted to the bounding box of the mask's support (``PasteRegion``): a 1080p photo
costs no more than its face.

Conventions: photos are (H, W, 3) uint8 RGB numpy arrays; tensors are (B, C, h, w) float in [0, 1]
unless said otherwise; G's colour is in [-1, 1], its attention in [0, 1] (1 = keep the input).
Affines follow ``reenact.face.align`` (pixel centres at integer coordinates, kornia align_corners=True).
"""

from __future__ import annotations

from dataclasses import dataclass

import kornia.geometry.transform as KT
import numpy as np
import torch
from kornia.filters import gaussian_blur2d
from scipy.special import ndtr

from reenact.errors import InputError
from reenact.face.align import Alignment, warp_to_crop
from reenact.face.tracking import FACE_OVAL


@dataclass(frozen=True)
class PasteConfig:
    """Options of the paste-back."""

    feather: float = 0.035  # sigma of the mask's Gaussian edge, as a fraction of the face size
    grow: float = 0.02  # moves the mask's 50% line outward (+) or inward (-), fraction of face size
    crop_fade: float = 6.0  # crop pixels over which G's edit fades out at the 128-crop border
    use_attention: bool = True  # False: paste G's composed crop (A*I + (1-A)*C) inside the mask
    antialias: bool = True  # blur the source before downscaling it to the crop (no aliasing)


@dataclass(frozen=True)
class PasteRegion:
    """Where in the photo the paste can change pixels, and the feathered mask there.

    Attributes:
        box: (x0, y0, x1, y1) integer pixel box, x1/y1 exclusive; the mask is 0 outside it.
        mask: (y1 - y0, x1 - x0) float32 in [0, 1]: weight of the face region.
        crop_to_region: (2, 3) float64 affine, crop pixels -> pixels of the region.
    """

    box: tuple[int, int, int, int]
    mask: np.ndarray
    crop_to_region: np.ndarray


def face_size(landmarks: np.ndarray) -> float:
    """sqrt of the face-oval polygon's area, in pixels (a scale for feather widths)."""
    xy = np.asarray(landmarks, np.float64)[list(FACE_OVAL), :2]
    x, y = xy[:, 0], xy[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    return float(np.sqrt(max(area, 1.0)))


def face_region(landmarks: np.ndarray, image_size: tuple[int, int], alignment: Alignment,
                config: PasteConfig = PasteConfig()) -> PasteRegion:
    """Feathered face mask of one face, cut to the bounding box of its support.

    Args:
        landmarks: (478, 2|3) pixel landmarks of the face in the photo.
        image_size: (H, W) of the photo.
        alignment: the face's alignment (its ``crop_to_frame`` is shifted into the region).
        config: feather width and growth.

    Returns:
        The region; its mask is ``Phi((d + grow) / sigma)`` with d the signed distance to the
        face-oval polygon (positive inside) and Phi the normal CDF, set to exactly 0 below 1/1024.
    """
    h, w = image_size
    oval = np.asarray(landmarks, np.float64)[list(FACE_OVAL), :2]
    size = face_size(landmarks)
    sigma = max(config.feather * size, 0.5)
    grow = config.grow * size
    reach = grow + 3.3 * sigma + 2.0  # beyond this distance outside the polygon the mask is 0
    x0 = int(np.clip(np.floor(oval[:, 0].min() - reach), 0, w))
    y0 = int(np.clip(np.floor(oval[:, 1].min() - reach), 0, h))
    x1 = int(np.clip(np.ceil(oval[:, 0].max() + reach) + 1, 0, w))
    y1 = int(np.clip(np.ceil(oval[:, 1].max() + reach) + 1, 0, h))
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise InputError("the face lies outside the photo; use a photo with the whole face visible")
    signed = signed_distance(oval - [x0, y0], (y1 - y0, x1 - x0))  # + inside, sub-pixel
    mask = ndtr((signed + grow) / sigma).astype(np.float32)
    mask[mask < 1.0 / 1024] = 0.0
    shift = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0]])
    crop_to_region = _compose_affine(shift, alignment.crop_to_frame)
    return PasteRegion(box=(x0, y0, x1, y1), mask=mask, crop_to_region=crop_to_region)


def signed_distance(polygon: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Exact signed distance (pixels, + inside) from every pixel centre of an (h, w) grid to a
    closed polygon (N, 2) given in that grid's pixel coordinates -> (h, w) float32."""
    h, w = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    pts = np.stack([xs.ravel(), ys.ravel()], 1)  # (P, 2)
    a = np.asarray(polygon, np.float32)
    b = np.roll(a, -1, axis=0)
    best = np.full(len(pts), np.inf, np.float32)
    inside = np.zeros(len(pts), bool)
    for (ax, ay), (bx, by) in zip(a, b, strict=True):
        dx, dy = bx - ax, by - ay
        px, py = pts[:, 0] - ax, pts[:, 1] - ay
        t = np.clip((px * dx + py * dy) / max(dx * dx + dy * dy, 1e-12), 0.0, 1.0)
        best = np.minimum(best, (px - t * dx) ** 2 + (py - t * dy) ** 2)
        crosses = (ay > pts[:, 1]) != (by > pts[:, 1])  # even-odd rule, ray to +x
        x_cross = ax + (pts[:, 1] - ay) * dx / (dy if dy != 0 else 1e-12)
        inside ^= crosses & (pts[:, 0] < x_cross)
    dist = np.sqrt(best)
    return np.where(inside, dist, -dist).reshape(h, w)


def _compose_affine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The (2, 3) affine ``a o b`` (apply b, then a)."""
    full = np.vstack([a, [0, 0, 1]]) @ np.vstack([b, [0, 0, 1]])
    return full[:2]


def crop_window(size: int, fade: float, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """(1, 1, S, S) weight that is 1 inside and falls smoothly to 0 over ``fade`` px at the border."""
    pos = torch.arange(size, device=device, dtype=dtype)
    edge = torch.minimum(pos, size - 1 - pos)  # distance to the nearest border, (S,)
    ramp = torch.clamp(edge / max(fade, 1e-6), 0.0, 1.0)
    ramp = ramp * ramp * (3.0 - 2.0 * ramp)  # smoothstep
    return (ramp[:, None] * ramp[None, :])[None, None]


def paste_back(source_region: torch.Tensor, mask: torch.Tensor, color: torch.Tensor,
               attention: torch.Tensor, crop_to_region: torch.Tensor, *,
               window: torch.Tensor | None = None, face_crop: torch.Tensor | None = None) -> torch.Tensor:
    """Compose G's output into the source region at full resolution.

    Args:
        source_region: (1, 3, h, w) source pixels of the region, [0, 1].
        mask: (1, 1, h, w) feathered face mask, [0, 1].
        color: (B, 3, S, S) G's colour head, [-1, 1].
        attention: (B, 1, S, S) G's attention, [0, 1], 1 = keep the source pixel.
        crop_to_region: (1|B, 2, 3) affine, crop pixels -> region pixels.
        window: (1, 1, S, S) crop-border fade (``crop_window``); None: no fade.
        face_crop: (1, 3, S, S) G's input in [-1, 1]; when given, the composed crop
            ``A*I + (1-A)*C`` is pasted instead (the attention is not used at full resolution).

    Returns:
        (B, 3, h, w) float in [0, 1].
    """
    b = color.shape[0]
    h, w = source_region.shape[-2:]
    color01 = (color.float() + 1.0) * 0.5
    attention = attention.float()
    if face_crop is not None:  # plain mode: the 128 composite, masked; no full-res attention
        color01 = attention * (face_crop.float() + 1.0) * 0.5 + (1.0 - attention) * color01
        attention = torch.zeros_like(attention)
    edit = 1.0 - attention
    if window is not None:
        edit = edit * window
    m = crop_to_region.to(color01).expand(b, 2, 3)
    warped = KT.warp_affine(torch.cat([color01, edit], 1), m, (h, w), mode="bilinear",
                            padding_mode="zeros", align_corners=True)  # (B, 4, h, w)
    weight = mask * warped[:, 3:4]
    return source_region + weight * (warped[:, :3] - source_region)


class Paster:
    """The source photo with its aligned face, ready to take G's output frame after frame.

    Holds the source's full-resolution pixels, the face crop that G animates and the feathered
    face region; ``to(device)`` moves the tensors. Stateless between calls.
    """

    def __init__(self, source: np.ndarray, landmarks: np.ndarray, alignment: Alignment,
                 config: PasteConfig = PasteConfig()):
        if not isinstance(source, np.ndarray) or source.ndim != 3 or source.shape[2] != 3 \
                or source.dtype != np.uint8:
            shape = getattr(source, "shape", type(source))
            raise InputError(f"source must be an (H, W, 3) uint8 RGB image, got {shape}")
        self.config = config
        self.source = source
        self.alignment = alignment
        self.region = face_region(landmarks, source.shape[:2], alignment, config)
        x0, y0, x1, y1 = self.region.box
        self.device = torch.device("cpu")
        src = torch.from_numpy(np.array(source)).permute(2, 0, 1)[None].float() / 255.0  # writable copy
        self.face_crop = make_face_crop(src, alignment, antialias=config.antialias)  # (1,3,S,S)
        self._source_region = src[:, :, y0:y1, x0:x1].contiguous()
        self._mask = torch.from_numpy(self.region.mask)[None, None]
        self._crop_to_region = torch.from_numpy(self.region.crop_to_region).float()[None]
        self._window = crop_window(alignment.crop_size, config.crop_fade)

    @property
    def crop_size(self) -> int:
        return self.alignment.crop_size

    def to(self, device: str | torch.device) -> Paster:
        self.device = torch.device(device)
        for name in ("face_crop", "_source_region", "_mask", "_crop_to_region", "_window"):
            setattr(self, name, getattr(self, name).to(self.device))
        return self

    def paste_regions(self, color: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) colour and (B, 1, S, S) attention -> (B, h, w, 3) uint8 region tensors."""
        face = None if self.config.use_attention else self.face_crop
        out = paste_back(self._source_region, self._mask, color.to(self.device),
                         attention.to(self.device), self._crop_to_region, window=self._window,
                         face_crop=face)
        return (out.clamp(0.0, 1.0) * 255.0).round_().to(torch.uint8).permute(0, 2, 3, 1)

    def paste(self, color: torch.Tensor, attention: torch.Tensor) -> np.ndarray:
        """G's output for B frames -> (B, H, W, 3) uint8 full-resolution frames (numpy)."""
        region = self.paste_regions(color, attention).cpu().numpy()
        return self.assemble(region)

    def assemble(self, region: np.ndarray) -> np.ndarray:
        """(B, h, w, 3) uint8 regions -> (B, H, W, 3) uint8 frames (the source around them)."""
        x0, y0, x1, y1 = self.region.box
        frames = np.repeat(self.source[None], region.shape[0], axis=0)
        frames[:, y0:y1, x0:x1] = region
        return frames


def make_face_crop(source: torch.Tensor, alignment: Alignment, *, antialias: bool = True) -> torch.Tensor:
    """G's input: the aligned crop of a (1, 3, H, W) [0, 1] photo -> (1, 3, S, S) in [-1, 1].

    With ``antialias`` the photo is first blurred by a Gaussian matched to the downscale factor,
    so that a large face does not alias when it is sampled down to 128 pixels.
    """
    scale = alignment.scale  # crop pixels per photo pixel
    m = torch.from_numpy(alignment.frame_to_crop).float()[None]
    x0, y0, x1, y1 = _crop_footprint(alignment, source.shape[-2:])
    part = source[:, :, y0:y1, x0:x1]
    if antialias and scale < 0.8:
        sigma = 0.45 / scale
        k = 2 * int(np.ceil(3 * sigma)) + 1
        part = gaussian_blur2d(part, (k, k), (sigma, sigma), border_type="reflect")
    m = m.clone()
    m[:, :, 2] += m[:, :, 0] * x0 + m[:, :, 1] * y0  # frame -> part coordinates
    crop = warp_to_crop(part, m, alignment.crop_size)
    return crop * 2.0 - 1.0


def _crop_footprint(alignment: Alignment, image_size) -> tuple[int, int, int, int]:
    """Pixel box of the photo that the crop samples (with a margin), clipped to the photo."""
    h, w = int(image_size[0]), int(image_size[1])
    s = alignment.crop_size
    corners = np.array([[0, 0, 1], [s - 1, 0, 1], [0, s - 1, 1], [s - 1, s - 1, 1]], np.float64)
    pts = corners @ alignment.crop_to_frame.T
    margin = 4.0 / max(alignment.scale, 1e-6)
    x0 = int(np.clip(np.floor(pts[:, 0].min() - margin), 0, w - 1))
    y0 = int(np.clip(np.floor(pts[:, 1].min() - margin), 0, h - 1))
    x1 = int(np.clip(np.ceil(pts[:, 0].max() + margin) + 1, x0 + 1, w))
    y1 = int(np.clip(np.ceil(pts[:, 1].max() + margin) + 1, y0 + 1, h))
    return x0, y0, x1, y1
