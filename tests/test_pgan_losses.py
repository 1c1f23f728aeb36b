"""WGAN-GP + drift against direct computations."""
import torch

from facegan.training.wgan_gp import discriminator_loss, generator_loss, gradient_penalty


def test_gradient_penalty_of_a_linear_critic_is_known():
    """critic(x) = <w, x> has gradient w everywhere, so the penalty is (||w|| - 1)^2."""
    w = torch.randn(3, 4, 4)
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    penalty = gradient_penalty(lambda x: (x * w).flatten(1).sum(1), real, fake, torch.rand(5))
    torch.testing.assert_close(penalty, torch.full((5,), (w.norm().item() - 1) ** 2))


def test_gradient_penalty_interpolates_per_sample():
    """critic(x) = ||x||^2 / 2 has gradient x_hat: the penalty reveals where x_hat was taken."""
    real, fake, u = torch.randn(4, 2, 3, 3), torch.randn(4, 2, 3, 3), torch.tensor([0.0, 0.25, 0.5, 1.0])
    penalty = gradient_penalty(lambda x: 0.5 * x.pow(2).flatten(1).sum(1), real, fake, u)
    x_hat = real + u.view(-1, 1, 1, 1) * (fake - real)
    torch.testing.assert_close(penalty, (x_hat.flatten(1).norm(dim=1) - 1) ** 2)


def test_discriminator_loss_is_the_wgan_gp_formula():
    torch.manual_seed(0)
    w = torch.randn(3, 2, 2)

    def critic(x):
        return (x * w).flatten(1).sum(1)

    real, fake, u = torch.randn(6, 3, 2, 2), torch.randn(6, 3, 2, 2), torch.rand(6)
    loss, parts = discriminator_loss(critic, real, fake, u, gp_weight=10.0, drift_weight=0.001)
    d_real, d_fake = critic(real), critic(fake)
    expected = (d_fake - d_real + 10 * (w.norm() - 1) ** 2 + 0.001 * d_real**2).mean()
    torch.testing.assert_close(loss, expected)
    assert abs(parts["wasserstein"] - (d_real - d_fake).mean().item()) < 1e-5
    torch.testing.assert_close(generator_loss(critic, fake), -d_fake.mean())


def test_penalty_gradient_reaches_the_critic_parameters():
    """The double backward must flow: the penalty alone moves the critic's weights."""
    critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    reals, fakes = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    penalty = gradient_penalty(lambda x: critic(x).squeeze(1), reals, fakes, torch.rand(4))
    penalty.mean().backward()
    assert critic[1].weight.grad is not None and critic[1].weight.grad.abs().sum() > 0
