"""HiFaceGAN training (Yang et al. 2020, section 4 and the official code): LSGAN + feature matching + VGG19 perceptual loss, TTUR Adam.

Each iteration is one generator step, then one discriminator step on a freshly generated
(detached) restoration, as the reference's trainer does. Learning rates are constant
until `decay_start`, then fall linearly to 0. The perceptual loss needs torchvision's
VGG19 weights; with `lambda_vgg: 0` (the sample default) it is off and nothing is loaded.
`lambda_l1` weighs an L1 pixel loss |G(x) - y| that the paper does not have (0 there):
the sample default uses it in the perceptual loss's place, to tie the restoration to the
clean face when the VGG19 weights cannot be had (docs/hifacegan.md).

The model is chosen, not just the last weights: the generator is kept at each of the last
`snapshots` working checkpoints, and the one whose restorations of a validation split
score the highest PSNR becomes model.pt. The reference scores its last 5 epoch checkpoints
on the test set; here the validation pairs are the last `validation_images` of the
training folders (by name), held out of training, and the test set is never looked at.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

from facegan.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from facegan.errors import UserError
from facegan.hifacegan.data import PreparedFFHQ
from facegan.hifacegan.losses import feature_matching_loss, lsgan_loss, perceptual_loss
from facegan.hifacegan.model import build_discriminator, build_generator, restoration_grid, restore
from facegan.hifacegan.params import HiFaceGANParams, batch_split
from facegan.images import save_image
from facegan.metrics.psnr_ssim import psnr_ssim_pairs
from facegan.params import Sections
from facegan.training.batch_loader import TrainingBatches
from facegan.training.compute import Compute, ComputeParams, Network
from facegan.training.conditional_gan import GANState, decay_learning_rates, setup_gan
from facegan.training.loop import RunPaths, StepValues, run_loop, write_model

if TYPE_CHECKING:  # torchvision takes seconds to import: only a run with the perceptual loss loads it
    from facegan.pretrained import VGG19Features

TRAINING_SECTIONS = Sections({"hifacegan": HiFaceGANParams, "compute": ComputeParams},
                             rules=(batch_split,))

LOG_COLUMNS = ["loss_g", "g_gan", "g_feat", "g_vgg", "g_l1", "loss_d", "d_real", "d_fake", "learning_rate"]


def network_config(hifacegan: HiFaceGANParams) -> dict:
    model = hifacegan.model
    return {"image_size": hifacegan.data.image_size, "ngf": model.ngf, "spade_hidden": model.spade_hidden,
            "ndf": model.ndf, "num_d": model.num_d, "n_layers_d": model.n_layers_d}


def train_step(state: GANState, G: Network, D: Network, degraded: torch.Tensor, clean: torch.Tensor,
               hifacegan: HiFaceGANParams, vgg: Callable | None) -> StepValues:
    train = hifacegan.train
    decay_learning_rates(state, train)

    state.D.requires_grad_(False)  # G's step needs no critic gradients
    restored = G(degraded)
    on_fake = D.fixed(degraded, restored)
    with torch.no_grad():
        on_real = D.fixed(degraded, clean)
    g_gan = lsgan_loss(on_fake, real=True)
    g_feat = train.lambda_feat * feature_matching_loss(on_fake, on_real)
    g_vgg = train.lambda_vgg * perceptual_loss(vgg, restored, clean) if vgg is not None else clean.new_zeros(())
    g_l1 = train.lambda_l1 * (restored - clean).abs().mean()
    loss_g = g_gan + g_feat + g_vgg + g_l1
    state.opt_G.zero_grad(set_to_none=True)
    loss_g.backward()
    state.opt_G.step()
    state.D.requires_grad_(True)

    with torch.no_grad():
        restored = G.fixed(degraded)
    d_fake = lsgan_loss(D(degraded, restored), real=False)
    d_real = lsgan_loss(D(degraded, clean), real=True)
    loss_d = d_fake + d_real
    state.opt_D.zero_grad(set_to_none=True)
    loss_d.backward()
    state.opt_D.step()
    logged = {"loss_g": loss_g, "g_gan": g_gan, "g_feat": g_feat, "g_vgg": g_vgg, "g_l1": g_l1, "loss_d": loss_d,
              "d_real": d_real, "d_fake": d_fake}
    return {**{name: value.detach() for name, value in logged.items()},
            "learning_rate": state.opt_G.param_groups[0]["lr"]}


def hifacegan_trainer(state: GANState, hifacegan: HiFaceGANParams, compute: Compute, pairs: np.ndarray,
                      vgg: VGG19Features | None) -> tuple[Callable[[dict], StepValues], TrainingBatches]:
    """The step on one loader item, and the loader's batches: what training and the benchmark run."""
    train, share = hifacegan.train, compute.share(hifacegan.train.batch)
    G, D = Network(state.G, compute), Network(state.D, compute)
    features = functools.partial(compute.run, vgg.to(compute.device)) if train.lambda_vgg > 0 else None

    def step(batch: dict) -> StepValues:
        degraded, clean = (compute.images(batch["images"][:, side]) for side in (0, 1))
        return train_step(state, G, D, degraded, clean, hifacegan, features)

    return step, TrainingBatches(pairs, share, train.seed, train.mirror)


