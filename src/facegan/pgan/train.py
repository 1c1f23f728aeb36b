"""Training PGAN one scale at a time (Karras et al. 2018, sections 3 and A.1).

Each scale is one DVC stage: `init_networks` writes the untrained 4x4 networks, and
`train_scale` grows the previous scale's networks by one block, fades the new block
in (alpha 1 -> 0 over `fade_iterations`), then stabilises. One critic step per
generator step, Adam reset at every scale, generator EMA after every step.

A working checkpoint is written every `checkpoint_every` iterations; a run that finds
one made from the same inputs (data, params, code and the previous scale's model:
`inputs.py`) resumes from it exactly: networks, optimizers, EMA, iteration and every
random state (`loop.py`).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from facegan.checkpoint import MODEL_FIELDS, Checkpoint, load_checkpoint
from facegan.images import grid, save_image, to_uint8
from facegan.params import Sections
from facegan.pgan.batch_groups import stddev_group_size
from facegan.pgan.layers import downscale_blend
from facegan.pgan.model import Discriminator, Generator, load_grown
from facegan.pgan.params import LR, PGANParams, PGANScale, batch_split
from facegan.training.batch_loader import TrainingBatches
from facegan.training.compute import BatchShare, Compute, ComputeParams, Network
from facegan.training.loop import LoopState, RunPaths, StepValues, resume, run_loop, run_meta, write_model
from facegan.training.wgan_gp import discriminator_loss, generator_loss

TRAINING_SECTIONS = Sections({"lr": LR, "pgan": PGANParams, "compute": ComputeParams}, rules=(batch_split,))

LOG_COLUMNS = ["loss_d", "loss_g", "wasserstein", "gp", "drift", "alpha", "kimg"]
PLOTTED = ["loss_d", "loss_g", "wasserstein", "gp", "drift", "alpha"]


class TrainState(LoopState):
    """parts: G, D, G_ema, opt_G, opt_D."""

    G = property(lambda self: self.parts["G"])
    D = property(lambda self: self.parts["D"])
    G_ema = property(lambda self: self.parts["G_ema"])
    opt_G = property(lambda self: self.parts["opt_G"])
    opt_D = property(lambda self: self.parts["opt_D"])


def build_networks(pgan: PGANParams, depth: int) -> tuple[Generator, Discriminator]:
    model = pgan.model
    return Generator(model.latent_dim, model.channels, depth), Discriminator(model.channels, depth)


def network_config(pgan: PGANParams, depth: int) -> dict:
    return {"latent_dim": pgan.model.latent_dim, "channels": list(pgan.model.channels), "depth": depth}


def init_networks(pgan: PGANParams, inputs: dict[str, str]) -> Checkpoint:
    """The untrained 4x4 networks, seeded: what the first scale starts from."""
    torch.manual_seed(pgan.train.seed)
    G, D = build_networks(pgan, 1)
    meta = {key: value for key, value in run_meta(network_config(pgan, 1), inputs).items() if key in MODEL_FIELDS}
    return {"G": G.state_dict(), "D": D.state_dict(), "G_ema": G.state_dict(), **meta}


def grow_networks(pgan: PGANParams, previous: dict, depth: int) -> tuple[Generator, Discriminator, Generator]:
    """Networks at `depth` with the previous scale's weights; new layers seeded per scale."""
    if previous["config"]["depth"] not in (depth, depth - 1):
        raise ValueError(f"previous checkpoint has depth {previous['config']['depth']}, need {depth - 1}")
    torch.manual_seed(scale_seed(pgan, depth))
    G, D = build_networks(pgan, depth)
    load_grown(G, previous["G"])
    load_grown(D, previous["D"])
    G_ema = copy.deepcopy(G)
    load_grown(G_ema, previous["G_ema"])  # new layers of the average start as G's own
    return G, D, G_ema


def alpha_at(iteration: int, fade_iterations: int) -> float:
    """Linear fade: 1 at the first iteration of a new scale, 0 from `fade_iterations` on."""
    if fade_iterations <= 0:
        return 0.0
    return max(0.0, 1.0 - iteration / fade_iterations)


@torch.no_grad()
def update_ema(G_ema: torch.nn.Module, G: torch.nn.Module, decay: float) -> None:
    """avg = decay * avg + (1 - decay) * G, parameter by parameter (Karras et al. 2018, appendix A.1;
    decay 0.999 in the official code)."""
    for average, current in zip(G_ema.parameters(), G.parameters()):
        average.lerp_(current, 1.0 - decay)


def train_step(state: TrainState, G: Network, D: Network, reals: torch.Tensor, alpha: float, pgan: PGANParams,
               share: BatchShare) -> StepValues:
    """One critic step then one generator step (n_critic = 1), then the EMA update. Latents and
    mixing factors are drawn for the whole global batch; this process uses its share."""
    train, latent, device = pgan.train, pgan.model.latent_dim, reals.device
    reals = downscale_blend(reals, alpha)
    z = share.of(torch.randn(share.size, latent, generator=state.rng)).to(device)
    u = share.of(torch.rand(share.size, generator=state.rng)).to(device)
    with torch.no_grad():  # the critic's step needs no gradient through G
        fakes = G.fixed(z, alpha)
    loss_d, parts = discriminator_loss(lambda x: D(x, alpha), reals, fakes, u, train.gp_weight, train.drift_weight,
                                       penalty_critic=lambda x: D.fp32(x, alpha))
    state.opt_D.zero_grad(set_to_none=True)
    loss_d.backward()
    state.opt_D.step()

    z = share.of(torch.randn(share.size, latent, generator=state.rng)).to(device)
    state.D.requires_grad_(False)  # G's step needs no critic gradients
    loss_g = generator_loss(lambda x: D.fixed(x, alpha), G(z, alpha))
    state.opt_G.zero_grad(set_to_none=True)
    loss_g.backward()
    state.opt_G.step()
    state.D.requires_grad_(True)
    update_ema(state.G_ema, state.G, train.ema_decay)
    return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(), **parts}


