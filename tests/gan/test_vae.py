"""VAE: each ELBO term against a hand computation (float64), and a short training run."""

import math

import pytest
import torch

from metagan_lab.gan.vae import (
    VAE,
    elbo,
    kl_divergence,
    reconstruction_loss,
    reparameterize,
    train_vae,
    vae_samples,
)


def test_reconstruction_loss_is_summed_bernoulli_nll():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.0]], dtype=torch.float64)

    def s(v):
        return 1 / (1 + math.exp(-v))

    per_sample = [-(math.log(s(2.0)) + math.log(1 - s(-1.0))),
                  -(math.log(1 - s(0.5)) + math.log(s(0.0)))]
    assert reconstruction_loss(x, logits).item() == pytest.approx(sum(per_sample) / 2, abs=1e-12)


def test_kl_matches_the_closed_form():
    mu = torch.tensor([[1.0, -0.5]], dtype=torch.float64)
    logvar = torch.tensor([[math.log(4.0), 0.0]], dtype=torch.float64)
    hand = 0.5 * ((1 + 4 - 1 - math.log(4)) + (0.25 + 1 - 1 - 0))
    assert kl_divergence(mu, logvar).item() == pytest.approx(hand, abs=1e-12)
    assert kl_divergence(torch.zeros(3, 2), torch.zeros(3, 2)).item() == 0.0


def test_elbo_is_minus_the_sum_of_the_terms():
    x = torch.rand(3, 1, 2, 2, dtype=torch.float64)
    logits, mu, logvar = torch.randn(3, 1, 2, 2), torch.randn(3, 4), torch.randn(3, 4)
    logits, mu, logvar = logits.double(), mu.double(), logvar.double()
    total = reconstruction_loss(x, logits) + kl_divergence(mu, logvar)
    assert elbo(x, logits, mu, logvar).item() == pytest.approx(-total.item(), abs=1e-12)


def test_reparameterize_by_hand():
    z = reparameterize(torch.tensor([1.0]), torch.tensor([math.log(9.0)]), torch.tensor([0.5]))
    assert z.item() == pytest.approx(1.0 + 3.0 * 0.5)


def test_training_raises_the_elbo():
    torch.manual_seed(0)
    images = (torch.rand(32, 1, 28, 28) > 0.85).float()
    model = VAE(z_dim=4, hidden=32)
    h = train_vae(model, images, steps=40, lr=3e-3, batch_size=16)
    assert sum(h["elbo"][-5:]) / 5 > sum(h["elbo"][:5]) / 5
    assert vae_samples(model, 6).shape == (6, 1, 28, 28)
