"""HiFaceGAN (Yang et al., ACM MM 2020, and the official code): generator and multi-scale discriminator.

G(x), x the degraded face (size S, a multiple of 32):
    encoder ("content-adaptive suppression"): 3x3 conv (ngf, no bias), IN, ReLU, then five
        times: LIP pooling (/2), 3x3 conv (channels x2, at most 16 ngf), IN, ReLU (not after
        the last) -> features at S/32 (16 ngf), S/16 (16 ngf), S/8 (8 ngf), ..., S (ngf);
    decoder: x resized (nearest) to S/32, 3x3 conv to 16 ngf; a SPADE residual block guided by
        the S/32 features; x2 up; two blocks guided by the S/16 features; then four times x2 up
        and a block halving the channels, guided by the features of its size; leaky ReLU 0.2,
        3x3 conv to 3, tanh.
SPADE(x, f) = norm(x) * (1 + gamma(f)) + beta(f), gamma and beta 3x3 convs over a shared
    3x3 conv (`hidden` channels) + ReLU of the guiding features f; norm has no parameters.
    Residual blocks: SPADE, leaky ReLU 0.2, 3x3 conv (spectral norm), twice, plus the input
    (through SPADE and a 1x1 conv, spectral norm, when the channel count changes).
D: `num_d` PatchGANs, each on the input average-pooled once more than the previous: a 4x4
    stride-2 conv + leaky ReLU 0.2, then `n_layers - 1` 4x4 convs (spectral norm, IN,
    leaky ReLU; channels x2 up to 512; the last stride 1), then a 4x4 conv to 1 channel.
    Its input is the degraded face and the restored or clean face (6 channels); it returns
    every layer's output, for the feature-matching loss.

Normalisation statistics: SPADE's parameter-free norm is batch norm, as in the reference
(synchronised batch norm): batch statistics in training, and at inference the running
averages gathered in training (eval mode). The reference instead keeps batch statistics
at inference, so a face's restoration depends on the faces batched with it, and at its
batch size 1 every decoder layer normalises each image by its own statistics, which
erases its overall colour and brightness. Running averages make a restoration
independent of its batch and keep the colours (on the sample, 2.3 dB PSNR above the
reference's way on the same weights, and 1.8 dB above instance norm throughout:
docs/hifacegan.md). The encoder and D use instance norm, as in the reference.

Where the reference's code is inconsistent we follow its configuration: the guiding
feature widths derive from ngf (its code hard-codes the ngf 48 widths), and the unused
lower-resolution toRGB convs of its progressive phases are not built.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
# Differentiable collectives: what torch's deprecation of torch.distributed.nn.functional points to.
from torch.distributed import _functional_collectives as funcol
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from facegan.images import grid, to_float, to_uint8

LEVELS = 5  # 2x poolings in the encoder: the decoder starts at S/32 (16 px at 512)
MAX_RATIO = 16  # encoder channels stop doubling at 16 ngf


def lip2d(x: torch.Tensor, logit: torch.Tensor) -> torch.Tensor:
    """Local importance pooling (Gao et al. 2019): a 3x3 stride-2 average of x weighted by exp(logit)."""
    weight = logit.exp()
    return F.avg_pool2d(x * weight, 3, 2, 1) / F.avg_pool2d(weight, 3, 2, 1)


class SoftGate(nn.Module):
    """12 * sigmoid: importance logits in (0, 12), so exp() stays finite."""

    COEFF = 12.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x) * self.COEFF


class LIP(nn.Module):
    """LIP pooling whose logits come from the input: 3x3 conv (no bias), affine IN, SoftGate."""

    def __init__(self, channels: int):
        super().__init__()
        self.logit = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                                   nn.InstanceNorm2d(channels, affine=True), SoftGate())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return lip2d(x, self.logit(x))


class SuppressionEncoder(nn.Module):
    """The content-adaptive suppression encoder: returns the feature pyramid, smallest first."""

    def __init__(self, ngf: int, levels: int = LEVELS):
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(3, ngf, 3, padding=1, bias=False), nn.InstanceNorm2d(ngf), nn.ReLU())
        ratio, blocks = 1, []
        for level in range(levels):
            following = min(ratio * 2, MAX_RATIO)
            layers = [LIP(ngf * ratio), nn.Conv2d(ngf * ratio, ngf * following, 3, padding=1),
                      nn.InstanceNorm2d(ngf * following)]
            if level < levels - 1:
                layers.append(nn.ReLU())
            blocks.append(nn.Sequential(*layers))
            ratio = following
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = [self.head(x)]
        for block in self.blocks:
            features.insert(0, block(features[0]))
        return features


class SyncedBatchNorm2d(nn.BatchNorm2d):
    """Batch norm whose training statistics cover the whole global batch when training runs
    in several processes (torch's SyncBatchNorm is CUDA-only; this one is for gloo on CPU
    too), so N processes normalise as one process with the whole batch. Plain batch norm
    in one process and at inference; same parameters and buffers as nn.BatchNorm2d."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        # Two passes (mean, then the mean squared deviation), each summed over the processes;
        # the sums carry gradients back to every process's activations.
        count = x.numel() // x.shape[1] * dist.get_world_size()
        mean = funcol.all_reduce(x.sum(dim=(0, 2, 3)), "sum", dist.group.WORLD) / count
        centred = x - mean[None, :, None, None]
        variance = funcol.all_reduce(centred.pow(2).sum(dim=(0, 2, 3)), "sum", dist.group.WORLD) / count
        with torch.no_grad():
            self.num_batches_tracked += 1
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(variance * count / (count - 1), self.momentum)
        normalised = centred * torch.rsqrt(variance + self.eps)[None, :, None, None]
        if self.affine:
            return normalised * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return normalised


