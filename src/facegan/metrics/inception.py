"""The InceptionV3 that FID is defined with, as a feature extractor (Heusel et al. 2017).

Heusel et al. (2017) computed FID on pool3 features of the TensorFlow Inception graph
of 2015-12-05. `pytorch-fid` ports those weights onto torchvision's InceptionV3 with
four differences, reproduced here so that its weight file loads key for key:
- 1008 output classes (the graph's), no auxiliary head;
- the pooling branch of the 35x35 and 17x17 blocks (Mixed_5b..5d, 6b..6e) and of
  Mixed_7b averages over the valid pixels only (`count_include_pad=False`), as
  TensorFlow's average pooling with 'SAME' padding does;
- Mixed_7c pools with a max instead of an average (a known quirk of the graph);
- inputs in [0, 1] are resized to 299 x 299 bilinearly (no antialiasing), then
  scaled to [-1, 1].
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.models.inception import Inception3, InceptionA, InceptionC, InceptionE

FEATURES = 2048
INPUT_SIZE = 299


def _avg_pool_valid(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _max_pool(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


class FIDInceptionA(InceptionA):
    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return [self.branch1x1(x), branch5x5, branch3x3dbl, self.branch_pool(_avg_pool_valid(x))]


class FIDInceptionC(InceptionC):
    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        branch7x7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        branch7x7dbl = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                      self.branch7x7dbl_4, self.branch7x7dbl_5):
            branch7x7dbl = layer(branch7x7dbl)
        return [self.branch1x1(x), branch7x7, branch7x7dbl, self.branch_pool(_avg_pool_valid(x))]


class FIDInceptionE(InceptionE):
    def __init__(self, in_channels: int, *, max_pool: bool) -> None:
        super().__init__(in_channels)
        self.pool = _max_pool if max_pool else _avg_pool_valid

    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        branch3x3 = self.branch3x3_1(x)
        branch3x3 = torch.cat([self.branch3x3_2a(branch3x3), self.branch3x3_2b(branch3x3)], 1)
        branch3x3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        branch3x3dbl = torch.cat([self.branch3x3dbl_3a(branch3x3dbl), self.branch3x3dbl_3b(branch3x3dbl)], 1)
        return [self.branch1x1(x), branch3x3, branch3x3dbl, self.branch_pool(self.pool(x))]


class FIDInceptionV3(Inception3):
    """torchvision's InceptionV3 with pytorch-fid's blocks; `pool3` gives FID's features."""

    def __init__(self) -> None:
        super().__init__(num_classes=1008, aux_logits=False, init_weights=False)
        self.Mixed_5b = FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = FIDInceptionA(288, pool_features=64)
        self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7b = FIDInceptionE(1280, max_pool=False)
        self.Mixed_7c = FIDInceptionE(2048, max_pool=True)

    def pool3(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 2048) features of float NCHW RGB images in [0, 1] of any size."""
        x = F.interpolate(images, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        for layer in (self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3, self.maxpool1,
                      self.Conv2d_3b_1x1, self.Conv2d_4a_3x3, self.maxpool2,
                      self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a,
                      self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e,
                      self.Mixed_7a, self.Mixed_7b, self.Mixed_7c, self.avgpool):
            x = layer(x)
        return torch.flatten(x, 1)
