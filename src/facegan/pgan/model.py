"""Progressive GAN generator and discriminator (Karras et al. 2018, table 2).

A network of `depth` scales works at 4 * 2**(depth - 1) pixels. Growing one scale
builds the next deeper network and copies every existing weight into it
(`load_grown`); during the fade-in the newest scale is blended with the upsampled
(G) or downsampled (D) output of the previous one, weighted by alpha (1 -> 0).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from facegan.pgan.batch_groups import MINIBATCH_GROUP_SIZE
from facegan.pgan.layers import (
    EqualizedConv2d,
    EqualizedLinear,
    MinibatchStddev,
    PixelNorm,
    fade,
)


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2)


def resolution_of(depth: int) -> int:
    return 4 * 2 ** (depth - 1)


class GeneratorBlock(nn.Module):
    """Nearest 2x upsample, then two 3x3 convs, each with leaky ReLU and pixel norm."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            EqualizedConv2d(in_channels, out_channels, 3), _act(), PixelNorm(),
            EqualizedConv2d(out_channels, out_channels, 3), _act(), PixelNorm(),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Generator(nn.Module):
    """z (pixel-normalised) -> dense to c0 x 4 x 4 -> 3x3 conv -> [blocks] -> toRGB (1x1, linear)."""

    def __init__(self, latent_dim: int, channels: list[int], depth: int):
        super().__init__()
        self.latent_dim, self.channels, self.depth = latent_dim, list(channels), depth
        c0 = channels[0]
        self.input_norm = PixelNorm()
        self.dense = EqualizedLinear(latent_dim, c0 * 16)
        # The dense output is reshaped to c0 x 4 x 4 before its activation and pixel norm, so
        # each of the 16 pixels is normalised over its c0 channels (official networks.py).
        self.head = nn.Sequential(
            nn.Unflatten(1, (c0, 4, 4)), _act(), PixelNorm(),
            EqualizedConv2d(c0, c0, 3), _act(), PixelNorm(),
        )  # fmt: skip
        self.blocks = nn.ModuleList(
            GeneratorBlock(channels[i - 1], channels[i]) for i in range(1, depth)
        )
        self.to_rgb = nn.ModuleList(EqualizedConv2d(channels[i], 3, 1, gain=1.0) for i in range(depth))

    @property
    def resolution(self) -> int:
        return resolution_of(self.depth)

    def forward(self, z: torch.Tensor, alpha: float = 0.0) -> torch.Tensor:
        x = self.head(self.dense(self.input_norm(z)))
        previous = x
        for block in self.blocks:
            previous, x = x, block(x)
        rgb = self.to_rgb[-1](x)
        if alpha > 0.0 and self.depth > 1:
            old = F.interpolate(self.to_rgb[-2](previous), scale_factor=2, mode="nearest")
            rgb = fade(alpha, old, rgb)
        return rgb


class DiscriminatorBlock(nn.Module):
    """Two 3x3 convs with leaky ReLU (the second changes channels), then 2x2 average pool."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.layers = nn.Sequential(
            EqualizedConv2d(in_channels, in_channels, 3), _act(),
            EqualizedConv2d(in_channels, out_channels, 3), _act(),
            nn.AvgPool2d(2),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Discriminator(nn.Module):
    """fromRGB -> [blocks] -> minibatch stddev -> 3x3 conv -> dense -> dense -> score."""

    def __init__(self, channels: list[int], depth: int, group_size: int = MINIBATCH_GROUP_SIZE):
        super().__init__()
        self.channels, self.depth = list(channels), depth
        c0 = channels[0]
        self.from_rgb = nn.ModuleList(
            nn.Sequential(EqualizedConv2d(3, channels[i], 1), _act()) for i in range(depth)
        )
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(channels[i], channels[i - 1]) for i in range(1, depth)
        )
        # The output layer is linear, so it gets gain 1 like toRGB (official networks.py).
        self.tail = nn.Sequential(
            MinibatchStddev(group_size),
            EqualizedConv2d(c0 + 1, c0, 3), _act(),
            nn.Flatten(), EqualizedLinear(c0 * 16, c0), _act(),
            EqualizedLinear(c0, 1, gain=1.0),
        )  # fmt: skip

    def forward(self, images: torch.Tensor, alpha: float = 0.0) -> torch.Tensor:
        x = self.from_rgb[-1](images)
        if self.depth > 1:
            x = self.blocks[-1](x)
            if alpha > 0.0:
                x = fade(alpha, self.from_rgb[-2](F.avg_pool2d(images, 2)), x)
            for block in reversed(self.blocks[:-1]):
                x = block(x)
        return self.tail(x).squeeze(1)


def load_grown(model: nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """Copy a shallower network's weights into `model`; return the keys left new.

    Fails when the old state has a key the new model lacks or a shape that differs:
    that means the architecture params changed between scales.
    """
    own = model.state_dict()
    for key, value in state.items():
        if key not in own or own[key].shape != value.shape:
            raise ValueError(
                f"checkpoint tensor {key} {tuple(value.shape)} does not fit the grown network "
                f"({tuple(own[key].shape) if key in own else 'absent'}): were latent_dim or "
                "channels changed between scales?"
            )
    model.load_state_dict(state, strict=False)
    return sorted(set(own) - set(state))


def build_generator(config: dict) -> Generator:
    """G from the architecture a checkpoint records ("latent_dim", "channels", "depth")."""
    return Generator(config["latent_dim"], config["channels"], config["depth"])
