"""`fd_classifier`: the Frechet distance between two image sets in the features of
StarGAN's attribute classifier. It is not FID and is not comparable with any published
number.

FID's InceptionV3 weights cannot be had offline, so this measures the same thing with a
network every run has: the classifier that `train_stargan_classifier` trains on the real
training faces (Choi et al. 2018 judge edits with such a classifier). Its features are
the last strided conv's output averaged over positions (the input of its class head), and
the distance is the Frechet distance between Gaussians fitted to them (`frechet.py`).
Images are uint8 NHWC, as they are saved, read back to [-1, 1] as in training. A set of
noise images, or of faces the generator has destroyed, lands far from the real faces,
which an attribute accuracy alone does not show. Values depend on the classifier, so
compare runs judged by the same classifier only; the real-vs-real distance of two sets
of the same sizes is the floor.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import torch

from facegan.images import to_float
from facegan.metrics.frechet import FeatureStats, frechet_distance
from facegan.stargan.model import AttributeClassifier


@torch.no_grad()
def classifier_features(images: np.ndarray, classifier: AttributeClassifier) -> np.ndarray:
    """(N, feature_dim) float64 features of uint8 NHWC RGB `images`."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"fd_classifier expects uint8 NHWC RGB images, got {images.dtype} {images.shape}")
    device = next(classifier.parameters()).device
    return classifier.features(to_float(images).to(device)).double().cpu().numpy()


def classifier_stats(batches: Iterable[np.ndarray], classifier: AttributeClassifier) -> FeatureStats:
    """Feature statistics of a stream of uint8 NHWC RGB batches."""
    stats = FeatureStats(classifier.feature_dim)
    for batch in batches:
        stats.add(classifier_features(batch, classifier))
    return stats


def stats_distance(stats_a: FeatureStats, stats_b: FeatureStats) -> float:
    return frechet_distance(*stats_a.mean_cov(), *stats_b.mean_cov())


def classifier_fd(batches_a: Iterable[np.ndarray], batches_b: Iterable[np.ndarray], *,
                  classifier: AttributeClassifier) -> dict:
    """fd_classifier between two streams of uint8 NHWC batches, and the number of images in each."""
    classifier = classifier.eval()
    stats_a, stats_b = classifier_stats(batches_a, classifier), classifier_stats(batches_b, classifier)
    return {"fd_classifier": stats_distance(stats_a, stats_b), "images": [stats_a.count, stats_b.count]}
