"""VGG19's relu1_1 .. relu5_1 activations, for HiFaceGAN's perceptual loss (REFERENCE 4).

torchvision's ImageNet VGG19 (`vgg19-dcbb9e9d.pth`), frozen. Like the reference's loss
(SPADE's VGGLoss), it takes the images as they are, in [-1, 1], without ImageNet
normalisation.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision.models import vgg19

LAYER_ENDS = (2, 7, 12, 21, 30)  # torchvision's vgg19().features[:end] ends at relu1_1, relu2_1, ..., relu5_1


class VGG19Features(nn.Module):
    def __init__(self, features: nn.Sequential | None = None):
        super().__init__()
        features = vgg19(weights=None).features if features is None else features
        starts = (0, *LAYER_ENDS[:-1])
        self.slices = nn.ModuleList(nn.Sequential(*features[start:end]) for start, end in zip(starts, LAYER_ENDS))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "VGG19Features":
        return super().train(False)  # a fixed feature extractor, whatever its owner's mode

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for block in self.slices:
            x = block(x)
            outputs.append(x)
        return outputs


def load_vgg19(path: Path, device: str | torch.device = "cpu") -> VGG19Features:
    """VGG19Features with the weights of torchvision's file (checked whole: every key must fit)."""
    network = vgg19(weights=None)
    network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return VGG19Features(network.features).to(device)
