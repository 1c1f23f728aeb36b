"""PSNR and SSIM against scikit-image, the independent implementation HiFaceGAN's numbers
can be reproduced with: `peak_signal_noise_ratio(data_range=1)` and
`structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=1, channel_axis=-1)` on RGB in [0, 1], one image at a time, then averaged."""
import math

import numpy as np
import pytest
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from facegan.metrics.psnr_ssim import psnr_ssim, psnr_ssim_pairs


def ref_scores(restored, clean):
    psnrs, ssims = [], []
    for a, b in zip(restored.astype(np.float64) / 255, clean.astype(np.float64) / 255):
        with np.errstate(divide="ignore"):  # identical pairs: inf, as ours
            psnrs.append(peak_signal_noise_ratio(b, a, data_range=1.0))
        ssims.append(structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                           data_range=1.0, channel_axis=-1))
    return np.array(psnrs), np.array(ssims)


def faces_like(n, height, width, seed):
    """Smooth shapes with edges: what a clean face crop looks like to a filter."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (n, height // 8 + 1, width // 8 + 1, 3))
    smooth = ndimage.zoom(coarse, (1, 8, 8, 1), order=1)[:, :height, :width]
    smooth[:, height // 3 : height // 2, width // 4 : width // 2] = 30  # a dark block: sharp edges
    return smooth.clip(0, 255).astype(np.uint8)


def degraded(images, sigma, seed):
    blurred = ndimage.gaussian_filter(images.astype(np.float64), (0, 1.5, 1.5, 0))
    noise = np.random.default_rng(seed).normal(0, sigma, images.shape)
    return (blurred + noise).clip(0, 255).astype(np.uint8)


CASES = {
    "noise vs noise": lambda: tuple(np.random.default_rng(s).integers(0, 256, (3, 24, 24, 3), dtype=np.uint8)
                                    for s in (1, 2)),
    "blurred and noised faces": lambda: (degraded(faces_like(3, 40, 32, 3), 12, 4), faces_like(3, 40, 32, 3)),
    "slightly noised faces": lambda: (degraded(faces_like(2, 64, 64, 5), 2, 6), faces_like(2, 64, 64, 5)),
    "window-sized images": lambda: (degraded(faces_like(2, 11, 11, 7), 8, 8), faces_like(2, 11, 11, 7)),
}


@pytest.mark.parametrize("case", CASES)
def test_per_image_scores_match_skimage(case):
    restored, clean = CASES[case]()
    psnr, ssim = psnr_ssim_pairs(restored, clean)
    ref_psnr, ref_ssim = ref_scores(restored, clean)
    np.testing.assert_allclose(psnr, ref_psnr, rtol=1e-12)
    np.testing.assert_allclose(ssim, ref_ssim, rtol=0, atol=1e-12)


def test_stream_mean_equals_mean_of_per_image_scores():
    restored, clean = degraded(faces_like(7, 32, 32, 1), 10, 2), faces_like(7, 32, 32, 1)
    ref_psnr, ref_ssim = ref_scores(restored, clean)
    batches = [(restored[i : i + 3], clean[i : i + 3]) for i in range(0, 7, 3)]
    result = psnr_ssim(batches)
    assert result["pairs"] == 7
    assert result["psnr"] == pytest.approx(ref_psnr.mean(), rel=1e-12)
    assert result["ssim"] == pytest.approx(ref_ssim.mean(), rel=1e-12)
    assert "missing" not in result


def test_known_values_of_a_uniform_shift():
    """Every pixel off by d/255: MSE = (d/255)^2, PSNR = 20 log10(255 / d); a constant
    offset leaves contrast and structure intact, so SSIM is the luminance term alone."""
    clean = faces_like(2, 32, 32, 3).clip(10, 240)
    psnr, ssim = psnr_ssim_pairs(clean + 5, clean)
    assert psnr == pytest.approx([20 * math.log10(255 / 5)] * 2, rel=1e-12)
    assert np.all(ssim < 1) and np.all(ssim > 0.99)


def test_identical_images_give_ssim_one_and_psnr_reported_missing():
    clean = faces_like(3, 16, 16, 4)
    restored = clean.copy()
    restored[0, 0, 0, 0] ^= 1  # one pair differs in one value: finite PSNR
    result = psnr_ssim([(restored, clean)])
    assert result["psnr"] is None
    assert result["missing"] == {"psnr": "2 of 3 pairs are identical: their PSNR is infinite"}
    assert result["ssim"] == pytest.approx(ref_scores(restored, clean)[1].mean(), rel=1e-12)
    assert psnr_ssim_pairs(clean, clean)[1] == pytest.approx([1.0] * 3, abs=1e-12)


def test_worse_degradation_scores_lower():
    clean = faces_like(4, 32, 32, 5)
    mild, harsh = (psnr_ssim([(degraded(clean, sigma, 6), clean)]) for sigma in (2, 25))
    assert mild["psnr"] > harsh["psnr"] + 3 and mild["ssim"] > harsh["ssim"] + 0.1


def test_rejects_bad_inputs():
    clean = faces_like(2, 16, 16, 1)
    with pytest.raises(ValueError, match="equal shapes"):
        psnr_ssim_pairs(clean[:1], clean)
    with pytest.raises(ValueError, match="at least 11x11"):
        psnr_ssim_pairs(clean[:, :10, :10], clean[:, :10, :10])
    with pytest.raises(ValueError, match="uint8"):
        psnr_ssim_pairs(clean.astype(np.float32), clean.astype(np.float32))
    with pytest.raises(ValueError, match="at least one image pair"):
        psnr_ssim([])
