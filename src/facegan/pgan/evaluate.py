"""PGAN evaluation (Karras et al. 2018, sections 5 and 6).

Fakes come from the averaged generator, streamed in batches and converted to uint8
exactly as the paper does; reals are drawn from the packed training images. SWD is
reported per pyramid level (x1e3) with the real-vs-real noise floor beside it,
MS-SSIM over consecutive pairs of generated images (real pairs given for scale), and
FID between generated and real images when the Inception weights are present.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facegan.images import array_batches, grid, save_image
from facegan.inference import TrainedModel
from facegan.metrics.fid import fid
from facegan.metrics.ms_ssim import MIN_SIZE, ms_ssim
from facegan.metrics.swd import sliced_wasserstein
from facegan.pgan.inference import LATENT_BATCH, generated_batches
from facegan.pgan.model import Generator
from facegan.pgan.params import PGANEvalParams

if TYPE_CHECKING:
    from facegan.metrics.inception import FIDInceptionV3


# metrics/pgan.json: what changes with the model (the floors and counts are in the details).
HEADLINE = ("fid", "ms_ssim", "swd")


def evaluate_pgan(G: Generator, reals: np.ndarray, params: PGANEvalParams, out_dir: Path,
                  fid_model: FIDInceptionV3 | None = None, fid_missing: str = "no FID network given") -> dict:
    """Measure SWD, MS-SSIM and (with `fid_model`) FID, save fake and real grids, return
    the metrics dict; what cannot be measured is None, with the reason under "missing"."""
    G = G.eval()
    device = next(G.parameters()).device  # SWD and MS-SSIM run where G does (the GPU when there is one)

    def fakes(count: int, seed: int):
        return generated_batches(G, G.latent_dim, count, params.batch, seed)

    permutation = np.random.default_rng(params.seed).permutation(len(reals))
    count = min(params.num_images, len(reals))
    real_set = permutation[:count]
    # The floor needs two disjoint real sets; with too few reals it uses two halves.
    half = min(count, len(reals) // 2)
    floor_a, floor_b = permutation[:half], permutation[half : 2 * half]
    swd_args = dict(
        seed=params.seed, patches_per_image=params.swd_patches,
        directions=params.swd_directions, repeats=params.swd_repeats,
        device=device,
    )  # fmt: skip
    swd = sliced_wasserstein(
        array_batches(reals, real_set, params.batch), fakes(count, params.seed), **swd_args
    )
    floor = sliced_wasserstein(
        array_batches(reals, floor_a, params.batch), array_batches(reals, floor_b, params.batch), **swd_args
    )
    real_pairs = min(params.ms_ssim_pairs, len(reals) // 2)
    missing = {}
    if G.resolution >= MIN_SIZE:
        fake_ms_ssim = ms_ssim(fakes(2 * params.ms_ssim_pairs, params.seed + 1), device=device)
        real_ms_ssim = ms_ssim(array_batches(reals, permutation[: 2 * real_pairs], params.batch), device=device)
    else:
        fake_ms_ssim = real_ms_ssim = None
        missing["ms_ssim"] = f"MS-SSIM's 5 scales need images of at least {MIN_SIZE} px, these are {G.resolution}"
    fid_count = min(params.fid_images, len(reals))
    if fid_model is not None:
        fid_value = fid(array_batches(reals, permutation[:fid_count], params.batch),
                        fakes(fid_count, params.seed + 2), model=fid_model)["fid"]
    else:
        fid_value = None
        missing["fid"] = fid_missing

    shown = next(generated_batches(G, G.latent_dim, 64, LATENT_BATCH, params.seed))  # `facegan generate --n 64`'s
    save_image(grid(shown), out_dir / "fakes.png", min_side=512)
    save_image(grid(reals[np.sort(permutation[:64])]), out_dir / "reals.png", min_side=512)
    return {
        "swd": swd,
        "swd_real_floor": floor,
        "ms_ssim": fake_ms_ssim,
        "ms_ssim_real": real_ms_ssim,
        "fid": fid_value,
        "images": {
            "swd_fake": count, "swd_real": count, "swd_floor_each": half,
            "ms_ssim_fake_pairs": params.ms_ssim_pairs, "ms_ssim_real_pairs": real_pairs,
            "fid_each": fid_count if fid_model is not None else 0,
        },
        "resolution": G.resolution,
        "seed": params.seed,
        "missing": missing,
    }  # fmt: skip


def pgan_metrics(model: TrainedModel, reals: np.ndarray, params: PGANEvalParams, out_dir: Path,
                 fid_model: FIDInceptionV3 | None, fid_missing: str) -> dict:
    """The record of metrics/pgan.json: `evaluate_pgan` of the averaged generator, and the
    iterations it was trained for."""
    return {**evaluate_pgan(model.network, reals, params, out_dir, fid_model, fid_missing),
            "iterations": model.iterations}


def summary(result: dict) -> str:
    return f"SWD avg {result['swd']['avg']:.2f} (x1e3), MS-SSIM {result['ms_ssim']}, FID {result['fid']}"
