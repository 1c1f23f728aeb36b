"""HiFaceGAN's params: the `hifacegan` section (degradations, networks, training) and
`eval.hifacegan`, with their rules."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facegan.batch_shares import batch_split_problems
from facegan.conditional_gan_params import ConditionalGANTrain
from facegan.params import setting

# hifacegan.data.degradation: facegan.hifacegan.data (the official HiFaceGAN degradation types)
DEGRADATIONS = ("down", "noise", "blur", "jpeg", "full")


@dataclass(frozen=True)
class HiFaceGANData:
    """The degraded pairs (Yang et al. 2020, official code): training size, degradation type, seed."""

    image_size: int = setting(low=64, high=1024, power_of_two=True)  # G starts at S/32: 2x2 at least
    degradation: str = setting(choices=DEGRADATIONS)
    scale_ranges: bool = setting()  # the blur's pixel ranges (given for 512 px) times image_size / 512
    seed: int = setting(low=0)
    workers: int = setting(low=1, high=64)
    max_bad_fraction: float = setting(low=0.0, high=1.0)


@dataclass(frozen=True)
class HiFaceGANModel:
    """Widths (official HiFaceGAN code: ngf 64, or 48 on small GPUs; ndf 64; 2 scales of 4 layers; SPADE hidden 128)."""

    ngf: int = setting(low=1)
    ndf: int = setting(low=1)
    num_d: int = setting(low=1, high=4)
    n_layers_d: int = setting(low=1, high=6)
    spade_hidden: int = setting(low=1)


@dataclass(frozen=True)
class HiFaceGANTrain(ConditionalGANTrain):
    """Losses, TTUR Adam and schedule (official HiFaceGAN code): one G step and one D step per iteration."""

    lambda_feat: float = setting(low=0.0)
    lambda_vgg: float = setting(low=0.0)
    lambda_l1: float = setting(low=0.0)  # pixel L1: not in the paper (0 there)
    snapshots: int = setting(low=1)  # generator snapshots kept, one per checkpoint_every; the best is the model
    validation_images: int = setting(low=0)  # training pairs held out to choose among the snapshots

    def rules(self, prefix: str) -> list[str]:
        problems = super().rules(prefix)
        if self.snapshots > 1 and self.validation_images == 0:
            problems.append(f"{prefix}.snapshots = {self.snapshots} needs validation pairs to choose among them: "
                            f"set {prefix}.validation_images above 0, or snapshots to 1 (the last weights)")
        return problems


@dataclass(frozen=True)
class HiFaceGANParams:
    data: HiFaceGANData
    model: HiFaceGANModel
    train: HiFaceGANTrain


@dataclass(frozen=True)
class HiFaceGANEvalParams:
    """How HiFaceGAN is evaluated: test pairs per batch, restored images for FID."""

    batch: int = setting(low=1)
    fid_images: int = setting(low=2)


def batch_split(params: Any, problems: list[str]) -> None:
    """HiFaceGAN's batch splits into equal shares, one per process."""
    problems += batch_split_problems(params.compute, [("hifacegan.train.batch", params.hifacegan.train.batch, 1, 1)])
