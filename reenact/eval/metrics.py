"""Quality metrics of a reenactment: AU fidelity, temporal stability, paste seam, attention.

Every function here is pure (numpy in, numbers or a frozen dataclass out) so that the evaluation
harness (``reenact.evaluate``), the benchmarks and the tests measure things the same way.

Conventions:
- AU tables are (N, 23) float in [0, 1] in ``reenact.au.space.TABLE_AU_NAMES`` order; a NaN row means
  "no face measured there" and is left out (and counted) rather than scored.
- Images are (H, W, 3) or (T, H, W, 3); uint8 images are read as value / 255, float images must
  already be in [0, 1]. Image differences are therefore in [0, 1] units (1 = black to white).
- Masks are (H, W) float in [0, 1] (1 = the face / pasted region); a hard region is mask > 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from reenact.au.blendshapes import RELIABLE_AUS
from reenact.au.space import TABLE_AU_NAMES
from reenact.errors import InputError

#: A requested AU counts as "active" (asked to move) from this intensity on.
ACTIVE_THRESHOLD = 0.2
#: Attention below this counts as "near 0" (colour head used), above 1 - this as "near 1" (kept).
ATTENTION_NEAR = 0.05


def to_unit_float(images: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 in [0, 1]; float images are returned as float32 unchanged."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    if not np.issubdtype(images.dtype, np.floating):
        raise InputError(f"expected uint8 or float images, got {images.dtype}")
    return images.astype(np.float32, copy=False)


# --------------------------------------------------------------------------------------------
# AU fidelity


@dataclass(frozen=True)
class AUFidelity:
    """How closely re-measured AUs follow the requested ones.

    Attributes:
        per_au_mae: mean |requested - measured| per AU column, in [0, 1].
        mae: mean over all AUs and rows.
        reliable_mae: the same over the AUs the extractor measures reliably (``RELIABLE_AUS``).
        weak_mae: the same over the other (weak) AUs; NaN when there are none.
        active_mae: mean error over the (row, AU) entries whose request is >= ``ACTIVE_THRESHOLD``
            (the AUs asked to move; zeros dominate the plain MAE); NaN when none is active.
        per_au_corr: Pearson correlation over rows (time, for a video) per AU; NaN where either
            series is constant. Only meaningful for sequences.
        reliable_corr: mean of the finite correlations over the reliable AUs (NaN if none).
        n_rows: rows scored; n_missing: rows left out because the measurement was NaN.
    """

    per_au_mae: dict[str, float]
    mae: float
    reliable_mae: float
    weak_mae: float
    active_mae: float
    per_au_corr: dict[str, float]
    reliable_corr: float
    n_rows: int
    n_missing: int


def _check_tables(requested: np.ndarray, measured: np.ndarray, n_names: int) -> tuple[np.ndarray, np.ndarray]:
    requested = np.asarray(requested, np.float64)
    measured = np.asarray(measured, np.float64)
    if requested.ndim == 1:
        requested, measured = requested[None], measured[None]
    if requested.shape != measured.shape or requested.ndim != 2 or requested.shape[1] != n_names:
        raise InputError(f"AU tables must both be (N, {n_names}); got {requested.shape} and {measured.shape}")
    return requested, measured


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two (N,) series; NaN if N < 3 or either is (nearly) constant."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.size < 3:
        return float("nan")
    a0, b0 = a - a.mean(), b - b.mean()
    den = np.sqrt((a0 ** 2).sum() * (b0 ** 2).sum())
    if den < 1e-9:
        return float("nan")
    return float((a0 * b0).sum() / den)


def _nanmean(values: Sequence[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def au_fidelity(requested: np.ndarray, measured: np.ndarray, *,
                names: Sequence[str] = TABLE_AU_NAMES,
                reliable: Sequence[str] = RELIABLE_AUS) -> AUFidelity:
    """Compare requested AUs with the AUs re-measured on the generated faces.

    Args:
        requested: (N, A) or (A,) AU intensities in [0, 1] asked of the generator.
        measured: same shape, re-measured on its outputs; NaN rows (no face found) are skipped.
        names: the A column names (default ``TABLE_AU_NAMES``).
        reliable: the names the extractor measures reliably; the rest are reported as weak.

    Raises:
        InputError: shapes differ or do not match ``names``.
    """
    requested, measured = _check_tables(requested, measured, len(names))
    ok = np.isfinite(measured).all(axis=1) & np.isfinite(requested).all(axis=1)
    req, mea = requested[ok], measured[ok]
    err = np.abs(req - mea)  # (N', A)
    per_au = {n: float(err[:, j].mean()) if len(err) else float("nan") for j, n in enumerate(names)}
    rel_idx = [j for j, n in enumerate(names) if n in set(reliable)]
    weak_idx = [j for j, n in enumerate(names) if n not in set(reliable)]
    active = req >= ACTIVE_THRESHOLD
    corr = {n: pearson(req[:, j], mea[:, j]) for j, n in enumerate(names)}
    return AUFidelity(
        per_au_mae=per_au,
        mae=float(err.mean()) if err.size else float("nan"),
        reliable_mae=float(err[:, rel_idx].mean()) if err.size and rel_idx else float("nan"),
        weak_mae=float(err[:, weak_idx].mean()) if err.size and weak_idx else float("nan"),
        active_mae=float(err[active].mean()) if active.any() else float("nan"),
        per_au_corr=corr,
        reliable_corr=_nanmean([corr[names[j]] for j in rel_idx]),
        n_rows=int(ok.sum()),
        n_missing=int((~ok).sum()),
    )


# --------------------------------------------------------------------------------------------
# Temporal stability


def frame_changes(frames: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Mean absolute change between consecutive frames, weighted by a spatial mask.

    Args:
        frames: (T, H, W, 3) uint8 or float in [0, 1].
        weights: (H, W) or (T, H, W) in [0, 1] (which pixels count; for (T, H, W) frame t+1's
            weights are used for the change t -> t+1); None: every pixel.

    Returns:
        (T - 1,) float64: sum(w * |f[t+1] - f[t]|) / (3 * sum(w)) per step, in [0, 1]; NaN for a
        step whose weights are all zero.
    """
    frames = to_unit_float(frames)
    if frames.ndim != 4:
        raise InputError(f"frames must be (T, H, W, 3); got {frames.shape}")
    t, h, w = frames.shape[:3]
    if t < 2:
        return np.zeros(0)
    if weights is None:
        weights = np.ones((h, w), np.float32)
    weights = np.asarray(weights, np.float32)
    if weights.shape not in ((h, w), (t, h, w)):
        raise InputError(f"weights must be ({h}, {w}) or ({t}, {h}, {w}); got {weights.shape}")
    out = np.empty(t - 1)
    for i in range(t - 1):  # one step at a time: long clips stay within memory
        wi = weights if weights.ndim == 2 else weights[i + 1]
        total = float(wi.sum())
        diff = np.abs(frames[i + 1] - frames[i]).sum(axis=-1)  # (H, W)
        out[i] = float((diff * wi).sum()) / (3.0 * total) if total > 0 else float("nan")
    return out


