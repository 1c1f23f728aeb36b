"""GAN losses: PGAN's WGAN-GP with epsilon drift, StarGAN's WGAN-GP with attribute terms,
HiFaceGAN's least squares with feature matching and a VGG19 perceptual term.

PGAN (Gulrajani et al. 2017; Karras et al. 2018, appendix A.1):
D: D(fake) - D(real) + gp_weight * (||grad D(x_hat)|| - 1)^2 + drift * D(real)^2,
x_hat = real + u * (fake - real), u ~ U(0, 1) per sample.  G: -D(G(z)).

StarGAN (Choi et al., CVPR 2018, eq. 2-5 and 8), D returning (patch map, logits):
D: -mean D_src(x) + mean D_src(G(x, c)) + lambda_cls * BCE(D_cls(x), c') + lambda_gp * GP;
G: -mean D_src(G(x, c)) + lambda_cls * BCE(D_cls(G(x, c)), c) + lambda_rec * |x - G(G(x, c), c')|_1,
with c' the original labels, c the target labels and BCE summed over attributes. Not in the
paper, and off unless asked for (the sample default: README): lambda_id * |x - G(x, c')|_1,
CycleGAN's identity loss (Zhu et al. 2017, section 5.2), for colour preservation.

HiFaceGAN (Yang et al. 2020; REFERENCE 4), D on (degraded, image) at several scales:
D: mean_s (D_s(y) - 1)^2 + mean_s D_s(G(x))^2;
G: mean_s (D_s(G(x)) - 1)^2 + lambda_feat * FM + lambda_vgg * VGG, no pixel loss.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

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
) -> tuple[torch.Tensor, dict[str, float]]:
    """The critic's WGAN-GP + drift loss, averaged over the batch, and its parts for logging."""
    real_score = critic(real)
    fake_score = critic(fake.detach())
    penalty = gradient_penalty(critic, real, fake.detach(), u)
    drift = real_score.pow(2)
    loss = (fake_score - real_score + gp_weight * penalty + drift_weight * drift).mean()
    parts = {
        "wasserstein": (real_score - fake_score).mean().item(),
        "gp": penalty.mean().item(),
        "drift": drift.mean().item(),
    }
    return loss, parts


def generator_loss(critic: Critic, fake: torch.Tensor) -> torch.Tensor:
    return -critic(fake).mean()


StarCritic = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def classification_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with logits, summed over attributes, averaged over the batch (official CelebA)."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / logits.shape[0]


def stargan_discriminator_loss(
    D: StarCritic,
    real: torch.Tensor,
    fake: torch.Tensor,
    c_org: torch.Tensor,
    u: torch.Tensor,
    lambda_cls: float,
    lambda_gp: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """D's loss and its unweighted terms for logging, so loss = d_real + d_fake + lambda_cls * d_cls + lambda_gp * gp.

    d_real: -mean D_src(real); d_fake: mean D_src(fake); d_cls: BCE of D_cls(real) against the
    real labels c_org; gp: mean gradient penalty of the patch map at x_hat (u as in `gradient_penalty`).
    """
    src_real, cls_real = D(real)
    src_fake, _ = D(fake.detach())
    # The patch map's sum has the same gradient as the official grad_outputs of ones.
    terms = {
        "d_real": -src_real.mean(),
        "d_fake": src_fake.mean(),
        "d_cls": classification_loss(cls_real, c_org),
        "gp": gradient_penalty(lambda x: D(x)[0], real, fake.detach(), u).mean(),
    }
    loss = terms["d_real"] + terms["d_fake"] + lambda_cls * terms["d_cls"] + lambda_gp * terms["gp"]
    return loss, {name: term.item() for name, term in terms.items()}


def stargan_generator_loss(
    D: StarCritic,
    fake: torch.Tensor,
    reconstructed: torch.Tensor,
    real: torch.Tensor,
    c_trg: torch.Tensor,
    lambda_cls: float,
    lambda_rec: float,
    unchanged: torch.Tensor | None = None,
    lambda_id: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """G's loss and its unweighted terms for logging, so loss = g_fake + lambda_cls * g_cls +
    lambda_rec * g_rec (+ lambda_id * g_id when `unchanged` is given).

    fake = G(real, c_trg), reconstructed = G(fake, c_org) and unchanged = G(real, c_org).
    g_fake: -mean D_src(fake); g_cls: BCE of D_cls(fake) against c_trg; g_rec: mean
    |real - reconstructed| (cycle loss, eq. 4); g_id: mean |real - unchanged| (identity loss).
    """
    src_fake, cls_fake = D(fake)
    terms = {
        "g_fake": -src_fake.mean(),
        "g_cls": classification_loss(cls_fake, c_trg),
        "g_rec": (real - reconstructed).abs().mean(),
    }
    loss = terms["g_fake"] + lambda_cls * terms["g_cls"] + lambda_rec * terms["g_rec"]
    if unchanged is not None:
        terms["g_id"] = (real - unchanged).abs().mean()
        loss = loss + lambda_id * terms["g_id"]
    return loss, {name: term.item() for name, term in terms.items()}


# HiFaceGAN (REFERENCE 4; SPADE's pix2pix losses): D returns, per scale, every layer's output.
VGG_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)  # relu1_1 .. relu5_1


def lsgan_loss(predictions: list[list[torch.Tensor]], real: bool) -> torch.Tensor:
    """Least squares: mean over D's scales of mean (D_last - target)^2, target 1 (real) or 0."""
    target = 1.0 if real else 0.0
    return torch.stack([(scale[-1] - target).pow(2).mean() for scale in predictions]).mean()


def feature_matching_loss(fake: list[list[torch.Tensor]], real: list[list[torch.Tensor]]) -> torch.Tensor:
    """Mean over scales of the summed L1 distances between D's intermediate outputs (all but
    the last) on fake and on real inputs; the real side is a fixed target."""
    per_scale = [sum(F.l1_loss(f, r.detach()) for f, r in zip(fake_scale[:-1], real_scale[:-1]))
                 for fake_scale, real_scale in zip(fake, real)]
    return torch.stack(per_scale).mean()


def perceptual_loss(features: Callable[[torch.Tensor], list[torch.Tensor]], fake: torch.Tensor,
                    real: torch.Tensor) -> torch.Tensor:
    """sum_i w_i * L1(VGG_i(fake), VGG_i(real)) over relu1_1 .. relu5_1, w = 1/32 .. 1."""
    with torch.no_grad():
        targets = features(real)
    return sum(w * F.l1_loss(f, t) for w, f, t in zip(VGG_LAYER_WEIGHTS, features(fake), targets))
