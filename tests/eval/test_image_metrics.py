"""reenact.eval.image_metrics on constructed images whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.errors import InputError
from reenact.eval.image_metrics import (
    FaceQualityMeter,
    chroma_deviation,
    face_quality,
    hf_chroma_energy,
    is_greyscale,
    l1_distance,
    l1_psnr_ssim,
    laplacian_variance,
    max_chroma,
    psnr,
    sharpness_ratio,
    speckle_ratio,
    ssim,
    ycbcr,
)


def _grey(values: np.ndarray) -> np.ndarray:
    """(H, W) float in [0, 1] -> (H, W, 3) float, the same value in R, G and B."""
    return np.repeat(values[..., None], 3, axis=2).astype(np.float32)


def _grating(h: int = 64, w: int = 96, period: float = 12.0) -> tuple[np.ndarray, float]:
    omega = 2 * np.pi / period
    x = np.arange(w)
    return _grey(np.tile(0.5 + 0.3 * np.cos(omega * x), (h, 1))), omega


def _photo_like(seed: int = 0, size: int = 64) -> np.ndarray:
    """A smooth colour image with some detail (uint8)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    img = gaussian_filter(rng.random((size, size, 3)), (2, 2, 0)) * 200 + 28
    return np.clip(img, 0, 255).astype(np.uint8)


def _interior(h: int, w: int, border: int = 4) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    mask[border:-border, border:-border] = True
    return mask


def test_identical_images_are_perfect():
    img = _photo_like()
    assert l1_distance(img, img) == 0.0
    assert psnr(img, img) == float("inf")
    assert ssim(img, img) == pytest.approx(1.0, abs=1e-6)
    assert sharpness_ratio(img, img) == pytest.approx(1.0)
    assert chroma_deviation(img, img) == 0.0
    assert speckle_ratio(img, img) == pytest.approx(1.0)
    assert l1_psnr_ssim(img, img)[:2] == (0.0, float("inf"))


def test_shifted_ramp_has_a_known_l1_and_psnr():
    w = 101
    ramp = _grey(np.tile(np.arange(w) / (w - 1), (20, 1)))
    k = 5
    shifted = np.roll(ramp, k, axis=1)
    mask = np.zeros((20, w), bool)
    mask[:, k:] = True  # leave out the columns that wrapped around
    assert l1_distance(shifted, ramp, mask) == pytest.approx(k / (w - 1), rel=1e-5)
    assert psnr(shifted, ramp, mask) == pytest.approx(-20 * np.log10(k / (w - 1)), rel=1e-5)
    offset = np.clip(ramp + 0.1, 0, None)  # PSNR of a constant offset d is -20 log10(d)
    assert psnr(offset, ramp) == pytest.approx(20.0, rel=1e-4)


