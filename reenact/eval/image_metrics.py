"""Pixel metrics of a reenacted face: fidelity to a reference, sharpness, colour and speckle.

Every function is pure (numpy in, a number out) and works on the part of an image a mask selects.

Conventions:
- Images are (H, W, 3) RGB, uint8 (levels 0..255) or float in [0, 1]; a pair compared with each
  other has the same shape. L1 and PSNR are in [0, 1] intensity units (PSNR in dB against a
  peak of 1); luminance, chroma and their statistics are in uint8 LEVELS (0..255), so that "2
  levels of chroma" reads as it would in an image editor.
- Masks are (H, W) float or bool; a pixel counts where mask > 0.5. None: every pixel.
- YCbCr is ITU-R BT.601 full range (JPEG's): Y in [0, 255], Cb and Cr centred on 128; a grey
  pixel (R = G = B) has Cb = Cr = 128 exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter, laplace

from reenact.errors import InputError
from reenact.eval.metrics import to_unit_float

#: Gaussian sigma of the SSIM window (Wang et al. 2004) and of the speckle high-pass.
SSIM_SIGMA = 1.5
SPECKLE_SIGMA = 1.5
#: Added to both high-frequency chroma energies of ``speckle_ratio`` (levels^2): keeps the ratio
#: finite for a greyscale source (energy 0), where 1 level of speckle std then reads as ratio 2.
SPECKLE_FLOOR = 1.0
_SSIM_C1, _SSIM_C2 = 0.01 ** 2, 0.03 ** 2
_BT601 = np.array([[0.299, 0.587, 0.114],
                   [-0.168736, -0.331264, 0.5],
                   [0.5, -0.418688, -0.081312]], np.float32)


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = to_unit_float(a), to_unit_float(b)
    if a.shape != b.shape or a.ndim not in (2, 3):
        raise InputError(f"images must have the same (H, W[, 3]) shape; got {a.shape} and {b.shape}")
    return a, b


def _region(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """(H, W) bool of the pixels that count."""
    if mask is None:
        return np.ones(shape[:2], bool)
    mask = np.asarray(mask)
    if mask.shape != shape[:2]:
        raise InputError(f"mask must be {shape[:2]}, got {mask.shape}")
    region = mask > 0.5
    if not region.any():
        raise InputError("the mask selects no pixel")
    return region


def ycbcr(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB (uint8 or float in [0, 1]) -> (H, W, 3) float32 Y, Cb, Cr in levels."""
    rgb = to_unit_float(image) * 255.0
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError(f"expected an (H, W, 3) RGB image, got {rgb.shape}")
    out = rgb @ _BT601.T
    out[..., 1:] += 128.0
    return out


