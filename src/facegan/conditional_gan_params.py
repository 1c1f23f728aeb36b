"""The training params StarGAN and HiFaceGAN share (`stargan.train`, `hifacegan.train`)."""
from __future__ import annotations

from dataclasses import dataclass

from facegan.params import betas_problems, setting


@dataclass(frozen=True)
class ConditionalGANTrain:
    """What StarGAN's and HiFaceGAN's training share: a seed, the iterations, a G and a D Adam
    whose rates decay linearly from `decay_start`, mirroring, checkpoints, logs and samples."""

    seed: int = setting(low=0)
    iterations: int = setting(low=1)
    batch: int = setting(low=1)
    g_lr: float = setting(high=1.0, positive=True)
    d_lr: float = setting(high=1.0, positive=True)
    betas: list[float] = setting()
    decay_start: int = setting(low=0)
    mirror: bool = setting()
    checkpoint_every: int = setting(low=1)
    log_every: int = setting(low=1)
    sample_images: int = setting(low=1, high=64)

    def rules(self, prefix: str) -> list[str]:
        """Adam's two betas in [0, 1), and a linear decay that starts within the run."""
        problems = betas_problems(f"{prefix}.betas", self.betas)
        if self.decay_start > self.iterations:
            problems.append(f"{prefix}.decay_start = {self.decay_start}: must be <= iterations ({self.iterations})")
        return problems
