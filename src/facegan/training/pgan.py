"""Training PGAN one scale at a time (Karras et al. 2018, sections 3 and A.1).

Each scale is one DVC stage: `init_networks` writes the untrained 4x4 networks, and
`train_scale` grows the previous scale's networks by one block, fades the new block
in (alpha 1 -> 0 over `fade_iterations`), then stabilises. One critic step per
generator step, Adam reset at every scale, generator EMA after every step.

A working checkpoint is written every `checkpoint_every` iterations; a run that finds
one made from the same inputs (its fingerprint) resumes from it exactly: networks,
optimizers, EMA, iteration and every random state.
"""
from __future__ import annotations

import copy
import hashlib
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from facegan.images import grid, save_png, to_float, to_uint8
from facegan.models.layers import downscale_blend
from facegan.models.pgan import Discriminator, Generator, load_grown
from facegan.params import PGANParams, PGANScale, fingerprint
from facegan.progress import progress
from facegan.training.checkpoint import load_checkpoint, restore_rng_states, rng_states, save_checkpoint
from facegan.training.log import LossLog
from facegan.training.losses import discriminator_loss, generator_loss

LOG_COLUMNS = ["loss_d", "loss_g", "wasserstein", "gp", "drift", "alpha", "kimg", "seconds"]


@dataclass
class TrainState:
    G: Generator
    D: Discriminator
    G_ema: Generator
    opt_G: torch.optim.Adam
    opt_D: torch.optim.Adam
    rng: torch.Generator  # every random draw of the loop comes from here
    iteration: int = 0
    seconds: float = 0.0  # training time before this process, for the log


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


def sample_reals(images: np.ndarray, batch: int, rng: torch.Generator, mirror: bool) -> torch.Tensor:
    """A random batch from the packed uint8 NHWC array, mirrored at random (official CelebA)."""
    indices = torch.randint(len(images), (batch,), generator=rng).numpy()
    order = np.argsort(indices)  # sorted reads are kinder to a memory-mapped file
    reals = np.empty((batch, *images.shape[1:]), np.uint8)
    reals[order] = images[indices[order]]
    reals = to_float(reals)
    if mirror:
        flip = torch.rand(batch, generator=rng) < 0.5
        reals[flip] = reals[flip].flip(3)
    return reals


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


def snapshot(state: TrainState, config: dict, run_fingerprint: str) -> dict:
    """Everything needed to continue exactly where the loop is."""
    return {
        "config": config, "fingerprint": run_fingerprint, "iteration": state.iteration,
        "seconds": state.seconds,
        "G": state.G.state_dict(), "D": state.D.state_dict(), "G_ema": state.G_ema.state_dict(),
        "opt_G": state.opt_G.state_dict(), "opt_D": state.opt_D.state_dict(),
        "rng": rng_states(state.rng),
    }  # fmt: skip


def restore(state: TrainState, checkpoint: dict) -> None:
    state.G.load_state_dict(checkpoint["G"])
    state.D.load_state_dict(checkpoint["D"])
    state.G_ema.load_state_dict(checkpoint["G_ema"])
    state.opt_G.load_state_dict(checkpoint["opt_G"])
    state.opt_D.load_state_dict(checkpoint["opt_D"])
    restore_rng_states(checkpoint["rng"], state.rng)
    state.iteration, state.seconds = checkpoint["iteration"], checkpoint["seconds"]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ScalePaths:
    """Where one scale's stage reads and writes (all declared in dvc.yaml)."""

    previous: Path  # the previous scale's (or init's) model.pt
    out_dir: Path  # model.pt, loss.tsv, samples.png; work/ holds the resumable state

    @property
    def work(self) -> Path:
        return self.out_dir / "work" / "checkpoint.pt"

    @property
    def work_log(self) -> Path:
        return self.out_dir / "work" / "loss.tsv"


