"""PGAN's params: the `lr` and `pgan` sections (model, shared training knobs, one entry per
scale) and `eval.pgan`, with their rules."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from facegan.batch_shares import batch_split_problems
from facegan.params import ParamsError, betas_problems, setting, value
from facegan.pgan.batch_groups import MINIBATCH_GROUP_SIZE, stddev_group_size

LR = value(float, high=1.0, positive=True)  # the base learning rate of every scale without its own


@dataclass(frozen=True)
class PGANScale:
    """One growing phase (one DVC stage): `prev` names the stage whose checkpoint it grows."""

    prev: str
    iterations: int = setting(low=1)
    fade_iterations: int = setting(low=0)
    batch: int = setting(low=1)
    lr: Optional[float] = setting(None, high=1.0, positive=True)


@dataclass(frozen=True)
class PGANModel:
    """Architecture: latent size and feature maps per scale (Karras et al. 2018, table 2)."""

    latent_dim: int = setting(low=1)
    channels: list[int] = setting(low=1)


@dataclass(frozen=True)
class PGANTrain:
    """Knobs shared by every scale's training (Karras et al. 2018, appendix A.1: loss, Adam, EMA)."""

    seed: int = setting(low=0)
    betas: list[float] = setting()
    adam_eps: float = setting(positive=True)
    gp_weight: float = setting(low=0.0)
    drift_weight: float = setting(low=0.0)
    ema_decay: float = setting(low=0.0, high=1.0)
    mirror: bool = setting()
    checkpoint_every: int = setting(low=1)
    log_every: int = setting(low=1)
    sample_grid: int = setting(low=1, high=256)


@dataclass(frozen=True)
class PGANParams:
    """Progressive GAN (Karras et al. 2018): model, shared training knobs, one entry per scale."""

    model: PGANModel
    train: PGANTrain
    scales: dict[str, PGANScale] = setting()

    @property
    def resolution(self) -> int:
        return int(list(self.scales)[-1])

    def depth_of(self, key: str) -> int:
        """1 for the 4x4 scale, 2 for 8x8, ..."""
        if key not in self.scales:
            raise ParamsError(f"scale {key!r} is not in pgan.scales ({', '.join(self.scales)})")
        return list(self.scales).index(key) + 1

    def rules(self, prefix: str) -> list[str]:
        """Scales double from 4 and chain through `prev`; a width per scale; Adam's betas."""
        problems, previous = [], "init"
        for index, (key, scale) in enumerate(self.scales.items()):
            if key != str(4 * 2**index):
                return [f"{prefix}.scales: key {key!r} at position {index}: scales must be 4, 8, 16, ... in order"]
            if scale.prev != previous:
                problems.append(f"{prefix}.scales.{key}.prev = {scale.prev!r}: must be {previous!r}")
            if scale.fade_iterations > scale.iterations or (index == 0 and scale.fade_iterations):
                allowed = "0 (nothing to fade in at 4x4)" if index == 0 else f"<= iterations ({scale.iterations})"
                problems.append(f"{prefix}.scales.{key}.fade_iterations = {scale.fade_iterations}: must be {allowed}")
            previous = key
        if len(self.model.channels) < len(self.scales):
            problems.append(f"{prefix}.model.channels = {self.model.channels}: needs one entry per scale "
                            f"({len(self.scales)})")
        return problems + betas_problems(f"{prefix}.train.betas", self.train.betas)


@dataclass(frozen=True)
class PGANEvalParams:
    """How PGAN is evaluated (Karras et al. 2018, sections 5 and 6): image counts and seeds."""

    num_images: int = setting(low=2)
    batch: int = setting(low=1)
    seed: int = setting(low=0)
    swd_patches: int = setting(low=1)
    swd_directions: int = setting(low=1)
    swd_repeats: int = setting(low=1)
    ms_ssim_pairs: int = setting(low=1)
    fid_images: int = setting(low=2)


def batch_split(params: Any, problems: list[str]) -> None:
    """Every scale's batch splits into the processes' shares of whole minibatch-stddev groups."""
    problems += batch_split_problems(params.compute, [
        (f"pgan.scales.{key}.batch", scale.batch, stddev_group_size(scale.batch), MINIBATCH_GROUP_SIZE)
        for key, scale in params.pgan.scales.items()])


def resolution_matches_data(params: Any, problems: list[str]) -> None:
    """The last scale is the resolution of the prepared faces the evaluation reads."""
    if params.pgan.resolution != params.data.celeba.resolution:
        problems.append(f"pgan.scales ends at {params.pgan.resolution} px but data.celeba.resolution = "
                        f"{params.data.celeba.resolution}: make them equal")
