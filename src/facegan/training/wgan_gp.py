"""WGAN-GP (Gulrajani et al. 2017), which PGAN and StarGAN share.

PGAN (Karras et al. 2018, appendix A.1):
D: D(fake) - D(real) + gp_weight * (||grad D(x_hat)|| - 1)^2 + drift * D(real)^2,
x_hat = real + u * (fake - real), u ~ U(0, 1) per sample.  G: -D(G(z)).
"""
from __future__ import annotations

from typing import Callable

import torch

Critic = Callable[[torch.Tensor], torch.Tensor]


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Per-sample (||grad_x critic(x_hat)||_2 - 1)^2; graph kept for the double backward."""
    mix = u.view(-1, *([1] * (real.dim() - 1)))
    x_hat = (real + mix * (fake - real)).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1.0).pow(2)


def discriminator_loss(
    critic: Critic,
    real: torch.Tensor,
    fake: torch.Tensor,
    u: torch.Tensor,
    gp_weight: float,
    drift_weight: float,
    penalty_critic: Critic | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The critic's WGAN-GP + drift loss, averaged over the batch, and its parts for logging
    (detached, on the device).
    `penalty_critic`: the critic as the gradient penalty runs it (training: in fp32), if not `critic`."""
    real_score = critic(real)
    fake_score = critic(fake.detach())
    penalty = gradient_penalty(penalty_critic or critic, real, fake.detach(), u)
    drift = real_score.pow(2)
    loss = (fake_score - real_score + gp_weight * penalty + drift_weight * drift).mean()
    parts = {
        "wasserstein": (real_score - fake_score).mean().detach(),
        "gp": penalty.mean().detach(),
        "drift": drift.mean().detach(),
    }
    return loss, parts


def generator_loss(critic: Critic, fake: torch.Tensor) -> torch.Tensor:
    return -critic(fake).mean()

