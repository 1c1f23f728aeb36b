"""LPIPS (Zhang et al., CVPR 2018), version 0.1 with AlexNet, as the `lpips` package computes it.

d(a, b) = sum_l mean_hw( w_l . (n(f_l(a)) - n(f_l(b)))^2 ) over AlexNet's relu1 .. relu5
activations f_l of the images in [-1, 1] scaled by LPIPS's fixed per-channel shift and
scale; n() divides each pixel's feature vector by its L2 norm (+1e-10); w_l >= 0 are the
learned 1x1 "lin" weights. Two files: torchvision's ImageNet AlexNet
(`alexnet-owt-7be5be79.pth`) and LPIPS's lin weights (`weights/v0.1/alex.pth` of the
PerceptualSimilarity repository and the `lpips` package), both from the weights cache.
The HiFaceGAN paper reports it for restored vs clean faces (lower is closer).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from torch import nn

from facegan.errors import UserError, cause
from facegan.images import to_float
from facegan.pretrained import AlexNetFeatures, load_alexnet
from facegan.weights import MissingWeightsError, staged_path

CHANNELS = (64, 192, 384, 256, 256)  # AlexNet's relu1 .. relu5 widths
SHIFT = (-0.030, -0.088, -0.188)  # LPIPS's ScalingLayer: (x - shift) / scale per RGB channel
SCALE = (0.458, 0.448, 0.450)
EPS = 1e-10
BATCH = 32
MIN_SIZE = 31  # smaller images vanish in AlexNet's second max pooling


class LPIPSAlex(nn.Module):
    def __init__(self, features: AlexNetFeatures | None = None):
        super().__init__()
        self.features = AlexNetFeatures() if features is None else features
        self.lins = nn.ModuleList(nn.Conv2d(channels, 1, 1, bias=False) for channels in CHANNELS)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def load_lins(self, path: Path) -> "LPIPSAlex":
        """The lin weights from LPIPS's file (keys `lin{l}.model.1.weight`)."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            self.lins.load_state_dict({f"{i}.weight": state[f"lin{i}.model.1.weight"] for i in range(len(CHANNELS))})
        except Exception as error:  # a damaged file, or another network's weights
            raise UserError(f"{path} is not LPIPS v0.1's AlexNet lin weights file ({cause(error)})") from error
        return self

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(N,) distances between NCHW images in [-1, 1]."""
        features_a = self.features((a - self.shift) / self.scale)
        features_b = self.features((b - self.shift) / self.scale)
        total = torch.zeros(len(a), device=a.device)
        for lin, fa, fb in zip(self.lins, features_a, features_b):
            difference = (_unit(fa) - _unit(fb)).square()
            total = total + lin(difference).mean((1, 2, 3))
        return total


def _unit(features: torch.Tensor) -> torch.Tensor:
    return features / (features.square().sum(1, keepdim=True).sqrt() + EPS)


def load_lpips(alexnet_path: Path, lins_path: Path, device: str | torch.device = "cpu") -> LPIPSAlex:
    return LPIPSAlex(load_alexnet(alexnet_path)).load_lins(lins_path).to(device)


def staged_lpips(staged: Path, device: str | torch.device = "cpu") -> tuple[LPIPSAlex | None, str]:
    """The LPIPS network from the download_weights stage's folder, or None and why it is absent."""
    try:
        return load_lpips(staged_path("alexnet", staged), staged_path("lpips_alex", staged), device), ""
    except MissingWeightsError as error:
        return None, f"LPIPS needs AlexNet and its lin weights: {error}"


@torch.no_grad()
def lpips(pairs: Iterable[tuple[np.ndarray, np.ndarray]], *, model: LPIPSAlex) -> dict:
    """Mean LPIPS over a stream of (a, b) uint8 NHWC RGB batch pairs."""
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for batch_a, batch_b in pairs:
        if (batch_a.shape != batch_b.shape or batch_a.dtype != np.uint8 or batch_a.ndim != 4
                or batch_a.shape[-1] != 3 or min(batch_a.shape[1:3]) < MIN_SIZE):
            raise ValueError(f"LPIPS expects pairs of equal uint8 NHWC RGB batches of at least {MIN_SIZE}x{MIN_SIZE} "
                             f"px, got {batch_a.dtype} {batch_a.shape} and {batch_b.dtype} {batch_b.shape}")
        for start in range(0, len(batch_a), BATCH):
            a, b = (to_float(x[start : start + BATCH]).to(device) for x in (batch_a, batch_b))
            total += model(a, b).double().sum().item()
            count += len(a)
    if count == 0:
        raise ValueError("LPIPS needs at least one image pair")
    return {"lpips": total / count, "pairs": count}
