"""Generator: shapes, ranges, composition and the safetensors round trip (tiny random nets)."""

from __future__ import annotations

import pytest
import torch

from reenact.au.space import COND_DIM
from reenact.errors import WeightsError
from reenact.model.generator import Generator, GeneratorConfig, compose, load_generator, save_generator

TINY = GeneratorConfig(image_size=32, channels=8, n_down=2, n_res=1)


def test_shapes_and_ranges():
    g = Generator(TINY)
    face = torch.rand(3, 3, 32, 32) * 2 - 1
    color, attention = g(face, torch.rand(3, COND_DIM))
    assert color.shape == (3, 3, 32, 32) and attention.shape == (3, 1, 32, 32)
    assert color.abs().max() <= 1 and 0 <= attention.min() and attention.max() <= 1
    out = compose(face, color, attention)
    assert out.shape == face.shape


def test_compose_attention_one_keeps_the_input():
    face, color = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    assert torch.equal(compose(face, color, torch.ones(2, 1, 8, 8)), face)
    assert torch.equal(compose(face, color, torch.zeros(2, 1, 8, 8)), color)


def test_condition_changes_the_output():
    torch.manual_seed(0)
    g = Generator(TINY)
    face = torch.rand(1, 3, 32, 32) * 2 - 1
    a = g(face, torch.zeros(1, COND_DIM))[0]
    b = g(face, torch.ones(1, COND_DIM))[0]
    assert (a - b).abs().mean() > 1e-3


def test_safetensors_round_trip_keeps_config_and_weights(tmp_path):
    torch.manual_seed(0)
    g = Generator(TINY).eval()
    path = tmp_path / "g.safetensors"
    save_generator(g, path, metadata={"step": "7"})
    loaded = load_generator(path)
    assert loaded.config == TINY
    face, cond = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, COND_DIM)
    with torch.no_grad():
        ref, got = g(face, cond), loaded(face, cond)
    for r, o in zip(ref, got, strict=True):
        assert (r - o).abs().max() < 1e-2  # fp16 storage
    for k, v in loaded.state_dict().items():
        assert torch.allclose(v, g.state_dict()[k].half().float())


def test_load_rejects_missing_and_foreign_files(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_generator(tmp_path / "none.safetensors")
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(WeightsError, match="not a reenact generator"):
        load_generator(tmp_path / "other.safetensors")
