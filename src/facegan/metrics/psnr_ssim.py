"""PSNR and SSIM of restored vs clean images, as HiFaceGAN reports them.

Yang et al., ACM MM 2020 (table 2), and the ports' `eval` scripts: RGB in [0, 1],
each image scored on its own and the scores averaged over images.
- PSNR = 10 log10(1 / MSE) over all pixels and channels of one image.
- SSIM (Wang et al. 2004): Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, population
  (biased) covariances, 'valid' filtering (no padding), averaged over pixels and
  channels: `skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=1, channel_axis=-1)` computes the same.
It shares MS-SSIM's single-scale SSIM with a max value of 1. Computed in float64.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import torch

from facegan.metrics.ms_ssim import PIXELS_PER_CHUNK, WINDOW, ssim_and_cs


def _as_unit_float(images: np.ndarray, device: str | torch.device) -> torch.Tensor:
    """uint8 NHWC -> float64 NCHW in [0, 1]. Copied only when not contiguous and writable
    (torch refuses to wrap a read-only memory map, e.g. one image of a packed split)."""
    return torch.from_numpy(np.require(images, requirements=["C", "W"])).to(device).permute(0, 3, 1, 2).double() / 255.0


def psnr_ssim_pairs(restored: np.ndarray, clean: np.ndarray, *,
                    device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Per-image PSNR (dB; inf where identical) and SSIM, (N,) each, of uint8 NHWC pairs."""
    if restored.shape != clean.shape:
        raise ValueError(f"PSNR/SSIM pairs must have equal shapes, got {restored.shape} and {clean.shape}")
    for images in (restored, clean):
        if images.dtype != np.uint8 or images.ndim != 4 or min(images.shape[1:3]) < WINDOW:
            raise ValueError(f"PSNR/SSIM expect uint8 NHWC images of at least {WINDOW}x{WINDOW} px, "
                             f"got {images.dtype} {images.shape}")
    psnrs, ssims = [], []
    chunk = max(1, PIXELS_PER_CHUNK // (clean.shape[1] * clean.shape[2]))
    for start in range(0, len(clean), chunk):
        a, b = (_as_unit_float(x[start : start + chunk], device) for x in (restored, clean))
        mse = (a - b).square().mean((1, 2, 3))
        psnrs.append((10 * torch.log10(1 / mse)).cpu().numpy())  # 1 / 0 = inf: identical images
        ssims.append(ssim_and_cs(a, b, max_value=1.0)[0].cpu().numpy())
    empty = np.zeros(0)
    return (np.concatenate(psnrs), np.concatenate(ssims)) if psnrs else (empty, empty)


def psnr_ssim(pairs: Iterable[tuple[np.ndarray, np.ndarray]], *, device: str | torch.device = "cpu") -> dict:
    """Mean PSNR and SSIM over a stream of (restored, clean) uint8 NHWC batches.

    PSNR is infinite for an identical pair, which JSON cannot hold and a mean cannot
    use: then "psnr" is None and "missing" says how many pairs were identical."""
    psnr_sum, ssim_sum, count, identical = 0.0, 0.0, 0, 0
    for restored, clean in pairs:
        psnr, ssim = psnr_ssim_pairs(restored, clean, device=device)
        finite = np.isfinite(psnr)
        identical += int((~finite).sum())
        psnr_sum += float(psnr[finite].sum())
        ssim_sum += float(ssim.sum())
        count += len(psnr)
    if count == 0:
        raise ValueError("PSNR/SSIM need at least one image pair")
    result = {"psnr": psnr_sum / count, "ssim": ssim_sum / count, "pairs": count}
    if identical:
        result["psnr"] = None
        result["missing"] = {"psnr": f"{identical} of {count} pairs are identical: their PSNR is infinite"}
    return result