def au_changes(aus: np.ndarray) -> np.ndarray:
    """Mean absolute change of the AU vector between consecutive rows: (T, A) -> (T - 1,)."""
    aus = np.asarray(aus, np.float64)
    return np.abs(np.diff(aus, axis=0)).mean(axis=1)


@dataclass(frozen=True)
class TemporalStability:
    """Frame-to-frame change of a generated video.

    Attributes:
        outside_change: mean per-frame |change| outside the face mask (where the mask is exactly
            0, beyond any feather), [0, 1] units; 0 for a still source photo (the background
            must not move). NaN if the mask covers everything.
        inside_change: mean per-frame |change| inside the face mask.
        au_change: mean per-frame |change| of the driving AUs (mean over AU columns).
        flicker: inside_change / au_change: image change per unit of requested AU change.
        still_inside_change: mean inside change over the steps where the driving AUs barely move
            (au change < ``still_threshold``): change nobody asked for. NaN if there are none.
        n_still: number of such steps.
    """

    outside_change: float
    inside_change: float
    au_change: float
    flicker: float
    still_inside_change: float
    n_still: int


def temporal_stability(frames: np.ndarray, face_mask: np.ndarray, driving_aus: np.ndarray, *,
                       still_threshold: float = 0.002) -> TemporalStability:
    """Temporal stability of a generated clip on a still source photo.

    Args:
        frames: (T, H, W, 3) uint8 or float in [0, 1], the generated (pasted) frames.
        face_mask: (H, W) or (T, H, W) in [0, 1], 1 on the face (where change is allowed); the
            inside change is weighted by it, the outside change counts the pixels where it is 0.
        driving_aus: (T, A) the AUs the frames were asked to show, in [0, 1].
        still_threshold: an AU step below this mean |change| counts as "driver still".
    """
    driving_aus = np.asarray(driving_aus, np.float64)
    if len(driving_aus) != len(frames):
        raise InputError(f"{len(frames)} frames but {len(driving_aus)} AU rows")
    face_mask = np.asarray(face_mask, np.float32)
    outside = (face_mask <= 0).astype(np.float32)
    return stability_from_changes(frame_changes(frames, face_mask), frame_changes(frames, outside),
                                  au_changes(driving_aus), still_threshold=still_threshold)