def setup(pgan: PGANParams, base_lr: float, key: str, paths: ScalePaths, device: torch.device):
    """Grow the networks, make the optimizers, and resume from a matching working checkpoint."""
    scale = pgan.scales[key]
    depth = pgan.depth_of(key)
    previous = load_checkpoint(paths.previous)
    run_fingerprint = fingerprint(base_lr, pgan.model, pgan.train, scale, file_sha256(paths.previous))
    G, D, G_ema = (net.to(device) for net in grow_networks(pgan, previous, depth))
    lr = scale.lr if scale.lr is not None else base_lr
    betas = tuple(float(b) for b in pgan.train.betas)
    state = TrainState(
        G=G, D=D, G_ema=G_ema,
        opt_G=torch.optim.Adam(G.parameters(), lr=lr, betas=betas, eps=pgan.train.adam_eps),
        opt_D=torch.optim.Adam(D.parameters(), lr=lr, betas=betas, eps=pgan.train.adam_eps),
        rng=torch.Generator().manual_seed(pgan.train.seed * 1000 + depth),
    )  # fmt: skip
    if paths.work.exists():
        working = load_checkpoint(paths.work)
        if working["fingerprint"] == run_fingerprint:
            restore(state, working)
            print(f"resuming scale {key} from iteration {state.iteration} ({paths.work})", file=sys.stderr)
        else:
            print(f"ignoring {paths.work}: made from other params or inputs; starting afresh", file=sys.stderr)
    return state, network_config(pgan, depth), run_fingerprint


def train_scale(
    pgan: PGANParams, base_lr: float, key: str, images: np.ndarray, paths: ScalePaths, device: torch.device
) -> dict:
    """Train one scale on uint8 NHWC `images` to the end (or resume it), then write its outputs."""
    scale: PGANScale = pgan.scales[key]
    state, config, run_fingerprint = setup(pgan, base_lr, key, paths, device)
    log = LossLog(paths.work_log, LOG_COLUMNS, resume_iteration=state.iteration)
    start, seconds_before, started_at = state.iteration, state.seconds, time.monotonic()
    for _ in progress(range(start, scale.iterations), total=scale.iterations, initial=start, desc=f"pgan {key}px"):
        alpha = alpha_at(state.iteration, scale.fade_iterations)
        reals = sample_reals(images, scale.batch, state.rng, pgan.train.mirror).to(device)
        log.add(train_step(state, reals, alpha, pgan))
        state.iteration += 1
        state.seconds = seconds_before + time.monotonic() - started_at
        done = state.iteration == scale.iterations
        if state.iteration % pgan.train.log_every == 0 or done:
            kimg = state.iteration * scale.batch / 1000
            log.write(state.iteration, {"alpha": alpha, "kimg": kimg, "seconds": state.seconds})
        if state.iteration % pgan.train.checkpoint_every == 0 or done:
            save_checkpoint(paths.work, snapshot(state, config, run_fingerprint))
    return write_scale_outputs(state, config, run_fingerprint, pgan, paths, trained=state.iteration - start)


def write_scale_outputs(state, config, run_fingerprint, pgan, paths: ScalePaths, trained: int) -> dict:
    # No wall time or optimizer state in model.pt: its bytes depend only on the inputs,
    # so DVC sees an identical file on any machine (the time is in loss.tsv).
    model = {key: value for key, value in snapshot(state, config, run_fingerprint).items()
             if key in ("config", "fingerprint", "iteration", "G", "D", "G_ema")}  # fmt: skip
    save_checkpoint(paths.out_dir / "model.pt", model)
    shutil.copyfile(paths.work_log, paths.out_dir / "loss.tsv")
    fixed_z = torch.randn(pgan.train.sample_grid, pgan.model.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        samples = to_uint8(state.G_ema(fixed_z.to(next(state.G_ema.parameters()).device)))
    save_png(grid(samples), paths.out_dir / "samples.png", min_side=256)
    return {"iterations": state.iteration, "trained_now": trained, "seconds": state.seconds}


def load_averaged_generator(path: Path) -> tuple[Generator, dict]:
    """The averaged generator (G_ema) of a scale's model.pt, and the checkpoint."""
    checkpoint = load_checkpoint(path)
    config = checkpoint["config"]
    G = Generator(config["latent_dim"], config["channels"], config["depth"])
    G.load_state_dict(checkpoint["G_ema"])
    return G.eval(), checkpoint
