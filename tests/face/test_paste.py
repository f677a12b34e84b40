"""Paste-back at full resolution: exactness outside the mask, alignment, seams, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reenact.errors import InputError
from reenact.eval.metrics import seam_stats
from reenact.face.align import align_face
from reenact.face.paste import PasteConfig, Paster, crop_window, face_region


@pytest.fixture(scope="module")
def paster(astronaut, astronaut_face):
    return Paster(astronaut, astronaut_face.landmarks, align_face(astronaut_face.landmarks, 128))


def full_mask(paster: Paster) -> np.ndarray:
    h, w = paster.source.shape[:2]
    x0, y0, x1, y1 = paster.region.box
    m = np.zeros((h, w), np.float32)
    m[y0:y1, x0:x1] = paster.region.mask
    return m


def test_mask_covers_the_face_and_nothing_far(paster, astronaut_face):
    m = full_mask(paster)
    assert 0.0 <= m.min() and m.max() <= 1.0
    nose = astronaut_face.landmarks[1, :2].round().astype(int)
    assert m[nose[1], nose[0]] > 0.999
    assert m[10, 10] == 0.0 and m[500, 500] == 0.0
    # the feather is a gradual ramp, not a step: many distinct values on the edge
    edge = m[(m > 0.05) & (m < 0.95)]
    assert edge.size > 500 and np.unique(np.round(edge, 2)).size > 50


def test_keep_everything_gives_the_source_exactly(paster):
    color = torch.rand(3, 3, 128, 128) * 2 - 1
    keep = torch.ones(3, 1, 128, 128)
    frames = paster.paste(color, keep)
    assert frames.shape == (3, *paster.source.shape) and frames.dtype == np.uint8
    assert np.array_equal(frames, np.repeat(paster.source[None], 3, 0))


def test_background_identical_and_face_changes(paster):
    color = torch.rand(2, 3, 128, 128) * 2 - 1
    frames = paster.paste(color, torch.zeros(2, 1, 128, 128))
    m = full_mask(paster)
    outside = m == 0
    assert np.array_equal(frames[:, outside], np.repeat(paster.source[None], 2, 0)[:, outside])
    inside = m > 0.9
    change = np.abs(frames[:, inside].astype(int) - paster.source[inside].astype(int)).mean()
    assert change > 20


def test_crop_round_trip_is_aligned(paster):
    # G returning its own input (C = I, A = 0) must reproduce the face: checks both warps agree
    frames = paster.paste(paster.face_crop, torch.zeros(1, 1, 128, 128))[0]
    m = full_mask(paster)
    diff = np.abs(frames.astype(int) - paster.source.astype(int)).mean(-1)
    assert diff[m > 0.5].mean() < 6.0
    shifted = np.roll(paster.source, 2, axis=1)  # a 2-pixel misalignment is clearly worse
    assert np.abs(shifted.astype(int) - paster.source.astype(int)).mean(-1)[m > 0.5].mean() > 6.0


def test_no_seam_where_a_hard_paste_has_one(paster):
    brighter = (paster.face_crop + 0.3).clamp(-1, 1)
    soft = paster.paste(brighter, torch.zeros(1, 1, 128, 128))[0]
    m = full_mask(paster)
    seam = seam_stats(soft, paster.source, m)
    hard_mask = (m > 0.5).astype(np.float32)[..., None]
    hard = (paster.source * (1 - hard_mask) + soft * hard_mask).round().astype(np.uint8)
    hard_seam = seam_stats(hard, paster.source, m)
    assert seam.boundary_step < 0.5 * hard_seam.boundary_step
    assert seam.gradient_excess < hard_seam.gradient_excess


def test_attention_mode_off_pastes_the_composite(astronaut, astronaut_face):
    p = Paster(astronaut, astronaut_face.landmarks, align_face(astronaut_face.landmarks, 128),
               PasteConfig(use_attention=False))
    keep = p.paste(torch.full((1, 3, 128, 128), -1.0), torch.ones(1, 1, 128, 128))[0]
    # composite = the 128 input: close to the source but resampled, so not bit-identical inside
    m = full_mask(p)
    diff = np.abs(keep.astype(int) - astronaut.astype(int)).mean(-1)
    assert 0 < diff[m > 0.5].mean() < 6.0


def test_bfloat16_inputs(paster):
    color = (torch.rand(2, 3, 128, 128) * 2 - 1).bfloat16()
    att = torch.rand(2, 1, 128, 128).bfloat16()
    regions = paster.paste_regions(color, att)
    x0, y0, x1, y1 = paster.region.box
    assert regions.shape == (2, y1 - y0, x1 - x0, 3) and regions.dtype == torch.uint8


def test_crop_window_fades_to_zero_at_border():
    w = crop_window(128, 6.0)[0, 0]
    assert w[0].abs().max() == 0 and w[:, -1].abs().max() == 0 and w[64, 64] == 1


def test_bad_source_is_rejected(astronaut_face):
    al = align_face(astronaut_face.landmarks, 128)
    with pytest.raises(InputError):
        Paster(np.zeros((512, 512, 3), np.float32), astronaut_face.landmarks, al)


def test_face_outside_photo_is_rejected(astronaut_face):
    lm = astronaut_face.landmarks.copy()
    lm[:, 0] += 5000
    with pytest.raises(InputError):
        face_region(lm, (512, 512), align_face(lm, 128))


def test_large_photo_paste_is_aligned_and_local(astronaut):
    """A 3x upscaled astronaut (1536 px, face ~400 px): the antialiased crop and the paste agree."""
    from PIL import Image

    from reenact.face.tracking import FaceTracker

    big = np.asarray(Image.fromarray(astronaut).resize((1536, 1536), Image.BICUBIC))
    with FaceTracker() as tracker:
        face = tracker.detect(big)
    p = Paster(big, face.landmarks, align_face(face.landmarks, 128))
    assert p.alignment.scale < 0.4  # strong downscale: the antialias path
    x0, y0, x1, y1 = p.region.box
    assert (x1 - x0) * (y1 - y0) < 0.15 * big.shape[0] * big.shape[1]  # only the face box is worked on
    frames = p.paste(p.face_crop, torch.zeros(1, 1, 128, 128))[0]
    m = full_mask(p)
    diff = np.abs(frames.astype(int) - big.astype(int)).mean(-1)
    assert diff[m > 0.5].mean() < 8.0  # 128-px detail only, but in the right place
    assert np.array_equal(frames[m == 0], big[m == 0])
