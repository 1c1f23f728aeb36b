"""StarGAN generator, discriminator and attribute classifier (Choi et al., CVPR 2018, appendix).

G(x, c): the image with the target labels tiled as extra channels ->
    7x7 conv (conv_dim), IN, ReLU
    -> two 4x4 stride-2 convs, channels x2 each, IN, ReLU
    -> repeat_num residual blocks (3x3 conv, IN, ReLU, 3x3 conv, IN; plus the input)
    -> two 4x4 stride-2 transposed convs, channels / 2 each, IN, ReLU
    -> 7x7 conv to 3, tanh.
    Convs have no bias (IN follows them); IN is affine.
D(x): repeat_num 4x4 stride-2 convs, channels x2 from conv_dim, leaky ReLU 0.01, no norm ->
    source head: 3x3 conv -> 1 channel (a PatchGAN map, 2x2 at 128 px with 6 convs);
    class head: conv with kernel image_size / 2**repeat_num -> c_dim logits (eq. 2 and 3).
The paper judged translated images by the classification error of a separately trained
classifier; ours is D's trunk with the class head only, trained on real images.
`edit_grid` draws the paper's figure of edits (training's samples and the evaluation's).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from facegan.images import grid, to_float, to_uint8

HAIR_COLORS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")


def tile_labels(c: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(N, c) labels -> (N, c, height, width), each label constant over the image."""
    return c.view(*c.shape, 1, 1).expand(-1, -1, height, width)


def _norm(channels: int) -> nn.Module:
    # Each image is normalised by its own statistics, in training and at inference. The
    # official code builds IN with track_running_stats=True but never calls eval(), so its
    # inference does the same and its running averages are never used: we keep none.
    return nn.InstanceNorm2d(channels, affine=True)


def _conv_norm_relu(conv: nn.Module, channels: int) -> nn.Sequential:
    return nn.Sequential(conv, _norm(channels), nn.ReLU())


class ResidualBlock(nn.Module):
    """x + IN(conv3x3(ReLU(IN(conv3x3(x)))))."""

    def __init__(self, dim: int):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), _norm(dim), nn.ReLU(),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), _norm(dim),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


class Generator(nn.Module):
    """(image in [-1, 1], target labels) -> translated image in [-1, 1]."""

    def __init__(self, c_dim: int, conv_dim: int = 64, repeat_num: int = 6):
        super().__init__()
        self.c_dim = c_dim
        d = conv_dim
        self.stem = _conv_norm_relu(nn.Conv2d(3 + c_dim, d, 7, 1, 3, bias=False), d)
        self.down = nn.Sequential(
            _conv_norm_relu(nn.Conv2d(d, 2 * d, 4, 2, 1, bias=False), 2 * d),
            _conv_norm_relu(nn.Conv2d(2 * d, 4 * d, 4, 2, 1, bias=False), 4 * d),
        )
        self.blocks = nn.Sequential(*(ResidualBlock(4 * d) for _ in range(repeat_num)))
        self.up = nn.Sequential(
            _conv_norm_relu(nn.ConvTranspose2d(4 * d, 2 * d, 4, 2, 1, bias=False), 2 * d),
            _conv_norm_relu(nn.ConvTranspose2d(2 * d, d, 4, 2, 1, bias=False), d),
        )
        self.to_rgb = nn.Sequential(nn.Conv2d(d, 3, 7, 1, 3, bias=False), nn.Tanh())

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = self.stem(torch.cat([x, tile_labels(c, x.shape[2], x.shape[3])], dim=1))
        return self.to_rgb(self.up(self.blocks(self.down(h))))


def strided_trunk(conv_dim: int, repeat_num: int) -> tuple[nn.Sequential, int]:
    """D's body: repeat_num 4x4 stride-2 convs (with bias), channels x2 from conv_dim, leaky ReLU 0.01.

    Returns the trunk and its output channels.
    """
    channels = [3] + [conv_dim * 2**i for i in range(repeat_num)]
    pairs = zip(channels, channels[1:])
    layers = (nn.Sequential(nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.01)) for c_in, c_out in pairs)
    return nn.Sequential(*layers), channels[-1]


