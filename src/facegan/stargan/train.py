"""Training StarGAN (Choi et al., CVPR 2018, section 3 and the official solver).

Every iteration trains D once: real images against their translation to target labels
drawn by permuting the batch's own labels (WGAN-GP, plus the attribute classification of
the real images). Every n_critic-th iteration then trains G: fool D, be classified as the
target, and come back to the input when translated back to its own labels (L1 cycle);
with `lambda_id` > 0 (not in the paper; the sample default only, docs/stargan.md) also stay the
input when asked for its own labels.
Both learning rates fall linearly to 0 from `decay_start` to the end, as the paper says
(the official code steps them every 1,000 iterations).

One DVC stage; its working checkpoint makes it resumable exactly (`loop.py`).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from facegan.images import save_image
from facegan.params import Sections
from facegan.stargan.data import PreparedStarGAN
from facegan.stargan.losses import stargan_discriminator_loss, stargan_generator_loss
from facegan.stargan.model import build_discriminator, build_generator, edit_grid
from facegan.stargan.params import StarGANParams, batch_split
from facegan.training.batch_loader import TrainingBatches
from facegan.training.compute import BatchShare, Compute, ComputeParams, Network
from facegan.training.conditional_gan import GANState, decay_learning_rates, setup_gan
from facegan.training.loop import RunPaths, StepValues, run_loop, write_model

TRAINING_SECTIONS = Sections({"stargan": StarGANParams, "compute": ComputeParams}, rules=(batch_split,))

LOG_COLUMNS = ["loss_d", "d_real", "d_fake", "d_cls", "gp", "loss_g", "g_fake", "g_cls", "g_rec", "g_id",
               "learning_rate"]


def network_config(stargan: StarGANParams) -> dict:
    model, data = stargan.model, stargan.data
    return {"attributes": list(data.attributes), "image_size": data.image_size,
            "g_conv_dim": model.g_conv_dim, "g_repeat_num": model.g_repeat_num,
            "d_conv_dim": model.d_conv_dim, "d_repeat_num": model.d_repeat_num}


def train_step(state: GANState, G: Network, D: Network, reals: torch.Tensor, c_org: torch.Tensor,
               stargan: StarGANParams, share: BatchShare) -> StepValues:
    """One critic step; a generator step as well on every n_critic-th iteration. `c_org` holds
    the whole global batch's labels: the targets permute them, and this process uses its share."""
    train = stargan.train
    decay_learning_rates(state, train)
    c_trg = share.of(c_org[torch.randperm(share.size, generator=state.rng).to(c_org.device)])
    c_org = share.of(c_org)
    u = share.of(torch.rand(share.size, generator=state.rng)).to(reals.device)
    with torch.no_grad():  # D's step needs no gradient through G
        fake = G.fixed(reals, c_trg)
    loss_d, parts = stargan_discriminator_loss(D, reals, fake, c_org, u, train.lambda_cls, train.lambda_gp, D.fp32)
    state.opt_D.zero_grad(set_to_none=True)
    loss_d.backward()
    state.opt_D.step()
    parts = {"loss_d": loss_d.detach(), **parts, "learning_rate": state.opt_D.param_groups[0]["lr"]}
    if (state.iteration + 1) % train.n_critic:
        return parts

    state.D.requires_grad_(False)  # G's step needs no critic gradients
    fake = G(reals, c_trg)
    reconstructed = G(fake, c_org)
    unchanged = G(reals, c_org) if train.lambda_id > 0 else None
    loss_g, g_parts = stargan_generator_loss(D.fixed, fake, reconstructed, reals, c_trg, train.lambda_cls,
                                             train.lambda_rec, unchanged, train.lambda_id)
    state.opt_G.zero_grad(set_to_none=True)
    loss_g.backward()
    state.opt_G.step()
    state.D.requires_grad_(True)
    return {**parts, "loss_g": loss_g.detach(), **g_parts}


def stargan_trainer(state: GANState, stargan: StarGANParams, compute: Compute, images: np.ndarray,
                    labels: np.ndarray, train_rows: np.ndarray) -> tuple[Callable[[dict], StepValues],
                                                                         TrainingBatches]:
    """The step on one loader item, and the loader's batches: what training and the benchmark run."""
    train, share = stargan.train, compute.share(stargan.train.batch)
    G, D = Network(state.G, compute), Network(state.D, compute, compilable=False)
    all_labels = torch.from_numpy(labels)

    def step(batch: dict) -> StepValues:
        c_org = all_labels[batch["rows"]].to(compute.device)
        return train_step(state, G, D, compute.images(batch["images"]), c_org, stargan, share)

    return step, TrainingBatches(images, share, train.seed, train.mirror, train_rows)


def train_stargan(stargan: StarGANParams, data: PreparedStarGAN, paths: RunPaths, inputs: dict[str, str],
                  compute: Compute) -> dict:
    """Train on the training split to the end (or resume a run made from the same `inputs`),
    then write model.pt and a grid of edited test faces."""
    train = stargan.train
    state = setup_gan(stargan.train, network_config(stargan), (build_generator, build_discriminator), inputs,
                      paths, compute.device, "StarGAN", announce=compute.main)
    step, batches = stargan_trainer(state, stargan, compute, data.images, data.labels, data.indices("train"))
    plotted = [name for name in LOG_COLUMNS[:-1] if name != "g_id" or train.lambda_id > 0]
    trained = run_loop(state, train.iterations, step, batches, compute=compute, paths=paths, columns=LOG_COLUMNS,
                       plotted=plotted, log_every=train.log_every, checkpoint_every=train.checkpoint_every,
                       desc="stargan")
    summary = {"iterations": state.iteration, "trained_now": trained, "seconds": state.seconds}
    if not compute.main:
        return summary
    write_model(state, paths, keep=("G", "D"))
    shown = data.indices("test")[: train.sample_images]
    save_image(edit_grid(state.G, data.images[shown], data.labels[shown], stargan.data.attributes),
             paths.out_dir / "samples.png", min_side=256)
    return summary
