"""Training throughput (images/s of critic steps, G every 5th step) for a few generator sizes.

    python benchmarks/bench_training.py [--precision bf16] [--steps 10] [--batch 16] [--threads N]
    python benchmarks/bench_training.py --device cuda --precision bf16 --batch 32   # on a GPU

Random faces and AUs (no data set needed). Prints one table row per configuration.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from reenact.model.generator import GeneratorConfig
from reenact.training.critic import CriticConfig
from reenact.training.data import FaceShards
from reenact.training.loop import TrainConfig, build_trainer

CONFIGS = {
    "paper G 64/6res, D 64..2048": (GeneratorConfig(), CriticConfig()),
    "paper G 64/6res, D 64..512": (GeneratorConfig(), CriticConfig(max_channels=512)),
    "small G 32/4res, D 32..256": (GeneratorConfig(channels=32, n_res=4),
                                   CriticConfig(channels=32, max_channels=256)),
    "small G 32/6res, D 32..512": (GeneratorConfig(channels=32, n_res=6),
                                   CriticConfig(channels=32, max_channels=512)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    parser.add_argument("--steps", type=int, default=10, help="timed critic steps (after 5 warm-up)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--only", default="", help="run only configurations whose name contains this")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    faces = FaceShards(rng.integers(0, 256, (256, 128, 128, 3), dtype=np.uint8),
                       rng.random((256, 20), dtype=np.float32))
    print(f"| configuration | G params | D params | precision | batch | img/s ({args.device}) |")
    print("|---|---|---|---|---|---|")
    for name, (g, d) in CONFIGS.items():
        if args.only not in name:
            continue
        cfg = TrainConfig(generator=g, critic=d, batch_size=args.batch, precision=args.precision)
        trainer = build_trainer(cfg, faces, device=args.device)
        for _ in range(5):
            trainer.train_step()
        if args.device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            trainer.train_step()
        if args.device == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        n_g = sum(p.numel() for p in trainer.generator.parameters()) / 1e6
        n_d = sum(p.numel() for p in trainer.critic.parameters()) / 1e6
        print(f"| {name} | {n_g:.2f} M | {n_d:.2f} M | {args.precision} | {args.batch} | "
              f"{args.steps * args.batch / dt:.1f} |", flush=True)


if __name__ == "__main__":
    main()
