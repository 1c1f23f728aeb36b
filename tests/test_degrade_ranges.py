"""The blur's ranges scaled to the face size (hifacegan.data.scale_ranges): exactly the
reference's at 512 px, the same fraction of a smaller face, and milder there than the
unscaled ranges. On synthetic faces, so it runs without the real-face fixtures."""
import numpy as np
import pytest

from facegan.hifacegan.data import GAUSSIAN_SIGMA, MOTION_KERNEL, Degrader, blur_ranges
from facegan.data.synthetic import draw_face, sample_attributes


def test_ranges_are_the_references_at_512_and_scale_with_the_size():
    assert blur_ranges(512, scale_ranges=True) == (MOTION_KERNEL, GAUSSIAN_SIGMA) == ((10, 20), (3.0, 8.0))
    assert blur_ranges(256, scale_ranges=True) == ((5, 10), (1.5, 4.0))
    assert blur_ranges(64, scale_ranges=True) == ((3, 3), (0.375, 1.0))  # a motion kernel is at least 3 px
    assert blur_ranges(64, scale_ranges=False) == ((10, 20), (3.0, 8.0))


def _psnr(a, b) -> float:
    return 10 * np.log10(255**2 / np.mean((a.astype(float) - b.astype(float)) ** 2))


def test_scaled_blur_keeps_more_of_a_small_face():
    faces = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        faces.append(np.asarray(draw_face(sample_attributes(rng), rng)))
    scaled, unscaled = ([_psnr(*Degrader("blur", 64, 0, scale).pair(str(i), face)) for i, face in enumerate(faces)]
                        for scale in (True, False))
    assert np.mean(scaled) > np.mean(unscaled) + 5, (scaled, unscaled)
    assert Degrader("full", 64, 0, True).pair("a", faces[0])[0].shape == (64, 64, 3)


@pytest.mark.parametrize("kind", ["noise", "jpeg", "down"])
def test_ranges_without_a_length_are_not_scaled(kind):
    rng = np.random.default_rng(7)
    face = np.asarray(draw_face(sample_attributes(rng), rng))
    a, b = (Degrader(kind, 64, 3, scale).pair("00007", face)[0] for scale in (True, False))
    np.testing.assert_array_equal(a, b)
