"""SWD against the independent numpy/scipy transcription of the official protocol.

The references (`ref_*`, and the vectorised `numpy_swd` the benchmark times) live in
reference_metrics.py; only their random draws come from the module under test.
"""
import numpy as np
import pytest
import reference_metrics
import torch
from reference_metrics import (
    gather_descriptors,
    numpy_swd,
    ref_descriptors,
    ref_pyramid,
    ref_swd,
)
from scipy import ndimage

from facegan.metrics import swd


def structured(n, size, seed):
    """Smooth random blobs plus stripes: images with real multi-scale structure."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (n, size // 8, size // 8, 3))
    smooth = ndimage.zoom(coarse, (1, 8, 8, 1), order=1)
    stripes = 40 * np.sin(np.arange(size) * rng.uniform(0.3, 1.5))[None, :, None, None]
    return np.clip(smooth + stripes, 0, 255).astype(np.uint8)


def noise(n, size, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def batches(images, size):
    return [images[i : i + size] for i in range(0, len(images), size)]


def stream(images, seed, batch_size=5, dtype=torch.float16, per_image=16):
    return swd.DescriptorSet(seed=seed, patches_per_image=per_image, dtype=dtype).extend(batches(images, batch_size))


@pytest.mark.parametrize("make", [structured, noise])
def test_pyramid_matches_scipy_mirror(make):
    images = make(3, 32, seed=1)
    ours = swd.laplacian_pyramid(torch.from_numpy(images).permute(0, 3, 1, 2).float(), 2)
    reference = ref_pyramid(images, 2)
    for level, ref in zip(ours, reference):
        np.testing.assert_allclose(level.numpy(), ref, atol=2e-4)
    # The border handling matters: scipy's 'reflect' (edge repeated) is visibly different.
    assert np.abs(ours[0].numpy() - ref_pyramid(images, 2, mode="reflect")[0]).max() > 1


def test_pyramid_shapes_and_keys():
    assert [swd.level_key(*s) for s in swd.pyramid_shapes(128, 128)] == ["128", "64", "32", "16"]
    assert swd.pyramid_shapes(24, 24) == [(24, 24)]
    assert swd.pyramid_shapes(8, 8) == [(8, 8)]
    assert swd.pyramid_shapes(64, 32) == [(64, 32), (32, 16)]
    assert swd.level_key(64, 32) == "64x32"


def test_centres_cover_every_full_patch_and_nothing_else():
    centres = swd.sample_centres(swd.generator(0, 0), 100, 16, 12, 100).reshape(-1, 2).numpy()
    assert {tuple(c) for c in centres} == {(y, x) for y in range(3, 13) for x in range(3, 9)}


def test_patches_match_loops():
    level = torch.from_numpy(noise(4, 16, seed=2)).permute(0, 3, 1, 2).float()
    centres = swd.sample_centres(swd.generator(5, 0), 4, 16, 16, 9)
    expected = ref_descriptors(level.numpy(), centres.numpy())
    np.testing.assert_array_equal(swd.extract_patches(level, centres).numpy(), expected)


def test_vectorised_patches_match_loops():
    level = ref_pyramid(noise(4, 32, seed=2), 2)[1]
    centres = swd.sample_centres(swd.generator(5, 1), 4, 16, 16, 9).numpy()
    np.testing.assert_array_equal(gather_descriptors(level, centres), ref_descriptors(level, centres))


@pytest.mark.parametrize("dtype, rel", [(np.float64, 1e-9), (np.float32, 1e-4)])
def test_vectorised_in_memory_swd_matches_reference(dtype, rel, monkeypatch):
    monkeypatch.setattr(reference_metrics, "CHUNK", 5)  # several pyramid passes per set
    real, fake = structured(12, 64, seed=3), noise(12, 64, seed=4)
    ours = numpy_swd(real, fake, 10, 11, 12, per_image=16, dtype=dtype)
    expected = ref_swd(real, fake, 10, 11, 12, per_image=16)
    assert ours.keys() == expected.keys() == {"64", "32", "16", "avg"}
    for key in expected:
        assert ours[key] == pytest.approx(expected[key], rel=rel)


@pytest.mark.parametrize("make", [structured, noise])
def test_streaming_matches_in_memory_reference(make):
    real, fake = make(12, 32, seed=3), make(12, 32, seed=4)
    # float32 storage: the only differences left are float32 vs float64 arithmetic.
    ours = swd.swd_from_descriptors(stream(real, 10, dtype=torch.float32), stream(fake, 11, dtype=torch.float32),
                                    seed=12)
    expected = ref_swd(real, fake, 10, 11, 12, per_image=16)
    assert ours.keys() == expected.keys() == {"32", "16", "avg"}
    for key in expected:
        assert ours[key] == pytest.approx(expected[key], rel=1e-4)


def test_sliced_wasserstein_float16_close_to_reference():
    real, fake = structured(16, 32, seed=5), noise(16, 32, seed=6)
    ours = swd.sliced_wasserstein(batches(real, 3), batches(fake, 7), seed=7, patches_per_image=16)
    seeds = [swd.subseed(7, stream_index) for stream_index in range(3)]
    expected = ref_swd(real, fake, *seeds, per_image=16)
    for key in expected:
        assert ours[key] == pytest.approx(expected[key], rel=2e-3)


def test_batch_size_and_chunking_do_not_change_the_result(monkeypatch):
    real, fake = structured(10, 32, seed=8), structured(10, 32, seed=9)
    distance = lambda a, b: swd.swd_from_descriptors(a, b, seed=3, directions=16, repeats=2)  # noqa: E731
    whole = distance(stream(real, 1, batch_size=10), stream(fake, 2, batch_size=10))
    monkeypatch.setattr(swd, "PROJECTION_BYTES", 8 * 160 * 7)  # 7 directions per chunk
    monkeypatch.setattr(swd, "BLOCK_ROWS", 33)
    pieces = distance(stream(real, 1, batch_size=1), stream(fake, 2, batch_size=3))
    # Equal up to float32 rounding, whose order changes with the batch and block shapes.
    assert pieces == pytest.approx(whole, rel=1e-6)


def test_seed_makes_results_repeatable():
    real, fake = structured(8, 32, seed=1), noise(8, 32, seed=2)
    first = swd.sliced_wasserstein([real], [fake], seed=4, patches_per_image=16)
    assert swd.sliced_wasserstein(batches(real, 3), [fake], seed=4, patches_per_image=16) == first
    assert swd.sliced_wasserstein([real], [fake], seed=5, patches_per_image=16) != first


def test_identical_sets_with_identical_patches_give_exactly_zero():
    images = structured(8, 32, seed=3)
    result = swd.swd_from_descriptors(stream(images, 6), stream(images, 6), seed=1)
    assert result == {"32": 0.0, "16": 0.0, "avg": 0.0}


def test_normalisation_removes_a_global_brightness_shift():
    images = np.clip(structured(8, 32, seed=3), 0, 200)
    shifted = images + np.uint8(50)  # no clipping: only the residual level's mean moves
    result = swd.swd_from_descriptors(stream(images, 6, dtype=torch.float32), stream(shifted, 6, dtype=torch.float32),
                                      seed=1)
    assert max(result.values()) < 1e-3


def test_noise_floor_shrinks_with_more_patches_and_a_changed_set_is_far():
    real = structured(32, 32, seed=1)
    noised = np.clip(real + np.random.default_rng(0).normal(0, 20, real.shape), 0, 255).astype(np.uint8)
    run = lambda a, b, per_image: swd.sliced_wasserstein([a], [b], seed=0, patches_per_image=per_image)  # noqa: E731
    # Same images, independent patches: the sampling noise floor, about 55 x1e3 with 1,024
    # descriptors a level and 23 with 4,096 (~1/sqrt(count)); the paper's 2.1M give ~1.
    floor_small, floor = run(real, real, 32), run(real, real, 128)
    assert 0 < floor["avg"] < 0.6 * floor_small["avg"]
    assert run(real, noised, 128)["32"] > 5 * floor["32"]
    assert run(real, structured(32, 32, seed=2), 128)["avg"] > 3 * floor["avg"]  # other stripes


def test_constant_set_gives_finite_distances():
    # A collapsed generator: every level has zero std, taken as 1 (the official code gives NaN).
    flat = np.full((8, 32, 32, 3), 128, np.uint8)
    result = swd.sliced_wasserstein([flat], [structured(8, 32, seed=1)], seed=0, patches_per_image=16)
    assert all(np.isfinite(v) and v > 100 for v in result.values())


def test_rejects_bad_inputs():
    with pytest.raises(ValueError, match="uint8"):
        swd.DescriptorSet(seed=0).add(noise(2, 32, 0).astype(np.float32))
    with pytest.raises(ValueError, match="differs"):
        swd.DescriptorSet(seed=0).extend([noise(2, 32, 0), noise(2, 16, 0)])
    with pytest.raises(ValueError, match="at least 7"):
        swd.DescriptorSet(seed=0).add(noise(2, 6, 0))
    with pytest.raises(ValueError, match="equal count"):
        swd.sliced_wasserstein([noise(3, 16, 0)], [noise(2, 16, 0)], seed=0)
