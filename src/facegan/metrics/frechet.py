"""The Frechet distance between Gaussians fitted to two sets of feature vectors (Heusel et
al., NeurIPS 2017, eq. 6): ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)).

FID takes the features from InceptionV3 (`fid.py`); StarGAN's `fd_classifier` from the
attribute classifier (`stargan/classifier_fd.py`). Statistics are running float64 sums, so
memory does not grow with the number of vectors. The trace of the matrix square root is
the sum of the square roots of the eigenvalues of the symmetric S_a^(1/2) S_b S_a^(1/2)
(the same eigenvalues as S_a S_b), which stays real and stable where scipy's
`sqrtm(S_a S_b)` needs pytorch-fid's epsilon fallback.
"""
from __future__ import annotations

import numpy as np


class FeatureStats:
    """Running count, sum and sum of outer products of feature vectors, in float64."""

    def __init__(self, dim: int) -> None:
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
            raise ValueError(f"a Frechet distance needs at least 2 images per set, got {self.count}")
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
