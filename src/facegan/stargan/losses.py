"""StarGAN's losses (Choi et al., CVPR 2018, eq. 2-5 and 8), D returning (patch map, logits):

D: -mean D_src(x) + mean D_src(G(x, c)) + lambda_cls * BCE(D_cls(x), c') + lambda_gp * GP;
G: -mean D_src(G(x, c)) + lambda_cls * BCE(D_cls(G(x, c)), c) + lambda_rec * |x - G(G(x, c), c')|_1,
with c' the original labels, c the target labels and BCE summed over attributes. Not in the
paper, and off unless asked for (the sample default: docs/stargan.md): lambda_id * |x - G(x, c')|_1,
CycleGAN's identity loss (Zhu et al. 2017, section 5.2), for colour preservation.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from facegan.training.wgan_gp import gradient_penalty

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
    D_penalty: StarCritic | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """D's loss and its unweighted terms for logging (detached), so
    loss = d_real + d_fake + lambda_cls * d_cls + lambda_gp * gp.

    d_real: -mean D_src(real); d_fake: mean D_src(fake); d_cls: BCE of D_cls(real) against the
    real labels c_org; gp: mean gradient penalty of the patch map at x_hat (u as in `gradient_penalty`),
    run through `D_penalty` (training: D in fp32) if given.
    """
    D_penalty = D_penalty or D
    src_real, cls_real = D(real)
    src_fake, _ = D(fake.detach())
    # The patch map's sum has the same gradient as the official grad_outputs of ones.
    terms = {
        "d_real": -src_real.mean(),
        "d_fake": src_fake.mean(),
        "d_cls": classification_loss(cls_real, c_org),
        "gp": gradient_penalty(lambda x: D_penalty(x)[0], real, fake.detach(), u).mean(),
    }
    loss = terms["d_real"] + terms["d_fake"] + lambda_cls * terms["d_cls"] + lambda_gp * terms["gp"]
    return loss, {name: term.detach() for name, term in terms.items()}


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
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """G's loss and its unweighted terms for logging (detached), so loss = g_fake + lambda_cls * g_cls +
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
    return loss, {name: term.detach() for name, term in terms.items()}
