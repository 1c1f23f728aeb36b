"""HiFaceGAN's losses (Yang et al. 2020; the pix2pix losses of SPADE, Park et al. 2019, that
the official code trains with). D sees (degraded, image) at several scales and returns, per
scale, every layer's output:

D: mean_s (D_s(y) - 1)^2 + mean_s D_s(G(x))^2;
G: mean_s (D_s(G(x)) - 1)^2 + lambda_feat * FM + lambda_vgg * VGG, no pixel loss.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

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
