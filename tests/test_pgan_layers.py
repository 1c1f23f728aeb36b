"""PGAN layers and networks against their definitions (Karras et al. 2018 and the official code)."""
import math

import pytest
import torch
import torch.nn.functional as F

from facegan.pgan.layers import (
    EqualizedConv2d,
    EqualizedLinear,
    MinibatchStddev,
    PixelNorm,
    downscale_blend,
)
from facegan.pgan.batch_groups import minibatch_group_size
from facegan.pgan.model import Discriminator, Generator, load_grown


def test_equalized_conv_scales_unit_weights_by_he_constant():
    torch.manual_seed(0)
    conv = EqualizedConv2d(6, 5, 3)
    x = torch.randn(2, 6, 7, 7)
    expected = F.conv2d(x, conv.weight * math.sqrt(2) / math.sqrt(6 * 9), conv.bias, padding=1)
    torch.testing.assert_close(conv(x), expected)
    assert abs(conv.weight.std().item() - 1.0) < 0.2  # stored weights are N(0, 1)
    assert torch.count_nonzero(conv.bias) == 0


def test_equalized_linear_gain_and_fan_in():
    torch.manual_seed(0)
    dense = EqualizedLinear(50, 3, gain=1.0)
    x = torch.randn(4, 50)
    torch.testing.assert_close(dense(x), x @ (dense.weight / math.sqrt(50)).T + dense.bias)


def test_pixel_norm_gives_unit_mean_square_per_pixel():
    x = torch.randn(3, 8, 5, 5) * 7
    y = PixelNorm()(x)
    torch.testing.assert_close(y.pow(2).mean(dim=1), torch.ones(3, 5, 5), rtol=1e-4, atol=1e-4)
    n, c, h, w = 1, 2, 0, 1
    direct = x[n, c, h, w] / math.sqrt(float((x[n, :, h, w] ** 2).mean()) + 1e-8)
    assert abs(y[n, c, h, w].item() - direct) < 1e-5


def test_generator_head_normalises_each_4x4_pixel_over_its_channels():
    """The dense output is c0 x 4 x 4 features: after its leaky ReLU every one of the 16
    pixels has unit mean square over the c0 channels (official networks.py), checked
    against the definition on the dense layer's own output."""
    torch.manual_seed(0)
    c0 = 8
    G = Generator(10, [c0], depth=1)
    z = G.input_norm(torch.randn(3, 10))
    after_norm = G.head[:3](G.dense(z))  # reshape, leaky ReLU, pixel norm
    assert after_norm.shape == (3, c0, 4, 4)
    activated = F.leaky_relu(G.dense(z).reshape(3, c0, 4, 4), 0.2)
    for n, h, w in [(0, 0, 0), (1, 2, 3), (2, 3, 1)]:
        pixel = activated[n, :, h, w]
        torch.testing.assert_close(after_norm[n, :, h, w], pixel / torch.sqrt(pixel.pow(2).mean() + 1e-8))
    torch.testing.assert_close(after_norm.pow(2).mean(dim=1), torch.ones(3, 4, 4), rtol=1e-4, atol=1e-4)


def test_minibatch_stddev_matches_a_loop_over_groups():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 2, 2)
    out = MinibatchStddev(4)(x)
    assert out.shape == (8, 4, 2, 2)
    torch.testing.assert_close(out[:, :3], x)
    groups = 8 // 4
    for i in range(8):
        members = [j for j in range(8) if j % groups == i % groups]  # official [G, M] layout
        values = x[members]
        std = torch.sqrt(((values - values.mean(0)) ** 2).mean(0) + 1e-8).mean()
        torch.testing.assert_close(out[i, 3], torch.full((2, 2), std.item()))


@pytest.mark.parametrize("batch, size", [(16, 4), (4, 4), (3, 3), (2, 2), (22, 2), (1, 1), (9, 3)])
def test_minibatch_group_size_divides_the_batch(batch, size):
    assert minibatch_group_size(batch) == size


def test_real_images_fade_like_the_generator():
    x = torch.randn(2, 3, 8, 8)
    low = F.avg_pool2d(x, 2).repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    torch.testing.assert_close(downscale_blend(x, 0.25), 0.25 * low + 0.75 * x)
    torch.testing.assert_close(downscale_blend(x, 0.0), x)


def _grown_pair(depth):
    torch.manual_seed(1)
    channels = [16, 12, 8, 8]
    G_old, D_old = Generator(10, channels, depth), Discriminator(channels, depth)
    G_new, D_new = Generator(10, channels, depth + 1), Discriminator(channels, depth + 1)
    new_g = load_grown(G_new, G_old.state_dict())
    new_d = load_grown(D_new, D_old.state_dict())
    assert new_g and all(k.startswith(("blocks", "to_rgb")) for k in new_g)
    assert new_d and all(k.startswith(("blocks", "from_rgb")) for k in new_d)
    return G_old, D_old, G_new, D_new


@pytest.mark.parametrize("depth", [1, 2])
def test_fade_in_starts_from_the_previous_scale(depth):
    """At alpha = 1 the grown G is the old G upsampled, the grown D the old D on pooled input."""
    G_old, D_old, G_new, D_new = _grown_pair(depth)
    z = torch.randn(4, 10)
    with torch.no_grad():
        torch.testing.assert_close(G_new(z, alpha=1.0), F.interpolate(G_old(z), scale_factor=2, mode="nearest"))
        x = torch.randn(4, 3, G_new.resolution, G_new.resolution)
        torch.testing.assert_close(D_new(x, alpha=1.0), D_old(F.avg_pool2d(x, 2)), rtol=1e-4, atol=1e-5)
        assert not torch.allclose(G_new(z, alpha=0.0), G_new(z, alpha=1.0))
        half = G_new(z, alpha=0.5)
        torch.testing.assert_close(half, 0.5 * G_new(z, alpha=1.0) + 0.5 * G_new(z, alpha=0.0))


def test_load_grown_rejects_changed_architecture():
    with pytest.raises(ValueError, match="channels"):
        load_grown(Generator(10, [16, 8], 2), Generator(12, [16, 8], 1).state_dict())


def test_network_shapes_at_each_scale():
    for depth in range(1, 5):
        G, D = Generator(8, [8, 8, 8, 8], depth), Discriminator([8, 8, 8, 8], depth)
        images = G(torch.randn(4, 8))
        assert images.shape == (4, 3, 4 * 2 ** (depth - 1), 4 * 2 ** (depth - 1))
        assert D(images).shape == (4,)
