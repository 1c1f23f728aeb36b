"""Frozen ImageNet feature extractors from torchvision's weight files.

- VGG19 relu1_1 .. relu5_1 (`vgg19-dcbb9e9d.pth`), for HiFaceGAN's perceptual loss
  (Yang et al. 2020). Like the reference's loss (SPADE's VGGLoss), it takes the images as
  they are, in [-1, 1], without ImageNet normalisation.
- AlexNet relu1 .. relu5 (`alexnet-owt-7be5be79.pth`), LPIPS's network
  (`facegan.metrics.lpips`, which scales its input itself).
"""
from __future__ import annotations

import importlib
from itertools import accumulate
from pathlib import Path

import torch
from torch import nn

from facegan.errors import UserError, cause

VGG19_ENDS = (2, 7, 12, 21, 30)  # torchvision's vgg19().features[:end] ends at relu1_1, relu2_1, ..., relu5_1
ALEXNET_ENDS = (2, 5, 8, 10, 12)  # alexnet().features[:end] ends at relu1, ..., relu5


class FeatureTaps(nn.Module):
    """The activations where each of `ends` cuts a network's `features`, frozen and in
    inference mode whatever its owner's mode."""

    def __init__(self, features: nn.Sequential, ends: tuple[int, ...]):
        super().__init__()
        starts = (0, *ends[:-1])
        self.slices = nn.ModuleList(nn.Sequential(*features[start:end]) for start, end in zip(starts, ends))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "FeatureTaps":
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(accumulate(self.slices, lambda h, block: block(h), initial=x))[1:]  # each slice's output


class VGG19Features(FeatureTaps):
    def __init__(self, features: nn.Sequential | None = None):
        super().__init__(_torchvision_network("vgg19").features if features is None else features, VGG19_ENDS)


class AlexNetFeatures(FeatureTaps):
    def __init__(self, features: nn.Sequential | None = None):
        super().__init__(_torchvision_network("alexnet").features if features is None else features, ALEXNET_ENDS)


def _torchvision_network(name: str) -> nn.Module:
    """torchvision's untrained `name` network. torchvision is imported here, not at the top:
    it takes seconds, and the evaluations without the weights files never need it."""
    return getattr(importlib.import_module("torchvision.models"), name)(weights=None)


def _torchvision_features(name: str, path: Path) -> nn.Sequential:
    """The `features` of torchvision network `name` with the weights in `path` (checked
    whole: every key must fit)."""
    network = _torchvision_network(name)
    try:
        network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as error:  # torch raises many types for a damaged file or another network's weights
        raise UserError(f"{path} is not a usable torchvision {name} weights file ({cause(error)})") from error
    return network.features


def load_vgg19(path: Path, device: str | torch.device = "cpu") -> VGG19Features:
    return VGG19Features(_torchvision_features("vgg19", path)).to(device)


def load_alexnet(path: Path, device: str | torch.device = "cpu") -> AlexNetFeatures:
    return AlexNetFeatures(_torchvision_features("alexnet", path)).to(device)
