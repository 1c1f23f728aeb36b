"""Frechet Inception Distance (Heusel et al., NeurIPS 2017; REFERENCE 2).

FID = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussians fitted to
the 2048-d pool3 features of two image sets (`inception.py`), as `pytorch-fid` computes
it: unbiased covariances, uint8 images read as [0, 1]. Features are streamed into
float64 sums, so memory does not grow with the number of images. The trace of the
matrix square root is taken as the sum of the square roots of the eigenvalues of the
symmetric S_a^(1/2) S_b S_a^(1/2) (the same eigenvalues as S_a S_b), which stays real
and stable where scipy's `sqrtm(S_a S_b)` needs pytorch-fid's epsilon fallback.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from facegan.data.sources import file_digest
from facegan.errors import UserError
from facegan.metrics.inception import FEATURES, FIDInceptionV3
from facegan.weights import WEIGHTS, MissingWeightsError, staged_path

BATCH = 32  # images through the network at a time: bounds activation memory at 299 px


class FeatureStats:
    """Running count, sum and sum of outer products of feature vectors, in float64."""

    def __init__(self, dim: int = FEATURES) -> None:
        self.count = 0
        self.total = np.zeros(dim)
        self.outer = np.zeros((dim, dim))

    def add(self, features: np.ndarray) -> None:
        features = np.asarray(features, dtype=np.float64)
        self.count += len(features)
        self.total += features.sum(0)
        self.outer += features.T @ features

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        if self.count < 2:
            raise ValueError(f"FID needs at least 2 images per set, got {self.count}")
        mean = self.total / self.count
        cov = (self.outer - self.count * np.outer(mean, mean)) / (self.count - 1)
        return mean, cov


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(values.clip(min=0))) @ vectors.T


def frechet_distance(mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray) -> float:
    """Frechet distance between N(mean_a, cov_a) and N(mean_b, cov_b)."""
    root_a = _sqrt_psd(cov_a)
    middle = root_a @ cov_b @ root_a
    trace_sqrt = np.sqrt(np.linalg.eigvalsh((middle + middle.T) / 2).clip(min=0)).sum()
    return float(np.square(mean_a - mean_b).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)


def load_inception(path: Path, device: str | torch.device = "cpu") -> FIDInceptionV3:
    """The FID network with the weights in `path` (pytorch-fid's file), in eval mode."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = FIDInceptionV3()
        model.load_state_dict(state)
    except Exception as error:  # torch raises many types for a damaged file or another network's weights
        raise UserError(f"{path} is not a usable InceptionV3 weights file for FID: {error}") from error
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
    device = next(model.parameters()).device
    stats = FeatureStats()
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
