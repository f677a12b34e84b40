"""Face alignment: the similarity fit, the canonical template, and the crop warp (kornia)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reenact.face.align import (
    TEMPLATE_UNIT,
    align_face,
    five_points,
    invert_affine,
    similarity_transform,
    warp_to_crop,
)


def _similarity(angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    a = np.radians(angle_deg)
    m = np.zeros((2, 3))
    m[:, :2] = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    m[:, 2] = shift
    return m


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def _landmarks_for(points5: np.ndarray) -> np.ndarray:
    """(478, 3) landmarks whose five alignment points are ``points5`` (eye corners both at the
    eye centre), the rest at the mean of the five."""
    lm = np.tile(np.r_[points5.mean(0), 0.0], (478, 1))
    for idx, p in zip(((33, 133), (362, 263), (1,), (61,), (291,)), points5, strict=True):
        lm[list(idx), :2] = p
    return lm.astype(np.float32)


def test_five_points_are_in_the_template_order():
    pts = np.array([[10.0, 20.0], [50.0, 20.0], [30.0, 35.0], [15.0, 50.0], [45.0, 50.0]])
    np.testing.assert_allclose(five_points(_landmarks_for(pts)), pts, atol=1e-5)


@pytest.mark.parametrize("angle, scale, shift", [(0.0, 1.0, (0.0, 0.0)), (17.0, 2.5, (-40.0, 12.0)),
                                                 (-80.0, 0.3, (5.0, 300.0))])
def test_similarity_transform_recovers_a_known_similarity(angle, scale, shift):
    src = np.random.default_rng(0).normal(size=(12, 2)) * 50
    truth = _similarity(angle, scale, shift)
    np.testing.assert_allclose(similarity_transform(src, _apply(truth, src)), truth, atol=1e-9)


def test_similarity_transform_never_reflects():
    src = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    m = similarity_transform(src, src * [-1.0, 1.0])  # a mirror image: best rotation, not a flip
    assert np.linalg.det(m[:, :2]) > 0


def test_invert_affine_round_trip():
    m = _similarity(33.0, 1.7, (4.0, -9.0))
    pts = np.random.default_rng(1).normal(size=(5, 2))
    np.testing.assert_allclose(_apply(invert_affine(m), _apply(m, pts)), pts, atol=1e-12)


@pytest.mark.parametrize("crop_size", [64, 128, 256])
def test_align_face_maps_the_five_points_onto_the_template(crop_size):
    template = TEMPLATE_UNIT * crop_size - 0.5
    photo_points = _apply(_similarity(-12.0, 3.1, (210.0, 95.0)), template)  # a face in a big photo
    alignment = align_face(_landmarks_for(photo_points), crop_size)
    assert alignment.crop_size == crop_size
    np.testing.assert_allclose(_apply(alignment.frame_to_crop, photo_points), template, atol=1e-6)
    np.testing.assert_allclose(_apply(alignment.crop_to_frame, template), photo_points, atol=1e-6)
    assert alignment.scale == pytest.approx(1 / 3.1)


def test_align_face_on_a_real_face_keeps_it_inside_the_crop(astronaut_face):
    alignment = align_face(astronaut_face.landmarks, 128)
    crop_xy = _apply(alignment.frame_to_crop, astronaut_face.landmarks[:, :2].astype(np.float64))
    assert crop_xy.min() > -2 and crop_xy.max() < 130  # brows, chin and cheeks in the crop


def test_warp_to_crop_samples_where_the_affine_says():
    h, w = 60, 80
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    frame = torch.from_numpy(np.stack([xs, ys, xs + ys]))[None]  # (1, 3, H, W): each pixel its coordinates
    inv = _similarity(10.0, 2.0, (20.0, 10.0))  # crop -> frame: every crop pixel lands inside the frame
    m = invert_affine(inv)  # frame -> crop
    crop = warp_to_crop(frame, torch.from_numpy(m)[None], 16)
    assert crop.shape == (1, 3, 16, 16) and crop.dtype == frame.dtype
    for cx, cy in [(0, 0), (5, 9), (15, 15)]:
        fx, fy = _apply(inv, np.array([[cx, cy]], np.float64))[0]
        assert crop[0, 0, cy, cx].item() == pytest.approx(fx, abs=1e-3)
        assert crop[0, 1, cy, cx].item() == pytest.approx(fy, abs=1e-3)


def test_warp_to_crop_batches_and_dtypes():
    frames = torch.rand(3, 3, 40, 40, dtype=torch.float64)
    m = torch.from_numpy(np.stack([_similarity(a, 1.0, (0.0, 0.0)) for a in (0.0, 5.0, 10.0)]))
    crops = warp_to_crop(frames, m.float(), 24)  # the affine is cast to the frames' dtype
    assert crops.shape == (3, 3, 24, 24) and crops.dtype == torch.float64
    assert torch.allclose(crops[0], frames[0, :, :24, :24])  # identity: the top-left corner


def test_warp_to_crop_gradcheck():
    frame = torch.rand(1, 1, 6, 6, dtype=torch.float64, requires_grad=True)
    m = torch.from_numpy(_similarity(20.0, 0.8, (0.5, 0.2)))[None]
    assert torch.autograd.gradcheck(lambda f: warp_to_crop(f, m, 4), (frame,))
