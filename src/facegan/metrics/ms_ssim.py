"""MS-SSIM between consecutive generated images: PGAN's diversity measure.

Wang, Simoncelli & Bovik, "Multi-scale structural similarity for image quality
assessment" (2003), as used by Karras et al., ICLR 2018 (table 1) through the official
`metrics/ms_ssim.py`:

- uint8 images, max value 255, K1 0.01, K2 0.03; per-channel statistics under a Gaussian
  window of 11 px, sigma 1.5, shrunk for small scales to size = min(11, H, W) with
  sigma = size * 1.5 / 11; 'valid' convolution; maps averaged over pixels and channels.
- 5 scales with weights [0.0448, 0.2856, 0.3001, 0.2363, 0.1333], 2x2 average pooling
  between scales (an odd row or column is dropped, where the official code would fail).
- cs and ssim are clipped at 0 before the power (as the official code does, to avoid
  NaN); score = prod(cs_i ^ w_i, i < 4) * ssim_4 ^ w_4, averaged over pairs.
- Pairs are consecutive images (0, 1), (2, 3), ... of the stream; an odd last one is
  ignored. Computed in float64 (the official code uses float32).
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW, SIGMA, K1, K2, MAX_VALUE = 11, 1.5, 0.01, 0.03, 255.0
MIN_SIZE = 2 ** (len(WEIGHTS) - 1)  # the coarsest scale keeps at least one pixel
PIXELS_PER_CHUNK = 1 << 17  # pairs x H x W at a time: bounded memory


def gaussian_window(size: int, sigma: float) -> torch.Tensor:
    """1-D factor of MATLAB's fspecial('gaussian') window (half-pixel offsets for even sizes)."""
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    window = torch.exp(-coords.square() / (2 * sigma**2))
    return window / window.sum()


def _band(length: int, window: torch.Tensor) -> torch.Tensor:
    """(length - size + 1, length) matrix: multiplying by it filters one axis, 'valid'."""
    band = torch.zeros(length - len(window) + 1, length, dtype=window.dtype)
    for offset, weight in enumerate(window.tolist()):
        band.diagonal(offset).fill_(weight)
    return band


def _filter(maps: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """'Valid' separable Gaussian filtering of the last two axes, as two matrix products.

    Not a grouped conv: in float64 on CPU that runs one tiny parallel region per map and
    stalls ~25x whenever another process holds a core; BLAS products do not."""
    band_h, band_w = (_band(n, window).to(maps) for n in maps.shape[-2:])
    rows = maps @ band_w.T
    return (rows.transpose(-1, -2) @ band_h.T).transpose(-1, -2)


def ssim_and_cs(a: torch.Tensor, b: torch.Tensor, max_value: float = MAX_VALUE) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM and contrast-structure terms (N,) of float64 NCHW images at one scale.

    Images smaller than the window shrink it (MS-SSIM's coarse scales)."""
    size = min(WINDOW, *a.shape[-2:])
    window = gaussian_window(size, size * SIGMA / WINDOW)
    moments = _filter(torch.cat([a, b, a * a, b * b, a * b], dim=1), window)
    mu_a, mu_b, aa, bb, ab = moments.chunk(5, dim=1)
    var_a, var_b, cov = aa - mu_a * mu_a, bb - mu_b * mu_b, ab - mu_a * mu_b
    c1, c2 = (K1 * max_value) ** 2, (K2 * max_value) ** 2
    cs_map = (2 * cov + c2) / (var_a + var_b + c2)
    ssim_map = (2 * mu_a * mu_b + c1) / (mu_a * mu_a + mu_b * mu_b + c1) * cs_map
    return ssim_map.mean((1, 2, 3)), cs_map.mean((1, 2, 3))


def scale_terms(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(scales, N) ssim and cs of float64 NCHW images over the 5 MS-SSIM scales."""
    ssims, css = [], []
    for scale in range(len(WEIGHTS)):
        if scale:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
        ssim, cs = ssim_and_cs(a, b)
        ssims.append(ssim)
        css.append(cs)
    return torch.stack(ssims), torch.stack(css)


def _scores(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """MS-SSIM (N,) of float64 NCHW image pairs."""
    ssim, cs = scale_terms(a, b)
    weights = torch.tensor(WEIGHTS, dtype=torch.float64, device=ssim.device)[:, None]
    ssim, cs = ssim.clamp_min(0), cs.clamp_min(0)  # the official clip: no NaN from negative bases
    return (cs[:-1] ** weights[:-1]).prod(0) * ssim[-1] ** weights[-1]


def ms_ssim_pairs(a: np.ndarray, b: np.ndarray, *, device: str | torch.device = "cpu") -> np.ndarray:
    """MS-SSIM (N,) of each pair (a[i], b[i]) of uint8 NHWC images."""
    for images in (a, b):
        if images.dtype != np.uint8 or images.ndim != 4 or min(images.shape[1:3]) < MIN_SIZE:
            raise ValueError(f"MS-SSIM expects uint8 NHWC images of at least {MIN_SIZE}x{MIN_SIZE} px, "
                             f"got {images.dtype} {images.shape}")
    if a.shape != b.shape:
        raise ValueError(f"MS-SSIM pairs must have equal shapes, got {a.shape} and {b.shape}")
    scores = []
    chunk = max(1, PIXELS_PER_CHUNK // (a.shape[1] * a.shape[2]))
    for start in range(0, len(a), chunk):
        a_chunk, b_chunk = (torch.from_numpy(np.ascontiguousarray(x[start : start + chunk]))
                            .to(device).permute(0, 3, 1, 2).double() for x in (a, b))
        scores.append(_scores(a_chunk, b_chunk).cpu().numpy())
    return np.concatenate(scores) if scores else np.zeros(0)


def ms_ssim(batches: Iterable[np.ndarray], *, device: str | torch.device = "cpu") -> float:
    """Mean MS-SSIM over consecutive pairs of a stream of uint8 NHWC batches.

    A pair may straddle two batches: an odd image is carried into the next batch."""
    total, pairs = 0.0, 0
    carry = None
    for batch in batches:
        images = batch if carry is None else np.concatenate([carry, batch])
        even = len(images) // 2 * 2
        carry = images[even:] if even < len(images) else None
        if even:
            total += float(ms_ssim_pairs(images[0:even:2], images[1:even:2], device=device).sum())
            pairs += even // 2
    if pairs == 0:
        raise ValueError("MS-SSIM needs at least two images")
    return total / pairs
