"""GANimation's losses as pure functions (WGAN-GP, AU regression, cycle, attention).

Conventions: critic scores are unbounded (higher = more real); images are in [-1, 1]; AU vectors
are conditioning vectors (B, cond_dim) in [0, 1]; attention masks are (B, 1, S, S) in [0, 1]
with 1 = keep the input pixel.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def critic_wgan_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """-mean(D(real)) + mean(D(fake)): the critic separates real from generated faces."""
    return fake_scores.float().mean() - real_scores.float().mean()


def generator_wgan_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """-mean(D(fake)): the generator makes the critic score its faces as real."""
    return -fake_scores.float().mean()


def gradient_penalty(score_fn: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP: mean over the batch of (||grad_x D(x)||_2 - 1)^2 at random interpolates x.

    Args:
        score_fn: x (B, C, H, W) -> critic scores (B, ...); their sum is differentiated.
        real, fake: (B, C, H, W) images; fake is detached here.
        generator: RNG for the interpolation weights (B,) ~ U[0, 1).

    Returns:
        A scalar, 0 exactly when the critic's gradient has unit norm at every interpolate.
    """
    alpha = torch.rand(real.shape[0], 1, 1, 1, generator=generator, device="cpu").to(real)
    x = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    scores = score_fn(x)
    (grad,) = torch.autograd.grad(scores.float().sum(), x, create_graph=True)
    norm = grad.float().flatten(1).norm(2, dim=1)  # (B,)
    return ((norm - 1.0) ** 2).mean()


def au_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error between AU vectors (B, D), averaged over batch and AUs."""
    return F.mse_loss(predicted.float(), target.float())


def cycle_loss(reconstructed: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """Mean L1 between G(G(I, y_tgt), y_src) and I."""
    return (reconstructed.float() - original.float()).abs().mean()


def attention_mean_loss(attention: torch.Tensor) -> torch.Tensor:
    """mean(A): pushes the mask off its trivial all-1 (change nothing) solution."""
    return attention.float().mean()


def attention_tv_loss(attention: torch.Tensor) -> torch.Tensor:
    """Total variation of A (B, 1, H, W): L1 sum over pixels, averaged over the batch."""
    a = attention.float()
    dh = (a[:, :, 1:, :] - a[:, :, :-1, :]).abs().sum(dim=(1, 2, 3))
    dw = (a[:, :, :, 1:] - a[:, :, :, :-1]).abs().sum(dim=(1, 2, 3))
    return (dh + dw).mean()