def stability_from_changes(inside: np.ndarray, outside: np.ndarray, au: np.ndarray, *,
                           still_threshold: float = 0.002) -> TemporalStability:
    """``TemporalStability`` from per-step changes already measured (for streamed clips).

    Args:
        inside: (T - 1,) ``frame_changes`` inside the face mask.
        outside: (T - 1,) ``frame_changes`` outside it.
        au: (T - 1,) ``au_changes`` of the driving AUs.
        still_threshold: an AU step below this counts as "driver still".
    """
    inside, outside, au = (np.asarray(x, np.float64) for x in (inside, outside, au))
    if not inside.shape == outside.shape == au.shape:
        raise InputError(f"change series differ in length: {inside.shape}, {outside.shape}, {au.shape}")
    still = au < still_threshold
    inside_mean = _nanmean(inside.tolist()) if inside.size else 0.0
    au_mean = float(au.mean()) if au.size else 0.0
    return TemporalStability(
        outside_change=_nanmean(outside.tolist()) if outside.size else 0.0,
        inside_change=inside_mean,
        au_change=au_mean,
        flicker=inside_mean / au_mean if au_mean > 1e-9 else float("nan"),
        still_inside_change=_nanmean(inside[still].tolist()),
        n_still=int(still.sum()),
    )


# --------------------------------------------------------------------------------------------
# Seam


@dataclass(frozen=True)
class SeamStats:
    """The step a paste-back leaves at the border of the pasted region.

    Attributes:
        boundary_step: mean |output[p] - output[q]| over 4-neighbour pixel pairs (p inside the
            region, q outside), minus the same on the source: the intensity jump the paste adds
            across its border, [0, 1] units (0 = no added edge).
        inner_band_diff: mean |output - source| in the band of ``band`` pixels just inside the
            border. A good feathered paste has this close to ``outer_band_diff``.
        outer_band_diff: the same just outside the border (0 when outside is untouched).
        band_step: inner_band_diff - outer_band_diff.
        gradient_excess: mean gradient magnitude of the output on the border pixels minus that
            of the source there (a hard edge raises it), [0, 1] units per pixel.
        n_border_pairs: number of inside/outside pixel pairs measured.
    """

    boundary_step: float
    inner_band_diff: float
    outer_band_diff: float
    band_step: float
    gradient_excess: float
    n_border_pairs: int


def _gray(image: np.ndarray) -> np.ndarray:
    image = to_unit_float(image)
    return image.mean(axis=-1) if image.ndim == 3 else image


def _gradient_magnitude(gray: np.ndarray) -> np.ndarray:
    """|grad| by forward differences (last row/column repeat), (H, W)."""
    gx = np.zeros_like(gray)
    gy = np.zeros_like(gray)
    gx[:, :-1] = gray[:, 1:] - gray[:, :-1]
    gy[:-1] = gray[1:] - gray[:-1]
    return np.hypot(gx, gy)


