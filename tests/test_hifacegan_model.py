"""HiFaceGAN's layers and losses against their definitions, on tiny inputs; its snapshots and
validation split."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.models import vgg19

from facegan.errors import UserError
from facegan.hifacegan.model import (LIP, SPADE, Generator, MultiscaleDiscriminator, SuppressionEncoder, baked,
                                      lip2d)
from facegan.pretrained import VGG19Features, load_vgg19
from facegan.hifacegan.train import drop_snapshots_after, keep_snapshot, split_validation
from facegan.hifacegan.losses import VGG_LAYER_WEIGHTS, feature_matching_loss, lsgan_loss, perceptual_loss
from facegan.training.loop import RunPaths


def test_lip_pooling_is_an_importance_weighted_average_over_3x3_windows():
    torch.manual_seed(0)
    x, logit = torch.randn(1, 2, 5, 6, dtype=torch.float64), torch.randn(1, 2, 5, 6, dtype=torch.float64)
    ours = lip2d(x, logit).numpy()
    xs, ws = x.numpy(), np.exp(logit.numpy())
    expected = np.zeros((1, 2, 3, 3))
    for c in range(2):
        for i in range(3):
            for j in range(3):  # window centred at (2i, 2j), stride 2, padding 1 (zero padding cancels)
                rows = slice(max(2 * i - 1, 0), 2 * i + 2)
                cols = slice(max(2 * j - 1, 0), 2 * j + 2)
                w = ws[0, c, rows, cols]
                expected[0, c, i, j] = (xs[0, c, rows, cols] * w).sum() / w.sum()
    np.testing.assert_allclose(ours, expected, rtol=1e-12)


def test_lip_logits_are_gated_into_0_12():
    lip = LIP(3)
    logits = lip.logit(torch.randn(2, 3, 8, 8) * 100)
    assert logits.min() >= 0 and logits.max() <= 12
    assert lip(torch.randn(2, 3, 8, 8)).shape == (2, 3, 4, 4)


def test_spade_batch_norm_in_training_running_averages_at_inference():
    torch.manual_seed(0)
    spade = SPADE(channels=3, guide_channels=2, hidden=4).double()
    x, guide = torch.randn(2, 3, 6, 6, dtype=torch.float64), torch.randn(2, 2, 6, 6, dtype=torch.float64)
    hidden = F.relu(F.conv2d(guide, spade.shared[0].weight, spade.shared[0].bias, padding=1))
    gamma = F.conv2d(hidden, spade.gamma.weight, spade.gamma.bias, padding=1)
    beta = F.conv2d(hidden, spade.beta.weight, spade.beta.bias, padding=1)
    # Training: each channel normalised over the batch and both spatial axes.
    mean, var = x.mean((0, 2, 3), keepdim=True), x.var((0, 2, 3), unbiased=False, keepdim=True)
    expected = (x - mean) / torch.sqrt(var + 1e-5) * (1 + gamma) + beta
    torch.testing.assert_close(spade(x, guide), expected, rtol=1e-10, atol=1e-10)
    # One step of the running averages (momentum 0.1; the variance unbiased), used at inference.
    running_mean = 0.1 * mean
    running_var = 0.9 + 0.1 * x.var((0, 2, 3), unbiased=True, keepdim=True)
    inferred = (x - running_mean) / torch.sqrt(running_var + 1e-5) * (1 + gamma) + beta
    spade.eval()
    torch.testing.assert_close(spade(x, guide), inferred, rtol=1e-10, atol=1e-10)
    # At inference an image's output does not depend on its batch.
    torch.testing.assert_close(spade(x[:1], guide[:1]), inferred[:1], rtol=1e-10, atol=1e-10)


def test_encoder_pyramid_sizes_and_widths():
    features = SuppressionEncoder(ngf=4)(torch.randn(1, 3, 64, 64))
    assert [f.shape[-1] for f in features] == [2, 4, 8, 16, 32, 64]
    assert [f.shape[1] for f in features] == [64, 64, 32, 16, 8, 4]  # 16 ngf at most


def test_generator_and_discriminator_shapes_and_batch_independence():
    torch.manual_seed(0)
    G, D = Generator(ngf=4, spade_hidden=8), MultiscaleDiscriminator(ndf=4, n_layers=4, num_d=2)
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        y = G.eval()(x)
        assert y.shape == x.shape and y.abs().max() <= 1
        torch.testing.assert_close(G(x[1:2]), y[1:2], rtol=1e-5, atol=1e-6)  # same alone as in a batch
        torch.testing.assert_close(baked(G)(x), y, rtol=1e-5, atol=1e-6)  # spectral norm folded in
    outputs = D(x, y)
    assert len(outputs) == 2 and all(len(scale) == 5 for scale in outputs)
    assert outputs[0][0].shape[1] == 6 - 2 and outputs[1][-1].shape[1] == 1  # ndf 4 first layer, 1-channel head
    assert outputs[1][0].shape[-1] < outputs[0][0].shape[-1]  # the second scale sees a halved input


def test_paper_width_generator_has_the_references_structure():
    G = Generator(ngf=64, spade_hidden=128)
    assert G.fc.out_channels == 1024 and G.ups[-1].conv_1.out_channels == 64
    assert sum(p.numel() for p in G.parameters()) == 130_676_355  # measured: a change to the layers changes it


def _d_outputs(seed):
    generator = torch.Generator().manual_seed(seed)
    return [[torch.randn(2, 3, 4, 4, generator=generator, dtype=torch.float64) for _ in range(3)] for _ in range(2)]


def test_lsgan_and_feature_matching_losses_against_direct_sums():
    fake, real = _d_outputs(0), _d_outputs(1)
    expected_real = np.mean([np.mean((s[-1].numpy() - 1) ** 2) for s in fake])
    expected_fake = np.mean([np.mean(s[-1].numpy() ** 2) for s in fake])
    assert lsgan_loss(fake, real=True).item() == pytest.approx(expected_real, rel=1e-12)
    assert lsgan_loss(fake, real=False).item() == pytest.approx(expected_fake, rel=1e-12)
    expected_fm = np.mean([sum(np.abs(f.numpy() - r.numpy()).mean() for f, r in zip(fs[:-1], rs[:-1]))
                           for fs, rs in zip(fake, real)])
    assert feature_matching_loss(fake, real).item() == pytest.approx(expected_fm, rel=1e-12)


def test_perceptual_loss_weights_the_five_relu_layers():
    torch.manual_seed(0)
    features = VGG19Features()
    a, b = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    # The slices end at relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 of torchvision's layout.
    full = torch.nn.Sequential(*[layer for block in features.slices for layer in block])
    ends = [1, 6, 11, 20, 29]
    expected = 0.0
    with torch.no_grad():
        for weight, end in zip(VGG_LAYER_WEIGHTS, ends):
            expected += weight * (full[: end + 1](a) - full[: end + 1](b)).abs().mean().item()
        assert perceptual_loss(features, a, b).item() == pytest.approx(expected, rel=1e-5)
    assert [type(block[-1]).__name__ for block in features.slices] == ["ReLU"] * 5


def test_vgg19_weights_load_from_torchvisions_file_layout(tmp_path):
    torch.manual_seed(1)
    network = vgg19(weights=None)
    torch.save(network.state_dict(), tmp_path / "vgg19.pth")
    loaded = load_vgg19(tmp_path / "vgg19.pth")
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)[-1], network.features[:30](x))


def test_snapshots_keep_the_last_n_and_a_restart_drops_the_ones_it_redoes(tmp_path):
    paths, G = RunPaths(tmp_path), torch.nn.Linear(2, 2)
    for iteration in (5, 10, 15):
        keep_snapshot(SimpleNamespace(iteration=iteration, G=G), paths, keep=2)
    assert sorted(path.name for path in paths.snapshots.iterdir()) == ["G-00000010.pt", "G-00000015.pt"]
    drop_snapshots_after(paths, 10)  # resumed from iteration 10: 15 is redone
    assert [path.name for path in paths.snapshots.iterdir()] == ["G-00000010.pt"]
    drop_snapshots_after(paths, 0)  # a fresh start
    assert list(paths.snapshots.iterdir()) == []


def test_the_validation_pairs_are_the_last_training_pairs_and_leave_some_to_train_on():
    pairs = np.arange(5)[:, None] * np.ones((5, 3), np.uint8)
    training, validation = split_validation(pairs, 2)
    assert training[:, 0].tolist() == [0, 1, 2] and validation[:, 0].tolist() == [3, 4]
    with pytest.raises(UserError, match="validation_images = 5 leaves none of the 5 training pairs"):
        split_validation(pairs, 5)