def luminance(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB -> (H, W) float32 BT.601 luma Y in levels [0, 255] (``ycbcr``'s Y)."""
    rgb = to_unit_float(image)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError(f"expected an (H, W, 3) RGB image, got {rgb.shape}")
    return rgb @ (_BT601[0] * 255.0)



# --------------------------------------------------------------------------------------------
# Fidelity to a reference image


def _errors(output: np.ndarray, reference: np.ndarray, mask: np.ndarray | None) -> tuple[float, float]:
    """(mean |difference|, mean squared difference) over the masked pixels, [0, 1] units."""
    if mask is None and output.dtype == reference.dtype == np.uint8 and output.shape == reference.shape:
        diff = output.astype(np.int16) - reference  # exact and ~3x faster than floats on full frames
        return float(np.abs(diff).mean()) / 255.0, float(np.square(diff, dtype=np.int32).mean()) / 255.0 ** 2
    return _float_errors(*_pair(output, reference), mask)


def _float_errors(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None) -> tuple[float, float]:
    diff = (a - b)[_region(mask, a.shape)] if mask is not None else a - b
    return float(np.abs(diff).mean()), float((diff * diff).mean())


def _psnr(mse: float) -> float:
    return float("inf") if mse == 0.0 else float(10.0 * np.log10(1.0 / mse))


def l1_distance(output: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean |output - reference| over the masked pixels and channels, in [0, 1] (0 = identical)."""
    return _errors(output, reference, mask)[0]


def psnr(output: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB (peak 1), 10 log10(1 / MSE) over the masked pixels;
    +inf for identical images."""
    return _psnr(_errors(output, reference, mask)[1])


def l1_psnr_ssim(output: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None,
                 ) -> tuple[float, float, float]:
    """(``l1_distance``, ``psnr``, ``ssim``) of two images (over ``mask``), converted once."""
    if mask is None and output.dtype == reference.dtype == np.uint8:
        l1, mse = _errors(output, reference, mask)
        return l1, _psnr(mse), ssim(output, reference, mask)
    a, b = _pair(output, reference)
    l1, mse = _float_errors(a, b, mask)
    return l1, _psnr(mse), _ssim(a, b, mask, SSIM_SIGMA)


def _erode(region: np.ndarray, radius: int) -> np.ndarray:
    """scipy's ``binary_erosion(region, iterations=radius, border_value=1)`` (the cross, ``radius``
    times: a diamond of that radius; outside the image counts as inside) with OpenCV."""
    r = np.arange(-radius, radius + 1)
    diamond = (np.abs(r)[:, None] + np.abs(r)[None, :] <= radius).astype(np.uint8)
    return cv2.erode(region.astype(np.uint8), diamond, borderType=cv2.BORDER_CONSTANT, borderValue=1) > 0


def ssim(output: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None, *,
         sigma: float = SSIM_SIGMA) -> float:
    """Structural similarity (Wang et al. 2004) of the luminance, in [-1, 1] (1 = identical).

    Gaussian window of ``sigma`` (11 x 11 at 1.5), constants K1 = 0.01, K2 = 0.03 on a [0, 1]
    range, population covariances; the mean of the SSIM map leaves out a border of the window's
    radius (as scikit-image's ``structural_similarity(gaussian_weights=True)`` does) and, with a
    mask, every pixel within that radius of a pixel outside it.
    """
    return _ssim(*_pair(output, reference), mask, sigma)


def _ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None, sigma: float) -> float:
    x = a @ _BT601[0] if a.ndim == 3 else a  # luma in [0, 1]
    y = b @ _BT601[0] if b.ndim == 3 else b

    radius = int(3.5 * sigma + 0.5)
    if min(x.shape) <= 2 * radius:
        raise InputError(f"images of {x.shape} are too small for SSIM (need > {2 * radius} px)")

    def blur(z: np.ndarray) -> np.ndarray:  # scipy gaussian_filter(truncate=3.5, mode="reflect")
        return cv2.GaussianBlur(z, (2 * radius + 1, 2 * radius + 1), sigma, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    num = (2 * mx * my + _SSIM_C1) * (2 * cxy + _SSIM_C2)
    den = (mx * mx + my * my + _SSIM_C1) * (vx + vy + _SSIM_C2)
    smap = num / den
    keep = np.zeros(smap.shape, bool)
    keep[radius:-radius, radius:-radius] = True
    if mask is not None:
        keep &= _erode(_region(mask, smap.shape), radius)
    if not keep.any():
        raise InputError("the mask leaves no pixel for SSIM (it is narrower than the window)")
    return float(smap[keep].mean())


# --------------------------------------------------------------------------------------------
# Sharpness, colour, speckle of an edited face vs its source


def laplacian_variance(image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Variance of the 5-point Laplacian of the luminance (levels^2) over the masked pixels.

    A standard focus measure: blur lowers it, fine detail (and noise) raises it.
    """
    y = luminance(image)
    return float(laplace(y, mode="reflect")[_region(mask, y.shape)].var())


def sharpness_ratio(output: np.ndarray, source: np.ndarray, mask: np.ndarray | None = None) -> float:
    """``laplacian_variance`` of the output / that of the source: 1 = as sharp, < 1 = blurred.

    A blur with frequency response H(w) scales a pattern of frequency w by |H(w)|, so its
    Laplacian variance by |H(w)|^2 (a 3-tap [1, 2, 1] / 4 blur of a grating: ((1 + cos w) / 2)^2).
    """
    _pair(output, source)
    ref = laplacian_variance(source, mask)
    if ref <= 0:
        raise InputError("the source has no detail (Laplacian variance 0) to compare sharpness with")
    return laplacian_variance(output, mask) / ref


def chroma_deviation(output: np.ndarray, source: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean |Cb - Cb_src| + |Cr - Cr_src| over the masked pixels, in levels (0 = same colour)."""
    a, b = _pair(output, source)
    diff = np.abs(ycbcr(a)[..., 1:] - ycbcr(b)[..., 1:]).sum(-1)
    return float(diff[_region(mask, a.shape)].mean())


def max_chroma(image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Largest chroma magnitude sqrt((Cb - 128)^2 + (Cr - 128)^2) over the masked pixels, in
    levels: 0 for a greyscale image (up to uint8 rounding, < 1)."""
    c = ycbcr(image)[..., 1:] - 128.0
    return float(np.hypot(c[..., 0], c[..., 1])[_region(mask, c.shape)].max())


def is_greyscale(image: np.ndarray, *, tolerance: float = 2.0) -> bool:
    """Whether no pixel's chroma exceeds ``tolerance`` levels (a black-and-white photo)."""
    return max_chroma(image) <= tolerance


def hf_chroma_energy(image: np.ndarray, mask: np.ndarray | None = None, *,
                     sigma: float = SPECKLE_SIGMA) -> float:
    """Mean squared high-pass of Cb and Cr (the chroma minus its Gaussian blur of ``sigma``)
    over the masked pixels, in levels^2: colour speckle and chroma checkerboards raise it."""
    c = ycbcr(image)[..., 1:]
    high = c - gaussian_filter(c, (sigma, sigma, 0), mode="reflect")
    return float((high ** 2).sum(-1)[_region(mask, c.shape)].mean() / 2.0)


def speckle_ratio(output: np.ndarray, source: np.ndarray, mask: np.ndarray | None = None, *,
                  floor: float = SPECKLE_FLOOR) -> float:
    """(hf_chroma_energy(output) + floor) / (hf_chroma_energy(source) + floor): 1 = no added
    colour speckle; on a greyscale source (energy 0) a speckle of energy 9 levels^2 reads 10."""
    _pair(output, source)
    return (hf_chroma_energy(output, mask) + floor) / (hf_chroma_energy(source, mask) + floor)


@dataclass(frozen=True)
class FaceQuality:
    """Sharpness and colour of an edited face vs its source (same masked region).

    Attributes:
        sharpness: ``sharpness_ratio`` (1 = as sharp as the source, < 1 blurred).
        chroma_deviation: ``chroma_deviation`` in levels (0 = same colours).
        max_chroma: ``max_chroma`` of the output face in levels (meaningful for grey sources).
        speckle: ``speckle_ratio`` (1 = no added high-frequency colour).
        greyscale_source: the source face is greyscale (its ``max_chroma`` <= 2 levels).
    """

    sharpness: float
    chroma_deviation: float
    max_chroma: float
    speckle: float
    greyscale_source: bool


class FaceQualityMeter:
    """``FaceQuality`` of many outputs against one source: the source's side is computed once,
    and only the mask's bounding box (plus the filters' reach) is processed.

    Args:
        source: (H, W, 3) the source face (uint8 or float in [0, 1]).
        mask: (H, W) the face region (> 0.5 counts).
    """

    def __init__(self, source: np.ndarray, mask: np.ndarray):
        region = _region(mask, np.shape(source))
        ys, xs = np.nonzero(region)
        reach = int(3.5 * SPECKLE_SIGMA + 0.5) + 2
        h, w = region.shape
        self._cut = (slice(max(ys.min() - reach, 0), min(ys.max() + reach + 1, h)),
                     slice(max(xs.min() - reach, 0), min(xs.max() + reach + 1, w)))
        self.shape = np.shape(source)
        self.region = region[self._cut]
        self.source = ycbcr(np.asarray(source)[self._cut])
        self._lap = float(laplace(self.source[..., 0], mode="reflect")[self.region].var())
        if self._lap <= 0:
            raise InputError("the source has no detail (Laplacian variance 0) to compare sharpness with")
        self._hf = self._hf_energy(self.source)
        self.source_max_chroma = self._max_chroma(self.source)

    def _hf_energy(self, ycc: np.ndarray) -> float:
        c = ycc[..., 1:]
        high = c - gaussian_filter(c, (SPECKLE_SIGMA, SPECKLE_SIGMA, 0), mode="reflect")
        return float((high ** 2).sum(-1)[self.region].mean() / 2.0)

    def _max_chroma(self, ycc: np.ndarray) -> float:
        c = ycc[..., 1:] - 128.0
        return float(np.hypot(c[..., 0], c[..., 1])[self.region].max())

    def __call__(self, output: np.ndarray) -> FaceQuality:
        """The ``FaceQuality`` of one output (H, W, 3), same shape as the source."""
        if np.shape(output) != self.shape:
            raise InputError(f"output must be {self.shape}, got {np.shape(output)}")
        out = ycbcr(np.asarray(output)[self._cut])
        lap = float(laplace(out[..., 0], mode="reflect")[self.region].var())
        chroma = float(np.abs(out[..., 1:] - self.source[..., 1:]).sum(-1)[self.region].mean())
        return FaceQuality(sharpness=lap / self._lap, chroma_deviation=chroma,
                           max_chroma=self._max_chroma(out),
                           speckle=(self._hf_energy(out) + SPECKLE_FLOOR) / (self._hf + SPECKLE_FLOOR),
                           greyscale_source=self.source_max_chroma <= 2.0)


def face_quality(output: np.ndarray, source: np.ndarray, mask: np.ndarray | None = None) -> FaceQuality:
    """All of ``FaceQuality`` for one output face and its source face, (H, W, 3) each; the same
    numbers as ``sharpness_ratio``, ``chroma_deviation``, ``max_chroma`` and ``speckle_ratio``."""
    _pair(output, source)
    return FaceQualityMeter(source, mask if mask is not None else np.ones(np.shape(source)[:2]))(output)
