"""Training StarGAN (Choi et al., CVPR 2018, section 3 and the official solver; REFERENCE 3).

Every iteration trains D once: real images against their translation to target labels
drawn by permuting the batch's own labels (WGAN-GP, plus the attribute classification of
the real images). Every n_critic-th iteration then trains G: fool D, be classified as the
target, and come back to the input when translated back to its own labels (L1 cycle).
Both learning rates fall linearly to 0 from `decay_start` to the end, as the paper says
(the official code steps them every 1,000 iterations).

One DVC stage; its working checkpoint makes it resumable exactly (`loop.py`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from facegan.data.stargan import PreparedStarGAN
from facegan.images import grid, save_png, to_float, to_uint8
from facegan.models.stargan import Discriminator, Generator, edit_targets
from facegan.params import StarGANParams, fingerprint
from facegan.training.checkpoint import load_checkpoint
from facegan.training.log import LossLog
from facegan.training.loop import GANState, RunPaths, lr_at, resume, run_loop, sample_batch, seeded_gan, write_model
from facegan.training.losses import stargan_discriminator_loss, stargan_generator_loss

LOG_COLUMNS = ["loss_d", "d_real", "d_fake", "d_cls", "gp", "loss_g", "g_fake", "g_cls", "g_rec", "lr", "seconds"]


def network_config(stargan: StarGANParams) -> dict:
    model, data = stargan.model, stargan.data
    return {"attributes": list(data.attributes), "image_size": data.image_size,
            "g_conv_dim": model.g_conv_dim, "g_repeat_num": model.g_repeat_num,
            "d_conv_dim": model.d_conv_dim, "d_repeat_num": model.d_repeat_num}


def build_generator(config: dict) -> Generator:
    return Generator(len(config["attributes"]), config["g_conv_dim"], config["g_repeat_num"])


def build_discriminator(config: dict) -> Discriminator:
    return Discriminator(config["image_size"], len(config["attributes"]), config["d_conv_dim"], config["d_repeat_num"])


def train_step(state: GANState, reals: torch.Tensor, c_org: torch.Tensor, stargan: StarGANParams) -> dict[str, float]:
    """One critic step; a generator step as well on every n_critic-th iteration."""
    train = stargan.train
    for optimizer, base in ((state.opt_G, train.g_lr), (state.opt_D, train.d_lr)):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(state.iteration, base, train.iterations, train.decay_start)
    c_trg = c_org[torch.randperm(len(c_org), generator=state.rng).to(c_org.device)]
    u = torch.rand(len(reals), generator=state.rng).to(reals.device)
    with torch.no_grad():  # D's step needs no gradient through G
        fake = state.G(reals, c_trg)
    loss_d, parts = stargan_discriminator_loss(state.D, reals, fake, c_org, u, train.lambda_cls, train.lambda_gp)
    state.opt_D.zero_grad(set_to_none=True)
    loss_d.backward()
    state.opt_D.step()
    parts = {"loss_d": loss_d.item(), **parts, "lr": state.opt_D.param_groups[0]["lr"]}
    if (state.iteration + 1) % train.n_critic:
        return parts

    state.D.requires_grad_(False)  # G's step needs no critic gradients
    fake = state.G(reals, c_trg)
    reconstructed = state.G(fake, c_org)
    loss_g, g_parts = stargan_generator_loss(state.D, fake, reconstructed, reals, c_trg,
                                             train.lambda_cls, train.lambda_rec)
    state.opt_G.zero_grad(set_to_none=True)
    loss_g.backward()
    state.opt_G.step()
    state.D.requires_grad_(True)
    return {**parts, "loss_g": loss_g.item(), **g_parts}


def setup(stargan: StarGANParams, data_fingerprint: str, paths: RunPaths, device: torch.device) -> GANState:
    """Seeded networks and optimizers, resumed from a matching working checkpoint."""
    train, config = stargan.train, network_config(stargan)
    run = fingerprint(stargan.data, stargan.model, train, data_fingerprint)
    state = seeded_gan(lambda: (build_generator(config), build_discriminator(config)), seed=train.seed,
                       g_lr=train.g_lr, d_lr=train.d_lr, betas=train.betas, device=device,
                       meta={"config": config, "fingerprint": run})
    resume(state, paths.work, "StarGAN")
    return state


def train_stargan(stargan: StarGANParams, data: PreparedStarGAN, paths: RunPaths, device: torch.device) -> dict:
    """Train on the training split to the end (or resume), then write model.pt, loss.tsv
    and a grid of edited test faces."""
    train = stargan.train
    state = setup(stargan, data.fingerprint, paths, device)
    log = LossLog(paths.work_log, LOG_COLUMNS, resume_iteration=state.iteration)
    labels, train_rows = torch.from_numpy(data.labels), data.indices("train")

    def step() -> dict[str, float]:
        reals, rows = sample_batch(data.images, train.batch, state.rng, train.mirror, train_rows)
        return train_step(state, reals.to(device), labels[rows].to(device), stargan)

    trained = run_loop(state, train.iterations, step, log=log, log_every=train.log_every,
                       checkpoint_every=train.checkpoint_every, work=paths.work, desc="stargan")
    write_model(state, paths, keep=("G", "D"))
    shown = data.indices("test")[: train.sample_images]
    save_png(edit_grid(state.G, data.images[shown], data.labels[shown], stargan.data.attributes),
             paths.out_dir / "samples.png", min_side=256)
    return {"iterations": state.iteration, "trained_now": trained, "seconds": state.seconds}


@torch.no_grad()
def edit_grid(G, images: np.ndarray, labels: np.ndarray, attributes: list[str]) -> np.ndarray:
    """The paper's figure: one row per input face, then one column per target attribute.
    `G` is a Generator or its TorchScript export; `labels` the faces' own 0/1 labels."""
    device = next(G.parameters()).device
    reals = to_float(images).to(device)
    c_org = torch.from_numpy(np.asarray(labels, np.float32)).to(device)
    columns = [reals] + [G(reals, c_trg) for c_trg in edit_targets(c_org, attributes)]
    rows = torch.stack(columns, dim=1).flatten(0, 1)  # image-major: each row one face
    return grid(to_uint8(rows), columns=len(columns))


def load_generator(path: Path) -> tuple[Generator, dict]:
    """StarGAN's generator from a model.pt, and the checkpoint (config, attributes, iteration)."""
    checkpoint = load_checkpoint(path)
    G = build_generator(checkpoint["config"])
    G.load_state_dict(checkpoint["G"])
    return G.eval(), checkpoint
