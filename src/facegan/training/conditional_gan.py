"""What StarGAN's and HiFaceGAN's training share, and PGAN's does not: one G and one D, each
with its own Adam, started from the train seed, and learning rates that decay linearly
(`conditional_gan_params.ConditionalGANTrain`)."""
from __future__ import annotations

from typing import Callable

import torch

from facegan.conditional_gan_params import ConditionalGANTrain
from facegan.training.loop import LoopState, RunPaths, resume, run_meta


class GANState(LoopState):
    """parts: G, D, opt_G, opt_D."""

    G = property(lambda self: self.parts["G"])
    D = property(lambda self: self.parts["D"])
    opt_G = property(lambda self: self.parts["opt_G"])
    opt_D = property(lambda self: self.parts["opt_D"])


def setup_gan(train: ConditionalGANTrain, config: dict,
              builders: tuple[Callable[[dict], torch.nn.Module], Callable[[dict], torch.nn.Module]],
              inputs: dict[str, str], paths: RunPaths, device: torch.device, what: str,
              announce: bool = True) -> GANState:
    """The start of a run: G and D built from `config` by `builders` after seeding torch with
    the train seed, each with its own Adam, and the state's random generator seeded too; then
    resumed from a working checkpoint made from the same `inputs`."""
    torch.manual_seed(train.seed)
    G, D = (build(config).to(device) for build in builders)
    betas = tuple(float(b) for b in train.betas)
    state = GANState(
        parts={"G": G, "D": D,
               "opt_G": torch.optim.Adam(G.parameters(), lr=train.g_lr, betas=betas),
               "opt_D": torch.optim.Adam(D.parameters(), lr=train.d_lr, betas=betas)},
        rng=torch.Generator().manual_seed(train.seed),
        meta=run_meta(config, inputs),
    )  # fmt: skip
    resume(state, paths.work, what, announce)
    return state


def lr_at(iteration: int, base: float, iterations: int, decay_start: int) -> float:
    """`base` until `decay_start`, then falling linearly to 0 at `iterations`."""
    if iteration < decay_start:
        return base
    return base * (iterations - iteration) / max(iterations - decay_start, 1)


def decay_learning_rates(state: GANState, train: ConditionalGANTrain) -> None:
    """Set G's and D's learning rates for the state's iteration (`lr_at` of their base rates)."""
    for optimizer, base in ((state.opt_G, train.g_lr), (state.opt_D, train.d_lr)):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(state.iteration, base, train.iterations, train.decay_start)