class SPADE(nn.Module):
    def __init__(self, channels: int, guide_channels: int, hidden: int):
        super().__init__()
        self.norm = SyncedBatchNorm2d(channels, affine=False)  # running averages at inference: see the module doc
        self.shared = nn.Sequential(nn.Conv2d(guide_channels, hidden, 3, padding=1), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        hidden = self.shared(guide)
        return self.norm(x) * (1 + self.gamma(hidden)) + self.beta(hidden)


def _leaky(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class SPADEResBlock(nn.Module):
    def __init__(self, fin: int, fout: int, guide_channels: int, hidden: int):
        super().__init__()
        middle = min(fin, fout)
        self.norm_0 = SPADE(fin, guide_channels, hidden)
        self.conv_0 = spectral_norm(nn.Conv2d(fin, middle, 3, padding=1))
        self.norm_1 = SPADE(middle, guide_channels, hidden)
        self.conv_1 = spectral_norm(nn.Conv2d(middle, fout, 3, padding=1))
        self.learned_shortcut = fin != fout
        if self.learned_shortcut:
            self.norm_s = SPADE(fin, guide_channels, hidden)
            self.conv_s = spectral_norm(nn.Conv2d(fin, fout, 1, bias=False))

    def forward(self, x: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(self.norm_s(x, guide)) if self.learned_shortcut else x
        dx = self.conv_0(_leaky(self.norm_0(x, guide)))
        dx = self.conv_1(_leaky(self.norm_1(dx, guide)))
        return shortcut + dx


class Generator(nn.Module):
    def __init__(self, ngf: int = 64, spade_hidden: int = 128):
        super().__init__()
        nf = ngf
        self.encoder = SuppressionEncoder(ngf)
        self.fc = nn.Conv2d(3, 16 * nf, 3, padding=1)
        self.head_0 = SPADEResBlock(16 * nf, 16 * nf, 16 * nf, spade_hidden)
        self.middle_0 = SPADEResBlock(16 * nf, 16 * nf, 16 * nf, spade_hidden)
        self.middle_1 = SPADEResBlock(16 * nf, 16 * nf, 16 * nf, spade_hidden)
        widths = [16 * nf, 8 * nf, 4 * nf, 2 * nf, nf]
        self.ups = nn.ModuleList(SPADEResBlock(fin, fout, fout, spade_hidden) for fin, fout in zip(widths, widths[1:]))
        self.to_rgb = nn.Conv2d(nf, 3, 3, padding=1)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.encoder(x)
        h = self.fc(F.interpolate(x, size=features[0].shape[-2:], mode="nearest"))
        h = self.head_0(h, features[0])
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = self.middle_1(self.middle_0(h, features[1]), features[1])
        for block, guide in zip(self.ups, features[2:]):
            h = block(F.interpolate(h, scale_factor=2.0, mode="nearest"), guide)
        return torch.tanh(self.to_rgb(_leaky(h)))


class PatchDiscriminator(nn.Module):
    def __init__(self, in_channels: int, ndf: int, n_layers: int):
        super().__init__()
        layers = [nn.Sequential(nn.Conv2d(in_channels, ndf, 4, 2, 2), nn.LeakyReLU(0.2))]
        channels = ndf
        for n in range(1, n_layers):
            previous, channels = channels, min(channels * 2, 512)
            stride = 1 if n == n_layers - 1 else 2
            layers.append(nn.Sequential(spectral_norm(nn.Conv2d(previous, channels, 4, stride, 2, bias=False)),
                                        nn.InstanceNorm2d(channels), nn.LeakyReLU(0.2)))
        layers.append(nn.Conv2d(channels, 1, 4, 1, 2))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for layer in self.layers:
            x = layer(x)
            outputs.append(x)
        return outputs


class MultiscaleDiscriminator(nn.Module):
    """`num_d` PatchGANs on the 6-channel (degraded, image) input at successive halvings."""

    def __init__(self, ndf: int = 64, n_layers: int = 4, num_d: int = 2, in_channels: int = 6):
        super().__init__()
        self.scales = nn.ModuleList(PatchDiscriminator(in_channels, ndf, n_layers) for _ in range(num_d))
        init_weights(self)

    def forward(self, degraded: torch.Tensor, image: torch.Tensor) -> list[list[torch.Tensor]]:
        x = torch.cat([degraded, image], dim=1)
        results = []
        for index, scale in enumerate(self.scales):
            if index:
                x = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
            results.append(scale(x))
        return results


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """The reference's init: Xavier normal (gain 0.02) for conv weights, zero biases. For
    spectral-normed convs it rewrites the computed weight, which the next forward
    recomputes from the untouched original: those keep PyTorch's default weight init."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            if not hasattr(layer, "parametrizations"):
                nn.init.xavier_normal_(layer.weight, gain=gain)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def baked(module: nn.Module) -> nn.Module:
    """A copy in inference mode with every spectral norm folded into plain weights (for
    export: the traced graph then holds the weights, not the normalisation)."""
    module = copy.deepcopy(module).eval()
    for layer in module.modules():
        if parametrize.is_parametrized(layer):
            for name in list(layer.parametrizations):
                parametrize.remove_parametrizations(layer, name, leave_parametrized=True)
    return module


@torch.no_grad()
def restore(G, degraded: np.ndarray, batch: int = 16) -> np.ndarray:
    """uint8 NHWC restorations of uint8 NHWC `degraded` faces (G in inference mode)."""
    was_training = getattr(G, "training", False)
    G.eval()
    device = next(G.parameters()).device
    out = [to_uint8(G(to_float(degraded[start : start + batch]).to(device)))
           for start in range(0, len(degraded), batch)]
    G.train(was_training)
    return np.concatenate(out)


def restoration_grid(pairs: np.ndarray, restored: np.ndarray) -> np.ndarray:
    """One row per face: degraded | restored | clean (`restored`: the pairs' restorations)."""
    rows = np.stack([pairs[:, 0], restored, pairs[:, 1]], axis=1)
    return grid(rows.reshape(-1, *rows.shape[2:]), columns=3)


# Builders from the architecture a checkpoint records (its "config"): training and inference share them.
def build_generator(config: dict) -> Generator:
    return Generator(config["ngf"], config["spade_hidden"])


def build_discriminator(config: dict) -> MultiscaleDiscriminator:
    return MultiscaleDiscriminator(config["ndf"], config["n_layers_d"], config["num_d"])
