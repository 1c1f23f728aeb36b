"""PGAN building blocks (Karras et al. 2018, section 4).

- Equalized learning rate (4.1): weights are drawn from N(0, 1) and scaled at run time
  by gain / sqrt(fan_in), so Adam's per-parameter step size is the same for every layer.
- Pixelwise feature normalisation (4.2): x / sqrt(mean_c(x^2) + 1e-8).
- Minibatch standard deviation (3): one extra feature map with the average std of the
  features over a group of samples.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from facegan.pgan.batch_groups import minibatch_group_size

SQRT2 = math.sqrt(2.0)


class EqualizedConv2d(nn.Module):
    """Conv with N(0,1) weights scaled by gain / sqrt(in_channels * k * k) at run time."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, gain: float = SQRT2):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualizedLinear(nn.Module):
    """Dense layer with N(0,1) weights scaled by gain / sqrt(in_features) at run time."""

    def __init__(self, in_features: int, out_features: int, gain: float = SQRT2):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit average square (eq. in 4.2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class MinibatchStddev(nn.Module):
    """Append the group-averaged feature std as one extra channel (official layout).

    Sample i belongs to group i % (N / G), as in the official reshape to [G, M, ...];
    the std is the population std with 1e-8 inside the square root.
    """

    def __init__(self, group_size: int = 4):
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = minibatch_group_size(n, self.group_size)
        y = x.reshape(g, n // g, c, h, w)
        y = y - y.mean(dim=0, keepdim=True)
        y = torch.sqrt(y.pow(2).mean(dim=0) + 1e-8)  # [M, C, H, W]
        y = y.mean(dim=(1, 2, 3)).reshape(n // g, 1, 1, 1)
        y = y.repeat(g, 1, h, w)  # back to [N, 1, H, W] in the same group order
        return torch.cat([x, y], dim=1)


def fade(alpha: float | torch.Tensor, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """Fade-in blend: alpha = 1 is all old path, alpha = 0 all new (Karras et al. 2018, figure 2)."""
    return alpha * old + (1.0 - alpha) * new


def downscale_blend(images: torch.Tensor, alpha: float) -> torch.Tensor:
    """Real images during a fade: alpha * up(avgpool(x)) + (1 - alpha) * x."""
    if alpha == 0.0:
        return images
    low = F.interpolate(F.avg_pool2d(images, 2), scale_factor=2, mode="nearest")
    return fade(alpha, low, images)