def test_ssim_matches_scikit_image():
    from skimage.metrics import structural_similarity

    from reenact.eval.image_metrics import luminance

    a, b = _photo_like(0), _photo_like(1)

    def noise(seed: int, amount: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return np.clip(a.astype(int) + rng.integers(-amount, amount + 1, a.shape), 0, 255).astype(np.uint8)

    noisy = noise(2, 20)
    for other in (b, noisy):
        ref = structural_similarity(luminance(a) / 255.0, luminance(other) / 255.0, gaussian_weights=True,
                                    sigma=1.5, use_sample_covariance=False, data_range=1.0)
        assert ssim(a, other) == pytest.approx(ref, abs=1e-4)
    noisier = noise(3, 40)
    assert 1.0 > ssim(a, noisy) > ssim(a, noisier)


def test_blur_lowers_sharpness_by_its_frequency_response():
    from scipy.ndimage import correlate1d, gaussian_filter

    img, omega = _grating()
    mask = _interior(*img.shape[:2])
    binomial = correlate1d(img, [0.25, 0.5, 0.25], axis=1, mode="wrap")  # H(w) = (1 + cos w) / 2
    assert sharpness_ratio(binomial, img, mask) == pytest.approx(((1 + np.cos(omega)) / 2) ** 2, rel=1e-4)
    sigma = 1.5  # a Gaussian: H(w) ~ exp(-sigma^2 w^2 / 2), so the ratio ~ exp(-sigma^2 w^2)
    blurred = gaussian_filter(img, (0, sigma, 0), mode="wrap")
    assert sharpness_ratio(blurred, img, mask) == pytest.approx(np.exp(-(sigma * omega) ** 2), rel=0.02)
    photo = _photo_like()
    assert sharpness_ratio(gaussian_filter(photo, (1, 1, 0)), photo) < 0.8



def test_greyscale_with_injected_colour_is_flagged():
    rng = np.random.default_rng(0)
    grey = np.repeat(rng.integers(40, 200, (48, 48, 1), dtype=np.uint8), 3, axis=2)
    assert max_chroma(grey) < 1.0 and is_greyscale(grey)
    y, cb, cr = np.moveaxis(ycbcr(grey), -1, 0)
    assert np.abs(cb - 128).max() < 1e-3 and np.abs(cr - 128).max() < 1e-3
    tinted = grey.copy()
    tinted[10:20, 10:20, 0] += 20  # a red patch, 100 of 2304 pixels
    assert not is_greyscale(tinted)
    assert max_chroma(tinted) == pytest.approx(20 * np.hypot(0.168736, 0.5), rel=1e-3)
    # +20 in R moves Cb by -0.168736 * 20 and Cr by +0.5 * 20: |dCb| + |dCr| = 13.37 levels there
    assert chroma_deviation(tinted, grey) == pytest.approx(100 / 2304 * 20 * 0.668736, rel=1e-3)
    quality = face_quality(tinted, grey)
    assert quality.greyscale_source and quality.max_chroma > 2.0


def test_speckle_flags_high_frequency_colour_not_a_colour_cast():
    photo = _photo_like()
    rng = np.random.default_rng(3)
    speckled = np.clip(photo.astype(int) + rng.integers(-12, 13, photo.shape), 0, 255).astype(np.uint8)
    cast = np.clip(photo.astype(int) + [10, 0, -10], 0, 255).astype(np.uint8)
    assert speckle_ratio(speckled, photo) > 5.0
    assert speckle_ratio(cast, photo) == pytest.approx(1.0, abs=0.05)
    assert chroma_deviation(cast, photo) > 5.0  # the cast is a colour change, just not speckle
    assert hf_chroma_energy(_grey(np.full((32, 32), 0.5))) == pytest.approx(0.0, abs=1e-6)


def test_face_quality_meter_matches_the_functions():
    from scipy.ndimage import gaussian_filter

    src = _photo_like(4, 80)
    out = gaussian_filter(src, (1, 1, 0))
    mask = np.zeros((80, 80), np.float32)
    mask[20:60, 15:70] = 1.0
    q = FaceQualityMeter(src, mask)(out)
    assert q.sharpness == pytest.approx(sharpness_ratio(out, src, mask), rel=1e-5)
    assert q.chroma_deviation == pytest.approx(chroma_deviation(out, src, mask), rel=1e-5)
    assert q.max_chroma == pytest.approx(max_chroma(out, mask), rel=1e-5)
    assert q.speckle == pytest.approx(speckle_ratio(out, src, mask), rel=1e-4)
    assert laplacian_variance(out, mask) < laplacian_variance(src, mask)


def test_bad_input_is_refused():
    img = _photo_like()
    with pytest.raises(InputError, match="same"):
        l1_distance(img, img[:10])
    with pytest.raises(InputError, match="no pixel"):
        psnr(img, img, np.zeros(img.shape[:2]))
    with pytest.raises(InputError, match="no detail"):
        sharpness_ratio(img, np.full_like(img, 100))
    with pytest.raises(InputError, match="RGB"):
        ycbcr(img[..., 0])


def test_masked_comparison_counts_only_the_mask():
    a = _photo_like(5)
    b = a.copy()
    b[:, :16] = 0  # a band the mask leaves out
    mask = np.zeros(a.shape[:2], bool)
    mask[:, 24:] = True  # 8 px (> SSIM's 5 px radius) clear of the band
    assert l1_psnr_ssim(b, a, mask)[:2] == (0.0, float("inf"))
    assert ssim(b, a, mask) == pytest.approx(1.0, abs=1e-6) and ssim(b, a) < 0.9
    with pytest.raises(InputError, match="narrower"):
        ssim(a, a, np.eye(64, dtype=bool))


def test_combined_metrics_equal_the_single_ones():
    """``l1_psnr_ssim`` (one conversion, OpenCV's erosion of the mask) gives exactly what the
    single functions give, with and without a mask, on uint8 and float images."""
    from scipy.ndimage import binary_erosion

    from reenact.eval.image_metrics import _erode, l1_distance, psnr

    rng = np.random.default_rng(3)
    a = _photo_like(7, 80)
    b = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    mask = np.zeros(a.shape[:2], bool)
    mask[10:, 5:70] = True
    mask[0, :] = True  # touches the border: the outside counts as inside
    for x, y in ((b, a), (b / 255.0, a / 255.0)):
        for m in (None, mask):
            assert l1_psnr_ssim(x, y, m) == (l1_distance(x, y, m), psnr(x, y, m), ssim(x, y, m))
    for radius in (1, 3, 5):
        assert (_erode(mask, radius) == binary_erosion(mask, iterations=radius, border_value=1)).all()
