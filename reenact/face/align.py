"""Face alignment: the one crop used for training data, inference and paste-back.

A face is aligned by the similarity transform (rotation, uniform scale, translation) that maps
five landmarks (the two eye centres, the nose tip, the two mouth corners) onto a fixed canonical
template, least squares (Umeyama). The template keeps brows, forehead and chin inside the crop.

Conventions:
- ``frame_to_crop`` is the (2, 3) affine mapping FRAME pixel coordinates (x, y) to CROP pixel
  coordinates; ``crop_to_frame`` is its inverse. Pixel centres sit at integer coordinates (OpenCV
  convention; kornia with ``align_corners=True``).
- Crops are float tensors (B, 3, S, S) in [-1, 1]; frames are (B, 3, H, W) in [0, 1] or [-1, 1]
  as the caller chooses (warping does not care).
"""

from __future__ import annotations

from dataclasses import dataclass

import kornia.geometry.transform as KT
import numpy as np
import torch

# 478-mesh indices: eye corners (subject's right eye = image left), nose tip, mouth corners.
_RIGHT_EYE = (33, 133)
_LEFT_EYE = (362, 263)
_NOSE_TIP = 1
_MOUTH_RIGHT, _MOUTH_LEFT = 61, 291

#: Canonical positions in unit crop coordinates (x right, y down), image-left point first.
TEMPLATE_UNIT = np.array(
    [
        [0.360, 0.400],  # subject's right eye centre (image left)
        [0.640, 0.400],  # subject's left eye centre
        [0.500, 0.550],  # nose tip
        [0.385, 0.670],  # right mouth corner (image left)
        [0.615, 0.670],  # left mouth corner
    ],
    np.float64,
)


@dataclass(frozen=True)
class Alignment:
    """Similarity transforms between a frame and the canonical face crop.

    Attributes:
        frame_to_crop: (2, 3) float64 affine, frame pixels -> crop pixels.
        crop_to_frame: (2, 3) float64 affine, crop pixels -> frame pixels.
        crop_size: side of the square crop in pixels.
    """

    frame_to_crop: np.ndarray
    crop_to_frame: np.ndarray
    crop_size: int

    @property
    def scale(self) -> float:
        """Crop pixels per frame pixel."""
        return float(np.hypot(*self.frame_to_crop[0, :2]))


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """(5, 2) alignment points from (478, 2|3) landmarks, in the template's order."""
    lm = np.asarray(landmarks, np.float64)[:, :2]
    return np.stack([
        lm[list(_RIGHT_EYE)].mean(0), lm[list(_LEFT_EYE)].mean(0), lm[_NOSE_TIP],
        lm[_MOUTH_RIGHT], lm[_MOUTH_LEFT],
    ])


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama 1991) mapping src (N, 2) onto dst (N, 2) -> (2, 3)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    fix = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        fix[1, 1] = -1.0
    rot = u @ fix @ vt
    var_s = (s0 ** 2).sum() / len(src)
    scale = (sig * np.diag(fix)).sum() / max(var_s, 1e-12)
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine."""
    full = np.vstack([np.asarray(m, np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def align_face(landmarks: np.ndarray, crop_size: int = 128) -> Alignment:
    """Alignment of a face, given its (478, 2|3) pixel landmarks, to a crop_size x crop_size crop."""
    # Template in pixel centres: unit coordinate u covers [0, S] so pixel centre = u * S - 0.5.
    template = TEMPLATE_UNIT * crop_size - 0.5
    m = similarity_transform(five_points(landmarks), template)
    return Alignment(frame_to_crop=m, crop_to_frame=invert_affine(m), crop_size=crop_size)


def warp_to_crop(frames: torch.Tensor, frame_to_crop: torch.Tensor, crop_size: int, *,
                 padding_mode: str = "reflection") -> torch.Tensor:
    """Cut aligned crops out of frames with kornia.

    Args:
        frames: (B, C, H, W) float.
        frame_to_crop: (B, 2, 3) affines, frame pixels -> crop pixels.
        crop_size: S of the (B, C, S, S) result.
    """
    return KT.warp_affine(frames, frame_to_crop.to(frames), (crop_size, crop_size),
                          mode="bilinear", padding_mode=padding_mode, align_corners=True)
