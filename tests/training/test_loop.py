"""Training pieces on tiny random nets and synthetic faces (no data set, no /work/shared)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from reenact.au.space import COND_DIM, COND_NAMES, flip_cond
from reenact.model.generator import GeneratorConfig
from reenact.training import losses
from reenact.training.critic import Critic, CriticConfig
from reenact.training.data import BatchSampler, DataConfig, FaceShards, rare_au_weights
from reenact.training.loop import TrainConfig, build_trainer

TINY = TrainConfig(generator=GeneratorConfig(image_size=32, channels=8, n_res=1),
                   critic=CriticConfig(image_size=32, channels=8, n_layers=4, max_channels=32),
                   batch_size=4, steps=100, critic_steps=2, precision="fp32")


def synthetic_faces(n: int = 16, size: int = 32, seed: int = 0) -> FaceShards:
    rng = np.random.default_rng(seed)
    return FaceShards(rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
                      rng.random((n, COND_DIM), dtype=np.float32))


def test_critic_shapes():
    d = Critic(CriticConfig(image_size=64, channels=8, n_layers=6, max_channels=32))
    scores, aus = d(torch.rand(2, 3, 64, 64))
    assert scores.shape == (2, 1, 1, 1) and aus.shape == (2, COND_DIM)
    d = Critic(CriticConfig(image_size=32, channels=8, n_layers=3))
    scores, aus = d(torch.rand(2, 3, 32, 32))
    assert scores.shape == (2, 1, 4, 4) and aus.shape == (2, COND_DIM)


def test_losses_finite_and_signs():
    real, fake = torch.tensor([2.0, 3.0]), torch.tensor([-1.0, 0.0])
    assert losses.critic_wgan_loss(real, fake) == pytest.approx(-3.0)
    assert losses.generator_wgan_loss(fake) == pytest.approx(0.5)
    assert losses.au_loss(torch.ones(2, 3), torch.zeros(2, 3)) == pytest.approx(1.0)
    assert losses.cycle_loss(torch.ones(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)) == pytest.approx(1.0)
    flat = torch.full((2, 1, 8, 8), 0.3)
    assert losses.attention_mean_loss(flat) == pytest.approx(0.3)
    assert losses.attention_tv_loss(flat) == 0
    stripes = torch.zeros(1, 1, 4, 4)
    stripes[..., ::2] = 1  # 3 jumps per row, 4 rows
    assert losses.attention_tv_loss(stripes) == pytest.approx(12.0)


def test_gradient_penalty_zero_for_unit_gradient_positive_otherwise():
    real, fake = torch.randn(5, 3, 8, 8), torch.randn(5, 3, 8, 8)
    w = torch.randn(3 * 8 * 8)
    unit = w / w.norm()

    def linear(scale):
        return lambda x: (x.flatten(1) @ (scale * unit))[:, None]

    gen = torch.Generator().manual_seed(0)
    assert losses.gradient_penalty(linear(1.0), real, fake, generator=gen) < 1e-10
    assert losses.gradient_penalty(linear(3.0), real, fake, generator=gen) == pytest.approx(4.0, rel=1e-5)
    assert losses.gradient_penalty(linear(0.0), real, fake, generator=gen) == pytest.approx(1.0)


def test_flip_swaps_image_and_sides():
    faces = synthetic_faces(4)
    faces.cond[:] = 0
    faces.cond[:, COND_NAMES.index("AU45_L")] = 1.0  # left wink everywhere
    sampler = BatchSampler(faces, DataConfig(flip_prob=1.0, one_sided_prob=0.0))
    torch.manual_seed(0)
    state = sampler.state_dict()
    idx = sampler.indices(3)
    sampler.load_state_dict(state)
    batch = sampler.sample(3)
    assert torch.equal(batch.real, faces.images(idx).flip(-1))
    assert torch.all(batch.cond_real[:, COND_NAMES.index("AU45_R")] == 1)
    assert torch.all(batch.cond_real[:, COND_NAMES.index("AU45_L")] == 0)
    assert np.array_equal(flip_cond(flip_cond(faces.cond)), faces.cond)


def test_targets_are_noisy_other_aus_in_range():
    faces = synthetic_faces(32)
    sampler = BatchSampler(faces, DataConfig(one_sided_prob=0.0))
    t = sampler.targets(64)
    assert t.shape == (64, COND_DIM) and t.min() >= 0 and t.max() <= 1
    # every target lies within the noise of some face's (possibly flipped) AUs
    pool = np.concatenate([faces.cond, flip_cond(faces.cond)])
    dist = np.abs(t.numpy()[:, None] - pool[None]).max(-1).min(-1)
    assert dist.max() <= 0.1 + 1e-6


def test_rare_aus_are_weighted_up():
    cond = np.zeros((100, COND_DIM), np.float32)
    cond[:50, COND_NAMES.index("AU12_L")] = cond[:50, COND_NAMES.index("AU12_R")] = 0.9  # common smile
    cond[0, COND_NAMES.index("AU09")] = 0.9  # one nose wrinkle
    w = rare_au_weights(cond, DataConfig())
    assert w[0] > w[1] > w[99] >= 1.0


def test_one_step_changes_the_weights():
    trainer = build_trainer(TINY, synthetic_faces())
    g0 = [p.detach().clone() for p in trainer.generator.parameters()]
    d0 = [p.detach().clone() for p in trainer.critic.parameters()]
    logs = trainer.train_step()  # critic only
    assert all(np.isfinite(v) for v in logs.values())
    assert any(not torch.equal(a, b) for a, b in zip(d0, trainer.critic.parameters(), strict=True))
    assert all(torch.equal(a, b) for a, b in zip(g0, trainer.generator.parameters(), strict=True))
    logs = trainer.train_step()  # critic + generator (critic_steps=2)
    assert "g/cycle" in logs and all(np.isfinite(v) for v in logs.values())
    assert any(not torch.equal(a, b) for a, b in zip(g0, trainer.generator.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(g0, trainer.ema.parameters(), strict=True))


def test_bf16_autocast_step_is_finite():
    cfg = TrainConfig(**{**TINY.__dict__, "precision": "bf16"})
    trainer = build_trainer(cfg, synthetic_faces())
    for _ in range(2):
        logs = trainer.train_step()
    assert all(np.isfinite(v) for v in logs.values())


def test_resume_continues_identically():
    faces = synthetic_faces()
    straight = build_trainer(TINY, faces)
    ref = [straight.train_step() for _ in range(6)]

    first = build_trainer(TINY, faces)
    for _ in range(3):
        first.train_step()
    state = first.checkpoint_state()
    torch.manual_seed(1234)  # disturb global RNG: the checkpoint must restore it
    resumed = build_trainer(TrainConfig.from_dict(state["config"]), faces)
    resumed.load_checkpoint_state(state)
    got = [resumed.train_step() for _ in range(3)]
    for a, b in zip(ref[3:], got, strict=True):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-7), k


def test_config_round_trip_and_unknown_keys():
    cfg = TrainConfig.from_dict(TINY.to_dict())
    assert cfg == TINY
    from reenact.errors import InputError

    with pytest.raises(InputError, match="unknown training options"):
        TrainConfig.from_dict({"batchsize": 3})


def _synthetic_dataset(folder, n=12, size=32):
    from reenact.training.prepare import PrepareConfig, PreparedFace
    from reenact.training.shards import ShardWriter

    folder.mkdir()
    writer = ShardWriter(folder, PrepareConfig(crop_size=size, held_out_fraction=0.25))
    rng = np.random.default_rng(0)
    for i in range(n):
        face = PreparedFace(crop=rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
                            aus=rng.random(23, dtype=np.float32), pose=(0.0, 0.0, 0.0))
        writer.add(face, file=f"{i}.jpg", dataset="synthetic", identity=f"synthetic:{i}", chars=0)
    return writer.finish()


def test_train_cli_resume_and_export(tmp_path):
    import yaml

    from reenact.cli import main
    from reenact.model.generator import load_generator

    manifest = _synthetic_dataset(tmp_path / "ds")
    assert 0 < sum(s["held_out"] for s in manifest["samples"]) < 12
    keep = ("generator", "critic", "batch_size", "critic_steps")
    cfg = {k: v for k, v in TINY.to_dict().items() if k in keep}
    cfg.update(eval_every=4, eval_sources=["astronaut"], checkpoint_every=2, log_every=1)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    assert main(["train", str(tmp_path / "ds"), "-o", str(run), "--config", str(tmp_path / "tiny.yaml"),
                 "--steps", "3"]) == 0
    assert main(["train", str(tmp_path / "ds"), "-o", str(run), "--steps", "3"]) == 2  # exists: no overwrite
    assert main(["train", str(tmp_path / "ds"), "-o", str(run), "--resume", "--steps", "4"]) == 0
    for step in (3, 4):  # where a run stops (3), every eval_every steps (4)
        assert (run / "eval" / f"step-{step:06d}" / "contact_sheet.png").is_file()
    report = json.loads((run / "eval" / "step-000004" / "report.json").read_text())
    assert report["models"]["ema@4"]["summary"]["n_targets"] == 11
    rows = [json.loads(line) for line in (run / "scalars.jsonl").read_text().splitlines()]
    assert len([r for r in rows if "d/loss" in r]) == 4
    assert {"eval/requested_au_mae", "eval/sharpness_median"} <= set(rows[-1])
    out = tmp_path / "g.safetensors"
    assert main(["train", "--export", str(run), "-o", str(out)]) == 0
    g = load_generator(out)
    assert g.config == TINY.generator