def _class_head(image_size: int, repeat_num: int, channels: int, c_dim: int) -> nn.Conv2d:
    """A conv whose kernel covers the whole final feature map: one logit per attribute."""
    if image_size % 2**repeat_num:
        raise ValueError(f"image_size {image_size} is not divisible by 2**repeat_num = {2**repeat_num}")
    return nn.Conv2d(channels, c_dim, image_size // 2**repeat_num, bias=False)


class Discriminator(nn.Module):
    """image -> (real/fake patch map (N, 1, h, w), attribute logits (N, c_dim))."""

    def __init__(self, image_size: int, c_dim: int, conv_dim: int = 64, repeat_num: int = 6):
        super().__init__()
        self.trunk, channels = strided_trunk(conv_dim, repeat_num)
        self.src_head = nn.Conv2d(channels, 1, 3, 1, 1, bias=False)
        self.cls_head = _class_head(image_size, repeat_num, channels, c_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.src_head(h), self.cls_head(h).flatten(1)


class AttributeClassifier(nn.Module):
    """The evaluation judge: D's trunk and class head, trained alone on real images."""

    def __init__(self, image_size: int, c_dim: int, conv_dim: int = 64, repeat_num: int = 6):
        super().__init__()
        self.trunk, self.feature_dim = strided_trunk(conv_dim, repeat_num)
        self.cls_head = _class_head(image_size, repeat_num, self.feature_dim, c_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cls_head(self.trunk(x)).flatten(1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, feature_dim): the trunk's output averaged over positions (what `fd_classifier` compares)."""
        return self.trunk(x).mean(dim=(2, 3))


def edit_targets(c_org: torch.Tensor, attribute_names: list[str] | tuple[str, ...]) -> list[torch.Tensor]:
    """One target label batch per attribute, as the paper's figures edit faces.

    A hair colour is set to 1 and the other selected hair colours to 0 (they exclude each
    other); any other attribute is flipped. Labels are 0/1 floats.
    """
    hair = [i for i, name in enumerate(attribute_names) if name in HAIR_COLORS]
    targets = []
    for i in range(len(attribute_names)):
        c_trg = c_org.clone()
        if i in hair:
            c_trg[:, hair] = 0.0
            c_trg[:, i] = 1.0
        else:
            c_trg[:, i] = 1.0 - c_trg[:, i]
        targets.append(c_trg)
    return targets


@torch.no_grad()
def edit_grid(G, images: np.ndarray, labels: np.ndarray, attributes: list[str]) -> np.ndarray:
    """The paper's figure: one row per input face, then one column per target attribute.
    `G` is a Generator or its export (ExportedGenerator); `labels` the faces' own 0/1 labels."""
    device = next(G.parameters()).device
    reals = to_float(images).to(device)
    c_org = torch.from_numpy(np.asarray(labels, np.float32)).to(device)
    columns = [reals] + [G(reals, c_trg) for c_trg in edit_targets(c_org, attributes)]
    rows = torch.stack(columns, dim=1).flatten(0, 1)  # image-major: each row one face
    return grid(to_uint8(rows), columns=len(columns))


# Builders from the architecture a checkpoint records (its "config"): training and inference share them.
def build_generator(config: dict) -> Generator:
    return Generator(len(config["attributes"]), config["g_conv_dim"], config["g_repeat_num"])


def build_discriminator(config: dict) -> Discriminator:
    return Discriminator(config["image_size"], len(config["attributes"]), config["d_conv_dim"], config["d_repeat_num"])


def build_classifier(config: dict) -> AttributeClassifier:
    return AttributeClassifier(config["image_size"], len(config["attributes"]), config["conv_dim"],
                               config["repeat_num"])
