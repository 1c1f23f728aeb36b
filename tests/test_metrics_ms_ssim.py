"""MS-SSIM against the independent numpy/scipy transcription of the official protocol.

The reference (`ref_ms_ssim`) lives in reference_metrics.py. Scale 0 is also checked
against scikit-image's SSIM, which with a Gaussian window, sigma 1.5, population
covariances and its 5-pixel border crop is the same statistic.
"""
import numpy as np
import pytest
import torch
from reference_metrics import ref_ms_ssim, separable_blur
from scipy import ndimage
from skimage.metrics import structural_similarity

from facegan.metrics.ms_ssim import ms_ssim, ms_ssim_pairs, scale_terms


def noise(n, size, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def smooth(n, size, seed):
    coarse = np.random.default_rng(seed).uniform(0, 255, (n, size // 8, size // 8, 3))
    return ndimage.zoom(coarse, (1, 8, 8, 1), order=1).clip(0, 255).astype(np.uint8)


def noised(images, sigma, seed):
    jitter = np.random.default_rng(seed).normal(0, sigma, images.shape)
    return np.clip(images + jitter, 0, 255).astype(np.uint8)


def related(n, size, weight, seed):
    """Pairs sharing a layout with `weight` (as aligned faces do), each with its own details."""
    shared = smooth(1, size, seed).astype(np.float64)
    make = lambda s: noised(weight * shared + (1 - weight) * smooth(n, size, s), 10, s + 1)  # noqa: E731
    return make(seed + 1), make(seed + 3)


def pairs_cases():
    base = smooth(4, 32, seed=1)
    return {
        "weak32": related(4, 32, 0.3, seed=1),  # some pairs have a negative cs: clipped to 0
        "medium64": related(4, 64, 0.5, seed=2),  # scores about 0.35-0.6
        "weak128": related(2, 128, 0.3, seed=3),  # about 0.15, as PGAN's CelebA; even window at 8 px
        "correlated": (base, noised(base, 15, seed=3)),  # about 0.95
        "size16": (smooth(3, 16, 4), noised(smooth(3, 16, 4), 30, seed=5)),  # 1x1 window at scale 4
    }


@pytest.mark.parametrize("case", pairs_cases().keys())
def test_pairs_match_reference(case):
    a, b = pairs_cases()[case]
    expected = ref_ms_ssim(a, b)
    assert expected.max() > 0.1  # a case that measures something
    np.testing.assert_allclose(ms_ssim_pairs(a, b), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-9), (np.float32, 1e-4)])
@pytest.mark.parametrize("case", pairs_cases().keys())
def test_separable_reference_matches_direct_reference(case, dtype, rtol):
    # The benchmark's in-memory implementation: separable filter, float32 where float64 would not fit.
    a, b = pairs_cases()[case]
    np.testing.assert_allclose(ref_ms_ssim(a, b, blur=separable_blur, dtype=dtype), ref_ms_ssim(a, b),
                               rtol=rtol, atol=1e-6 if dtype == np.float32 else 1e-12)


def test_scale_zero_matches_skimage():
    base = smooth(3, 32, seed=8)
    a, b = base, noised(base, 20, seed=9)
    ssim, _ = scale_terms(*(torch.from_numpy(np.moveaxis(x, -1, 1).astype(np.float64)) for x in (a, b)))
    expected = [structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                      data_range=255, channel_axis=-1) for x, y in zip(a, b)]
    np.testing.assert_allclose(ssim[0].numpy(), expected, rtol=1e-9)


def test_identical_pairs_score_exactly_one():
    images = smooth(3, 32, seed=1)
    # 1 up to float64 rounding: the filtering products may round a*a and a*b maps differently.
    np.testing.assert_allclose(ms_ssim_pairs(images, images), 1.0, rtol=0, atol=1e-13)


def test_negative_structure_is_clipped_to_zero():
    images = smooth(2, 32, seed=1)
    scores = ms_ssim_pairs(images, 255 - images)  # cs < 0 at every scale: clipped, score 0
    assert list(scores) == [0.0, 0.0]
    np.testing.assert_array_equal(ref_ms_ssim(images, 255 - images), scores)


def test_ordering_of_similarity():
    base = smooth(4, 32, seed=1)
    close, far = ms_ssim_pairs(base, noised(base, 5, 2)).mean(), ms_ssim_pairs(base, noised(base, 40, 2)).mean()
    unrelated = ms_ssim_pairs(noise(4, 32, 1), noise(4, 32, 2)).mean()
    assert 1 > close > far > unrelated >= 0


def test_stream_pairs_consecutive_images_across_batches():
    images = np.concatenate([smooth(5, 32, seed=1), noise(4, 32, seed=2)])  # 9: the last is ignored
    expected = ref_ms_ssim(images[0:8:2], images[1:8:2]).mean()
    for sizes in ([9], [3, 4, 1, 1], [1] * 9, [2, 7]):
        batches = np.split(images, np.cumsum(sizes)[:-1])
        assert ms_ssim(batches) == pytest.approx(expected, rel=1e-12)


def test_rejects_bad_inputs():
    with pytest.raises(ValueError, match="at least two"):
        ms_ssim([noise(1, 32, 0)])
    with pytest.raises(ValueError, match="16x16"):
        ms_ssim([noise(2, 8, 0)])
    with pytest.raises(ValueError, match="uint8"):
        ms_ssim([noise(2, 32, 0).astype(np.float32)])