def split_validation(pairs: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(training, validation) pairs: the last `count` of the training folders' pairs are held out."""
    if count >= len(pairs):
        raise UserError(f"hifacegan.train.validation_images = {count} leaves none of the {len(pairs)} training pairs "
                        "to train on: lower it, or widen data.ffhq.train_folders")
    return pairs[: len(pairs) - count], pairs[len(pairs) - count :]


def _snapshot_path(paths: RunPaths, iteration: int) -> Path:
    return paths.snapshots / f"G-{iteration:08d}.pt"


def _snapshots(paths: RunPaths) -> list[Path]:
    return sorted(paths.snapshots.glob("G-*.pt"))  # zero-padded: in iteration order


def keep_snapshot(state: GANState, paths: RunPaths, keep: int) -> None:
    """The generator at this iteration into work/snapshots/, then only the last `keep` there."""
    save_checkpoint(_snapshot_path(paths, state.iteration), {"iteration": state.iteration, "G": state.G.state_dict()})
    for old in _snapshots(paths)[:-keep]:
        old.unlink()


def drop_snapshots_after(paths: RunPaths, iteration: int) -> None:
    """Snapshots of another run (a fresh start: all) or of iterations a resumed run redoes."""
    for path in _snapshots(paths):
        if int(path.stem.split("-")[1]) > iteration:
            path.unlink()


def choose_snapshot(G: torch.nn.Module, paths: RunPaths, validation: np.ndarray, batch: int) -> dict:
    """Load into G the snapshot whose restorations of the `validation` pairs have the highest
    mean PSNR; the record of the choice (every snapshot's score, the one chosen). Without
    validation pairs (snapshots: 1) the last snapshot, which G holds, is the model."""
    snapshots = _snapshots(paths)
    if not snapshots:
        raise UserError(f"{paths.snapshots} holds no generator snapshot to choose the model from (deleted?): "
                        f"delete {paths.work.parent} and run the stage again to retrain")
    if len(validation) == 0:
        return {"metric": None, "validation_images": 0, "scores": {},
                "chosen_iteration": int(snapshots[-1].stem.split("-")[1])}
    scores = {}
    for path in snapshots:
        try:
            snapshot = load_checkpoint(path, writer=None)
        except CheckpointError as error:  # a disk's damage: choose among the others
            print(f"leaving out a damaged snapshot: {error}", file=sys.stderr)
            continue
        G.load_state_dict(snapshot["G"])
        psnr, _ = psnr_ssim_pairs(restore(G, validation[:, 0], batch), validation[:, 1])
        scores[snapshot["iteration"]] = float(psnr.mean())
    if not scores:
        raise UserError(f"no snapshot in {paths.snapshots} can be read: delete {paths.work.parent} and run the "
                        "stage again to retrain")
    chosen = max(scores, key=scores.get)
    G.load_state_dict(load_checkpoint(_snapshot_path(paths, chosen))["G"])
    return {"metric": "mean PSNR of the restored validation pairs (dB)",
            "validation_images": len(validation), "scores": {str(it): score for it, score in scores.items()},
            "chosen_iteration": chosen}


def train_hifacegan(hifacegan: HiFaceGANParams, data: PreparedFFHQ, paths: RunPaths, inputs: dict[str, str],
                    compute: Compute, vgg: VGG19Features | None = None) -> dict:
    """Train on the training pairs but the validation ones to the end (or resume a run made
    from the same `inputs`), choose the model among the last snapshots on the validation
    pairs, then write model.pt (with the choice) and samples.png (degraded |
    restored | clean test faces). `vgg` is required when hifacegan.train.lambda_vgg > 0."""
    train = hifacegan.train
    if train.lambda_vgg > 0 and vgg is None:
        raise ValueError("hifacegan.train.lambda_vgg > 0 needs the VGG19 features")
    if data.image_size != hifacegan.data.image_size:
        raise ValueError(f"the pairs are {data.image_size} px, params say {hifacegan.data.image_size}")
    training, validation = split_validation(data.pairs["train"], train.validation_images)
    state = setup_gan(hifacegan.train, network_config(hifacegan), (build_generator, build_discriminator), inputs,
                      paths, compute.device, "HiFaceGAN", announce=compute.main)
    step, batches = hifacegan_trainer(state, hifacegan, compute, training, vgg)
    if compute.main:
        drop_snapshots_after(paths, state.iteration)
    off = {"g_vgg": train.lambda_vgg == 0, "g_l1": train.lambda_l1 == 0}
    plotted = [name for name in LOG_COLUMNS[:-1] if not off.get(name)]
    trained = run_loop(state, train.iterations, step, batches, compute=compute, paths=paths, columns=LOG_COLUMNS,
                       plotted=plotted, log_every=train.log_every, checkpoint_every=train.checkpoint_every,
                       desc="hifacegan",
                       on_checkpoint=lambda: keep_snapshot(state, paths, train.snapshots))
    summary = {"iterations": state.iteration, "trained_now": trained, "seconds": state.seconds}
    if not compute.main:
        return summary
    state.meta["choice"] = choose_snapshot(state.G, paths, validation, train.batch)
    summary["chosen_iteration"] = state.meta["choice"]["chosen_iteration"]
    write_model(state, paths, keep=("G",))
    shown = data.pairs["test"][: train.sample_images]
    save_image(restoration_grid(shown, restore(state.G, shown[:, 0])), paths.out_dir / "samples.png",
             min_side=256)
    return summary
