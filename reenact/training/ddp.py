"""Data-parallel training over processes started by torchrun (NCCL on GPUs, gloo on CPU).

Each process draws its own batches (its own sampler seed) and, after every backward, the
gradients of the updated network are averaged over processes with ``all_reduce`` before the
optimiser step. This is DistributedDataParallel's arithmetic done by hand, as StyleGAN2-ADA does:
DDP's reducer does not support the double backward of the WGAN gradient penalty, and the critic
and generator are updated at different rates. Parameters start identical (broadcast from rank 0),
so they stay identical.

    torchrun --nproc_per_node 8 -m reenact train DATASET -o RUN      # one node, 8 GPUs
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the run (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(*, cpu: bool = False) -> DistInfo:
    """Join the process group that torchrun describes in the environment (no-op without torchrun).

    Uses NCCL when CUDA is available and ``cpu`` is False, else gloo.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    backend = "nccl" if torch.cuda.is_available() and not cpu else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    info = DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size(),
                    local_rank=int(os.environ.get("LOCAL_RANK", "0")))
    if backend == "nccl":
        torch.cuda.set_device(info.local_rank)
    return info


def broadcast_parameters(module: nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers to every process."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src)


def average_gradients(module: nn.Module) -> None:
    """Average the gradients of ``module`` over all processes (one flattened all_reduce)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset:offset + n].view_as(g))
        offset += n


def agree(flag: bool) -> bool:
    """Rank 0's decision, shared with every process (e.g. "stop now" on a time limit)."""
    if not (dist.is_available() and dist.is_initialized()):
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.broadcast(t, 0)
    return bool(t.item())


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