@dataclass(frozen=True)
class ScalePaths(RunPaths):
    """Where one scale's stage reads and writes (all declared in dvc.yaml)."""

    previous: Path  # the previous scale's (or init's) model.pt


def setup(pgan: PGANParams, base_lr: float, key: str, paths: ScalePaths, inputs: dict[str, str],
          device: torch.device, announce: bool = True) -> TrainState:
    """Grow the networks, make the optimizers, and resume from a working checkpoint made
    from the same `inputs`."""
    state = new_state(pgan, base_lr, key, load_checkpoint(paths.previous), device, inputs)
    resume(state, paths.work, f"scale {key}", announce)
    return state


def new_state(pgan: PGANParams, base_lr: float, key: str, previous: dict, device: torch.device,
              inputs: dict[str, str]) -> TrainState:
    """The scale's networks grown from the `previous` scale's checkpoint, fresh optimizers
    and the scale's seeded random generator."""
    scale, depth = pgan.scales[key], pgan.depth_of(key)
    G, D, G_ema = (net.to(device) for net in grow_networks(pgan, previous, depth))
    lr = scale.lr if scale.lr is not None else base_lr
    betas = tuple(float(b) for b in pgan.train.betas)
    return TrainState(
        parts={
            "G": G, "D": D, "G_ema": G_ema,
            "opt_G": torch.optim.Adam(G.parameters(), lr=lr, betas=betas, eps=pgan.train.adam_eps),
            "opt_D": torch.optim.Adam(D.parameters(), lr=lr, betas=betas, eps=pgan.train.adam_eps),
        },
        rng=torch.Generator().manual_seed(scale_seed(pgan, depth)),
        meta=run_meta(network_config(pgan, depth), inputs),
    )  # fmt: skip


def scale_seed(pgan: PGANParams, depth: int) -> int:
    """The seed of the scale at `depth`: its new layers' initial weights and its training draws."""
    return pgan.train.seed * 1000 + depth


def batch_share(pgan: PGANParams, key: str, compute: Compute) -> BatchShare:
    """This process's share of the scale's global batch, whole minibatch-stddev groups each."""
    batch = pgan.scales[key].batch
    return compute.share(batch, stddev_group_size(batch))


def scale_trainer(state: TrainState, pgan: PGANParams, key: str, compute: Compute,
                  images: np.ndarray) -> tuple[Callable[[dict], StepValues], TrainingBatches]:
    """The step on one loader item, and the loader's batches: what training and the benchmark run."""
    scale, share, depth = pgan.scales[key], batch_share(pgan, key, compute), pgan.depth_of(key)
    grown = depth > 1  # the earlier scales' RGB layers sit idle (all but the fade's)
    G = Network(state.G, compute, partly_used=grown)
    D = Network(state.D, compute, compilable=False, partly_used=grown)

    def step(batch: dict) -> StepValues:
        alpha = alpha_at(state.iteration, scale.fade_iterations)
        return train_step(state, G, D, compute.images(batch["images"]), alpha, pgan, share)

    return step, TrainingBatches(images, share, scale_seed(pgan, depth), pgan.train.mirror)


def train_scale(pgan: PGANParams, base_lr: float, key: str, images: np.ndarray, paths: ScalePaths,
                inputs: dict[str, str], compute: Compute) -> dict:
    """Train one scale on uint8 NHWC `images` to the end (or resume a run made from the same
    `inputs`), then write its outputs."""
    scale: PGANScale = pgan.scales[key]
    state = setup(pgan, base_lr, key, paths, inputs, compute.device, announce=compute.main)
    step, batches = scale_trainer(state, pgan, key, compute, images)

    def log_extra() -> dict[str, float]:  # after the step: its alpha, the images shown so far
        return {"alpha": alpha_at(state.iteration - 1, scale.fade_iterations),
                "kimg": state.iteration * scale.batch / 1000}

    trained = run_loop(state, scale.iterations, step, batches, compute=compute, paths=paths, columns=LOG_COLUMNS,
                       plotted=PLOTTED, log_every=pgan.train.log_every, checkpoint_every=pgan.train.checkpoint_every,
                       desc=f"pgan {key}px", log_extra=log_extra)
    summary = {"iterations": state.iteration, "trained_now": trained, "seconds": state.seconds}
    if not compute.main:
        return summary
    write_model(state, paths, keep=("G", "D", "G_ema"))
    fixed_z = torch.randn(pgan.train.sample_grid, pgan.model.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        samples = to_uint8(state.G_ema(fixed_z.to(compute.device)))
    save_image(grid(samples), paths.out_dir / "samples.png", min_side=256)
    return summary
