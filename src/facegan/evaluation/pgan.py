"""PGAN evaluation (Karras et al. 2018, sections 5 and 6; REFERENCE 2).

Fakes come from the averaged generator, streamed in batches and converted to uint8
exactly as the paper does; reals are drawn from the packed training images. SWD is
reported per pyramid level (x1e3) with the real-vs-real noise floor beside it,
MS-SSIM over consecutive pairs of generated images (real pairs given for scale), and
FID between generated and real images when the Inception weights are present.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np
import torch

from facegan.images import array_batches, grid, save_png, to_uint8
from facegan.metrics.fid import fid
from facegan.metrics.ms_ssim import MIN_SIZE, ms_ssim
from facegan.metrics.swd import sliced_wasserstein
from facegan.models.pgan import Generator
from facegan.params import PGANEvalParams

if TYPE_CHECKING:
    from facegan.metrics.inception import FIDInceptionV3


@torch.no_grad()
def generated_batches(G: Generator, count: int, batch: int, seed: int) -> Iterator[np.ndarray]:
    """`count` uint8 NHWC fakes from latents drawn with `seed`, `batch` at a time."""
    rng = torch.Generator().manual_seed(seed)
    device = next(G.parameters()).device
    for start in range(0, count, batch):
        z = torch.randn(min(batch, count - start), G.latent_dim, generator=rng)
        yield to_uint8(G(z.to(device)))


def evaluate_pgan(G: Generator, reals: np.ndarray, params: PGANEvalParams, out_dir: Path,
                  fid_model: FIDInceptionV3 | None = None, fid_missing: str = "no FID network given") -> dict:
    """Measure SWD, MS-SSIM and (with `fid_model`) FID, save fake and real grids, return
    the metrics dict; what cannot be measured is None, with the reason under "missing"."""
    G = G.eval()
    permutation = np.random.default_rng(params.seed).permutation(len(reals))
    count = min(params.num_images, len(reals))
    real_set = permutation[:count]
    # The floor needs two disjoint real sets; with too few reals it uses two halves.
    half = min(count, len(reals) // 2)
    floor_a, floor_b = permutation[:half], permutation[half : 2 * half]
    swd_args = dict(
        seed=params.seed, patches_per_image=params.swd_patches,
        directions=params.swd_directions, repeats=params.swd_repeats,
    )  # fmt: skip
    swd = sliced_wasserstein(
        array_batches(reals, real_set, params.batch), generated_batches(G, count, params.batch, params.seed), **swd_args
    )
    floor = sliced_wasserstein(
        array_batches(reals, floor_a, params.batch), array_batches(reals, floor_b, params.batch), **swd_args
    )
    real_pairs = min(params.ms_ssim_pairs, len(reals) // 2)
    missing = {}
    if G.resolution >= MIN_SIZE:
        fake_ms_ssim = ms_ssim(generated_batches(G, 2 * params.ms_ssim_pairs, params.batch, params.seed + 1))
        real_ms_ssim = ms_ssim(array_batches(reals, permutation[: 2 * real_pairs], params.batch))
    else:
        fake_ms_ssim = real_ms_ssim = None
        missing["ms_ssim"] = f"MS-SSIM's 5 scales need images of at least {MIN_SIZE} px, these are {G.resolution}"
    fid_count = min(params.fid_images, len(reals))
    if fid_model is not None:
        fid_value = fid(array_batches(reals, permutation[:fid_count], params.batch),
                        generated_batches(G, fid_count, params.batch, params.seed + 2), model=fid_model)["fid"]
    else:
        fid_value = None
        missing["fid"] = fid_missing

    save_png(grid(next(generated_batches(G, 64, 64, params.seed))), out_dir / "fakes.png", min_side=512)
    save_png(grid(reals[np.sort(permutation[:64])]), out_dir / "reals.png", min_side=512)
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