def seam_stats(output: np.ndarray, source: np.ndarray, mask: np.ndarray, *, band: int = 3) -> SeamStats:
    """Measure the intensity and gradient step across the border of a pasted region.

    Args:
        output: (H, W, 3) uint8 or float in [0, 1], the image after paste-back.
        source: (H, W, 3) the image before (the source photo).
        mask: (H, W) in [0, 1], the paste mask; its 0.5 level set is the border measured.
        band: width in pixels of the bands just inside and just outside the border.

    Raises:
        InputError: shapes differ, or the mask has no border (all inside or all outside).
    """
    out_g, src_g = _gray(output), _gray(source)
    mask = np.asarray(mask, np.float32)
    if out_g.shape != src_g.shape or mask.shape != out_g.shape:
        raise InputError(f"output, source and mask must have the same (H, W); got "
                         f"{out_g.shape}, {src_g.shape}, {mask.shape}")
    inside = mask > 0.5
    steps_out, steps_src = [], []
    for axis in (0, 1):
        a = np.moveaxis(inside, axis, 0)
        o, s = np.moveaxis(out_g, axis, 0), np.moveaxis(src_g, axis, 0)
        cross = a[1:] != a[:-1]  # pairs (k, k+1) along this axis that straddle the border
        steps_out.append(np.abs(o[1:] - o[:-1])[cross])
        steps_src.append(np.abs(s[1:] - s[:-1])[cross])
    step_out, step_src = np.concatenate(steps_out), np.concatenate(steps_src)
    if step_out.size == 0:
        raise InputError("the mask has no border (it is all inside or all outside); nothing to measure")
    dist_in = ndimage.distance_transform_edt(inside)  # distance to the nearest outside pixel
    dist_out = ndimage.distance_transform_edt(~inside)
    inner, outer = inside & (dist_in <= band), ~inside & (dist_out <= band)
    diff = np.abs(to_unit_float(output) - to_unit_float(source))
    diff = diff.mean(axis=-1) if diff.ndim == 3 else diff
    border = inner & (dist_in <= 1) | outer & (dist_out <= 1)
    grad_excess = _gradient_magnitude(out_g)[border].mean() - _gradient_magnitude(src_g)[border].mean()
    inner_diff, outer_diff = float(diff[inner].mean()), float(diff[outer].mean())
    return SeamStats(
        boundary_step=float(step_out.mean() - step_src.mean()),
        inner_band_diff=inner_diff,
        outer_band_diff=outer_diff,
        band_step=inner_diff - outer_diff,
        gradient_excess=float(grad_excess),
        n_border_pairs=int(step_out.size),
    )


# --------------------------------------------------------------------------------------------
# Attention


@dataclass(frozen=True)
class AttentionStats:
    """Summary of GANimation attention masks A (A = 1 keeps the input pixel).

    Attributes:
        mean: mean of A in [0, 1]. Collapse shows as mean ~1 (G changes nothing) or ~0.
        std: standard deviation of A.
        frac_near_0: fraction of pixels with A < ``ATTENTION_NEAR`` (pixels taken from the colour head).
        frac_near_1: fraction with A > 1 - ``ATTENTION_NEAR`` (pixels kept from the input).
    """

    mean: float
    std: float
    frac_near_0: float
    frac_near_1: float


def attention_stats(attention: np.ndarray, *, near: float = ATTENTION_NEAR) -> AttentionStats:
    """Statistics of attention masks of any shape (e.g. (B, 1, S, S)), values in [0, 1]."""
    a = np.asarray(attention, np.float64)
    if a.size == 0:
        raise InputError("no attention values to summarise")
    if a.min() < -1e-6 or a.max() > 1 + 1e-6:
        raise InputError(f"attention must lie in [0, 1]; got [{a.min():.3g}, {a.max():.3g}]")
    return AttentionStats(mean=float(a.mean()), std=float(a.std()),
                          frac_near_0=float((a < near).mean()), frac_near_1=float((a > 1 - near).mean()))
