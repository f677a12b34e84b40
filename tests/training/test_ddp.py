"""Data-parallel training with 2 gloo processes on CPU: ranks see different batches, weights agree."""

from __future__ import annotations

import os
import socket

import torch
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    import numpy as np

    from reenact.model.generator import GeneratorConfig
    from reenact.training import ddp
    from reenact.training.critic import CriticConfig
    from reenact.training.data import FaceShards
    from reenact.training.loop import TrainConfig, build_trainer

    info = ddp.init_from_env(cpu=True)
    config = TrainConfig(generator=GeneratorConfig(image_size=32, channels=8, n_res=1),
                         critic=CriticConfig(image_size=32, channels=8, n_layers=4, max_channels=32),
                         batch_size=4, critic_steps=2, precision="fp32")
    rng = np.random.default_rng(0)
    faces = FaceShards(rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8),
                       rng.random((16, 20), dtype=np.float32))
    trainer = build_trainer(config, faces, rank=info.rank, all_reduce=ddp.average_gradients)
    ddp.broadcast_parameters(trainer.generator)
    ddp.broadcast_parameters(trainer.critic)
    g0 = torch.cat([p.detach().flatten() for p in trainer.generator.parameters()])
    first = trainer.sampler.sample(2).real  # what this rank draws
    for _ in range(4):
        trainer.train_step()
    torch.save({"g0": g0, "first": first,
                "g": torch.cat([p.detach().flatten() for p in trainer.generator.parameters()]),
                "d": torch.cat([p.detach().flatten() for p in trainer.critic.parameters()]),
                "stop": ddp.agree(rank == 0)}, os.path.join(out_dir, f"rank{rank}.pt"))
    ddp.cleanup()


def test_two_gloo_processes_train_in_step(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert not torch.equal(r0["first"], r1["first"])  # each rank draws its own faces
    assert torch.equal(r0["g0"], r1["g0"])
    assert not torch.equal(r0["g"], r0["g0"])  # trained
    assert torch.allclose(r0["g"], r1["g"], atol=1e-6) and torch.allclose(r0["d"], r1["d"], atol=1e-6)
    assert r0["stop"] and r1["stop"]  # rank 0's decision reaches rank 1
