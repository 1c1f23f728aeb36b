"""StarGAN networks and losses against the reference sizes and direct computations."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from facegan.stargan.model import (
    AttributeClassifier,
    Discriminator,
    Generator,
    ResidualBlock,
    build_discriminator,
    build_generator,
    edit_targets,
    tile_labels,
)
from conftest import tiny_params_dict, write_params
from facegan.params_file import load_params
from facegan.stargan.inference import untrained_generator
from facegan.stargan.losses import classification_loss, stargan_discriminator_loss, stargan_generator_loss
from facegan.stargan.train import network_config
from facegan.training.conditional_gan import setup_gan
from facegan.training.loop import RunPaths


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_match_the_reference():
    assert _count(Generator(c_dim=5)) == 8_430_528
    assert _count(Discriminator(image_size=128, c_dim=5)) == 44_762_048


@pytest.mark.parametrize("image_size, repeat_num", [(128, 6), (32, 4)])
def test_output_shapes(image_size, repeat_num):
    torch.manual_seed(0)
    x, c = torch.rand(2, 3, image_size, image_size) * 2 - 1, torch.rand(2, 5).round()
    G = Generator(c_dim=5, conv_dim=4, repeat_num=2)
    D = Discriminator(image_size, c_dim=5, conv_dim=4, repeat_num=repeat_num)
    judge = AttributeClassifier(image_size, c_dim=5, conv_dim=4, repeat_num=repeat_num)
    fake = G(x, c)
    assert fake.shape == x.shape and fake.abs().max() <= 1 and G.c_dim == 5
    src, cls = D(fake)
    assert src.shape == (2, 1, 2, 2) and cls.shape == (2, 5)
    assert judge(x).shape == (2, 5)


def test_state_dict_names_are_readable_and_the_classifier_shares_d_trunk():
    G, D = Generator(c_dim=3, conv_dim=4, repeat_num=2), Discriminator(32, c_dim=3, conv_dim=4, repeat_num=4)
    judge = AttributeClassifier(32, c_dim=3, conv_dim=4, repeat_num=4)
    assert {key.split(".")[0] for key in G.state_dict()} == {"stem", "down", "blocks", "up", "to_rgb"}
    assert "blocks.1.layers.4.weight" in G.state_dict()
    # IN keeps no running averages: inference normalises each image by its own statistics.
    assert not any("running" in key for key in G.state_dict())
    G.eval()
    x, c = torch.rand(2, 3, 16, 16) * 2 - 1, torch.ones(2, 3)
    assert torch.allclose(G(x, c), G.train()(x, c))
    judge_keys = {key: value.shape for key, value in judge.state_dict().items()}
    d_keys = {key: value.shape for key, value in D.state_dict().items() if not key.startswith("src_head")}
    assert judge_keys == d_keys


def test_discriminator_rejects_an_image_size_the_trunk_cannot_divide():
    with pytest.raises(ValueError, match="divisible"):
        Discriminator(image_size=100, c_dim=5, conv_dim=4, repeat_num=6)


def test_tile_labels_matches_a_loop():
    c = torch.rand(3, 4)
    tiled = tile_labels(c, 5, 6)
    expected = torch.empty(3, 4, 5, 6)
    for n in range(3):
        for k in range(4):
            expected[n, k] = c[n, k]
    torch.testing.assert_close(tiled, expected)


def test_residual_block_is_its_definition():
    torch.manual_seed(0)
    block = ResidualBlock(4)
    for module in block.modules():
        if isinstance(module, torch.nn.InstanceNorm2d):  # non-trivial affine parameters
            torch.nn.init.normal_(module.weight)
            torch.nn.init.normal_(module.bias)
    x = torch.randn(2, 4, 6, 6)
    conv1, norm1, _, conv2, norm2 = block.layers
    h = F.relu(F.instance_norm(F.conv2d(x, conv1.weight, padding=1), weight=norm1.weight, bias=norm1.bias))
    h = F.instance_norm(F.conv2d(h, conv2.weight, padding=1), weight=norm2.weight, bias=norm2.bias)
    assert conv1.bias is None and conv2.bias is None
    torch.testing.assert_close(block(x), x + h)


def test_edit_targets_set_one_hair_colour_and_flip_the_rest():
    names = ["Black_Hair", "Male", "Blond_Hair", "Young"]  # Brown_Hair and Gray_Hair not selected
    c_org = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    black, male, blond, young = edit_targets(c_org, names)
    torch.testing.assert_close(black, torch.tensor([[1.0, 0, 0, 1], [1, 1, 0, 0], [1, 0, 0, 0]]))
    torch.testing.assert_close(male, torch.tensor([[1.0, 1, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0]]))
    torch.testing.assert_close(blond, torch.tensor([[0.0, 0, 1, 1], [0, 1, 1, 0], [0, 0, 1, 0]]))
    torch.testing.assert_close(young, torch.tensor([[1.0, 0, 0, 0], [0, 1, 1, 1], [0, 0, 0, 1]]))
    assert c_org[0].tolist() == [1.0, 0.0, 0.0, 1.0]  # the input is left alone


def test_classification_loss_matches_numpy():
    torch.manual_seed(0)
    logits, target = torch.randn(6, 5, dtype=torch.float64), torch.rand(6, 5, dtype=torch.float64).round()
    x, t = logits.numpy(), target.numpy()
    s = 1 / (1 + np.exp(-x))
    expected = -np.sum(t * np.log(s) + (1 - t) * np.log(1 - s)) / 6
    assert classification_loss(logits, target).item() == pytest.approx(expected, rel=1e-10)


def _tiny_d() -> Discriminator:
    torch.manual_seed(1)
    return Discriminator(image_size=16, c_dim=3, conv_dim=4, repeat_num=3)


def _batch(n: int = 4):
    torch.manual_seed(2)
    return torch.randn(n, 3, 16, 16), torch.randn(n, 3, 16, 16), torch.rand(n, 3).round(), torch.rand(n)


def _per_sample_gp(D, real, fake, u):
    """(||grad_x sum D_src(x_hat_i)|| - 1)^2, one sample at a time."""
    penalties = []
    for i in range(real.shape[0]):
        x_hat = (real[i : i + 1] + u[i] * (fake[i : i + 1] - real[i : i + 1])).requires_grad_(True)
        (grad,) = torch.autograd.grad(D(x_hat)[0].sum(), x_hat)
        penalties.append((grad.norm() - 1) ** 2)
    return torch.stack(penalties)


def test_discriminator_loss_is_the_sum_of_its_terms():
    D, (real, fake, c_org, u) = _tiny_d(), _batch()
    loss, parts = stargan_discriminator_loss(D, real, fake, c_org, u, lambda_cls=1.0, lambda_gp=10.0)
    (src_real, cls_real), (src_fake, _) = D(real), D(fake)
    gp = _per_sample_gp(D, real, fake, u).mean()
    expected = -src_real.mean() + src_fake.mean() + classification_loss(cls_real, c_org) + 10 * gp
    torch.testing.assert_close(loss, expected)
    assert parts["gp"] == pytest.approx(gp.item(), rel=1e-5)
    assert parts["d_real"] == pytest.approx(-src_real.mean().item(), rel=1e-5)
    assert parts["d_fake"] == pytest.approx(src_fake.mean().item(), rel=1e-5)
    assert parts["d_cls"] == pytest.approx(classification_loss(cls_real, c_org).item(), rel=1e-5)


def test_generator_loss_is_the_sum_of_its_terms():
    D, (real, fake, c_trg, _) = _tiny_d(), _batch()
    reconstructed = real + 0.1 * torch.randn_like(real)
    loss, parts = stargan_generator_loss(D, fake, reconstructed, real, c_trg, lambda_cls=1.0, lambda_rec=10.0)
    src_fake, cls_fake = D(fake)
    rec = (real - reconstructed).abs().mean()
    torch.testing.assert_close(loss, -src_fake.mean() + classification_loss(cls_fake, c_trg) + 10 * rec)
    assert parts == pytest.approx(
        {"g_fake": -src_fake.mean().item(), "g_cls": classification_loss(cls_fake, c_trg).item(), "g_rec": rec.item()},
        rel=1e-5,
    )


def test_identity_term_adds_its_weighted_l1():
    D, (real, fake, c_trg, _) = _tiny_d(), _batch()
    reconstructed, unchanged = real + 0.1 * torch.randn_like(real), real + 0.2 * torch.randn_like(real)
    without, _ = stargan_generator_loss(D, fake, reconstructed, real, c_trg, lambda_cls=1.0, lambda_rec=10.0)
    loss, parts = stargan_generator_loss(D, fake, reconstructed, real, c_trg, lambda_cls=1.0, lambda_rec=10.0,
                                         unchanged=unchanged, lambda_id=30.0)
    identity = (real - unchanged).abs().mean()
    torch.testing.assert_close(loss, without + 30 * identity)
    assert parts["g_id"] == pytest.approx(identity.item(), rel=1e-5)


def test_penalty_gradient_reaches_d_weights():
    """Only the GP differs between the two losses, so the gradient of their difference is the GP's."""
    D, (real, fake, c_org, u) = _tiny_d(), _batch()
    with_gp, _ = stargan_discriminator_loss(D, real, fake, c_org, u, lambda_cls=1.0, lambda_gp=10.0)
    without_gp, _ = stargan_discriminator_loss(D, real, fake, c_org, u, lambda_cls=1.0, lambda_gp=0.0)
    (with_gp - without_gp).backward()
    for conv in (D.trunk[0][0], D.src_head):
        assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_untrained_generator_is_the_one_training_starts_from(tmp_path):
    """The evaluation's baseline G is the seeded G of iteration 0, weight for weight."""
    stargan = load_params(write_params(tmp_path / "params.yaml", tiny_params_dict())).stargan
    state = setup_gan(stargan.train, network_config(stargan), (build_generator, build_discriminator), {"test": "inputs"},
                      RunPaths(tmp_path / "run"), torch.device("cpu"), "StarGAN")
    baseline = untrained_generator(network_config(stargan), stargan.train.seed)
    for name, value in state.G.state_dict().items():
        torch.testing.assert_close(baseline.state_dict()[name], value, rtol=0, atol=0)
    assert not baseline.training
