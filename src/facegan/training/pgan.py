"""Training PGAN one scale at a time (Karras et al. 2018, sections 3 and A.1).

Each scale is one DVC stage: `init_networks` writes the untrained 4x4 networks, and
`train_scale` grows the previous scale's networks by one block, fades the new block
in (alpha 1 -> 0 over `fade_iterations`), then stabilises. One critic step per
generator step, Adam reset at every scale, generator EMA after every step.

A working checkpoint is written every `checkpoint_every` iterations; a run that finds
one made from the same inputs (its fingerprint) resumes from it exactly: networks,
optimizers, EMA, iteration and every random state (`loop.py`).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from facegan.data.sources import file_digest
from facegan.images import grid, save_png, to_uint8
from facegan.models.layers import downscale_blend
from facegan.models.pgan import Discriminator, Generator, load_grown
from facegan.params import PGANParams, PGANScale, fingerprint
from facegan.training.checkpoint import load_checkpoint
from facegan.training.log import LossLog
from facegan.training.loop import LoopState, RunPaths, resume, run_loop, sample_batch, write_model
from facegan.training.losses import discriminator_loss, generator_loss

LOG_COLUMNS = ["loss_d", "loss_g", "wasserstein", "gp", "drift", "alpha", "kimg", "seconds"]


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


def init_networks(pgan: PGANParams) -> dict:
    """The untrained 4x4 networks, seeded: what the first scale starts from."""
    torch.manual_seed(pgan.train.seed)
    G, D = build_networks(pgan, 1)
    return {
        "config": network_config(pgan, 1),
        "G": G.state_dict(), "D": D.state_dict(), "G_ema": G.state_dict(),
        "fingerprint": fingerprint(pgan.model, pgan.train.seed),
    }  # fmt: skip


def grow_networks(pgan: PGANParams, previous: dict, depth: int) -> tuple[Generator, Discriminator, Generator]:
    """Networks at `depth` with the previous scale's weights; new layers seeded per scale."""
    if previous["config"]["depth"] not in (depth, depth - 1):
        raise ValueError(f"previous checkpoint has depth {previous['config']['depth']}, need {depth - 1}")
    torch.manual_seed(pgan.train.seed * 1000 + depth)
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
    """avg = decay * avg + (1 - decay) * G, parameter by parameter (REFERENCE 1, "AvG")."""
    for average, current in zip(G_ema.parameters(), G.parameters()):
        average.lerp_(current, 1.0 - decay)


def train_step(state: TrainState, reals: torch.Tensor, alpha: float, pgan: PGANParams) -> dict[str, float]:
    """One critic step then one generator step (n_critic = 1), then the EMA update."""
    train, batch = pgan.train, reals.shape[0]
    device = reals.device
    reals = downscale_blend(reals, alpha)

    def critic(x):
        return state.D(x, alpha)

    z = torch.randn(batch, pgan.model.latent_dim, generator=state.rng).to(device)
    u = torch.rand(batch, generator=state.rng).to(device)
    loss_d, parts = discriminator_loss(critic, reals, state.G(z, alpha), u, train.gp_weight, train.drift_weight)
    state.opt_D.zero_grad(set_to_none=True)
    loss_d.backward()
    state.opt_D.step()

    z = torch.randn(batch, pgan.model.latent_dim, generator=state.rng).to(device)
    state.D.requires_grad_(False)  # G's step needs no critic gradients
    loss_g = generator_loss(critic, state.G(z, alpha))
    state.opt_G.zero_grad(set_to_none=True)
    loss_g.backward()
    state.opt_G.step()
    state.D.requires_grad_(True)
    update_ema(state.G_ema, state.G, train.ema_decay)
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), **parts}


@dataclass(frozen=True)
class ScalePaths(RunPaths):
    """Where one scale's stage reads and writes (all declared in dvc.yaml)."""

    previous: Path  # the previous scale's (or init's) model.pt


def setup(pgan: PGANParams, base_lr: float, key: str, paths: ScalePaths, device: torch.device):
    """Grow the networks, make the optimizers, and resume from a matching working checkpoint."""
    scale = pgan.scales[key]
    depth = pgan.depth_of(key)
    previous = load_checkpoint(paths.previous)
    run_fingerprint = fingerprint(base_lr, pgan.model, pgan.train, scale, file_digest(paths.previous, "sha256"))
    G, D, G_ema = (net.to(device) for net in grow_networks(pgan, previous, depth))
    lr = scale.lr if scale.lr is not None else base_lr
    betas = tuple(float(b) for b in pgan.train.betas)
    state = TrainState(
        parts={
            "G": G, "D": D, "G_ema": G_ema,
            "opt_G": torch.optim.Adam(G.parameters(), lr=lr, betas=betas, eps=pgan.train.adam_eps),
            "opt_D": torch.optim.Adam(D.parameters(), lr=lr, betas=betas, eps=pgan.train.adam_eps),
        },
        rng=torch.Generator().manual_seed(pgan.train.seed * 1000 + depth),
        meta={"config": network_config(pgan, depth), "fingerprint": run_fingerprint},
    )  # fmt: skip
    resume(state, paths.work, f"scale {key}")
    return state


def train_scale(
    pgan: PGANParams, base_lr: float, key: str, images: np.ndarray, paths: ScalePaths, device: torch.device
) -> dict:
    """Train one scale on uint8 NHWC `images` to the end (or resume it), then write its outputs."""
    scale: PGANScale = pgan.scales[key]
    state = setup(pgan, base_lr, key, paths, device)
    log = LossLog(paths.work_log, LOG_COLUMNS, resume_iteration=state.iteration)

    def step() -> dict[str, float]:
        reals, _ = sample_batch(images, scale.batch, state.rng, pgan.train.mirror)
        return train_step(state, reals.to(device), alpha_at(state.iteration, scale.fade_iterations), pgan)

    def log_extra() -> dict[str, float]:  # after the step: its alpha, the images shown so far
        return {"alpha": alpha_at(state.iteration - 1, scale.fade_iterations),
                "kimg": state.iteration * scale.batch / 1000}

    trained = run_loop(state, scale.iterations, step, log=log, log_every=pgan.train.log_every,
                       checkpoint_every=pgan.train.checkpoint_every, work=paths.work, desc=f"pgan {key}px",
                       log_extra=log_extra)
    write_model(state, paths, keep=("G", "D", "G_ema"))
    fixed_z = torch.randn(pgan.train.sample_grid, pgan.model.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        samples = to_uint8(state.G_ema(fixed_z.to(device)))
    save_png(grid(samples), paths.out_dir / "samples.png", min_side=256)
    return {"iterations": state.iteration, "trained_now": trained, "seconds": state.seconds}


def load_averaged_generator(path: Path) -> tuple[Generator, dict]:
    """The averaged generator (G_ema) of a scale's model.pt, and the checkpoint."""
    checkpoint = load_checkpoint(path)
    config = checkpoint["config"]
    G = Generator(config["latent_dim"], config["channels"], config["depth"])
    G.load_state_dict(checkpoint["G_ema"])
    return G.eval(), checkpoint
