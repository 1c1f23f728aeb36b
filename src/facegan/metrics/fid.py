"""Frechet Inception Distance (Heusel et al., NeurIPS 2017).

FID is the Frechet distance (`frechet.py`) between Gaussians fitted to the 2048-d pool3
features of two image sets (`inception.py`), as `pytorch-fid` computes it: unbiased
covariances, uint8 images read as [0, 1]. Features are streamed into float64 sums, so
memory does not grow with the number of images.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np
import torch

from facegan.digests import file_digest
from facegan.errors import UserError, cause
from facegan.metrics.frechet import FeatureStats, frechet_distance
from facegan.weights import WEIGHTS, MissingWeightsError, staged_path

if TYPE_CHECKING:  # torchvision, under the network, takes seconds to import: only loading the weights needs it
    from facegan.metrics.inception import FIDInceptionV3

BATCH = 32  # images through the network at a time: bounds activation memory at 299 px


def load_inception(path: Path, device: str | torch.device = "cpu") -> FIDInceptionV3:
    """The FID network with the weights in `path` (pytorch-fid's file), in eval mode."""
    from facegan.metrics.inception import FIDInceptionV3

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = FIDInceptionV3()
        model.load_state_dict(state)
    except Exception as error:  # torch raises many types for a damaged file or another network's weights
        raise UserError(f"{path} is not a usable InceptionV3 weights file for FID ({cause(error)})") from error
    return model.eval().requires_grad_(False).to(device)


def staged_inception(staged: Path, device: str | torch.device = "cpu") -> tuple[FIDInceptionV3 | None, str]:
    """The FID network from the download_weights stage's folder, or None and why it is absent."""
    try:
        return load_inception(staged_path("inception", staged), device), ""
    except MissingWeightsError as error:
        return None, f"FID needs the InceptionV3 weights: {error}"


def is_official(path: Path) -> bool:
    """Whether `path` holds the 2015-12-05 weights that published FIDs were measured with."""
    return file_digest(path, "sha256") == WEIGHTS["inception"].sha256


@torch.no_grad()
def inception_stats(batches: Iterable[np.ndarray], model: FIDInceptionV3) -> FeatureStats:
    """Feature statistics of a stream of uint8 NHWC RGB batches."""
    from facegan.metrics.inception import FEATURES

    device = next(model.parameters()).device
    stats = FeatureStats(FEATURES)
    for batch in batches:
        if batch.dtype != np.uint8 or batch.ndim != 4 or batch.shape[-1] != 3:
            raise ValueError(f"FID expects uint8 NHWC RGB images, got {batch.dtype} {batch.shape}")
        for start in range(0, len(batch), BATCH):
            images = torch.from_numpy(np.ascontiguousarray(batch[start : start + BATCH])).to(device)
            stats.add(model.pool3(images.permute(0, 3, 1, 2).float() / 255).double().cpu().numpy())
    return stats


def fid(batches_a: Iterable[np.ndarray], batches_b: Iterable[np.ndarray], *, model: FIDInceptionV3) -> dict:
    """FID between two streams of uint8 NHWC batches, and the number of images in each."""
    stats_a, stats_b = inception_stats(batches_a, model), inception_stats(batches_b, model)
    distance = frechet_distance(*stats_a.mean_cov(), *stats_b.mean_cov())
    return {"fid": distance, "images": [stats_a.count, stats_b.count]}
