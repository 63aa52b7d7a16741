"""GAN losses against hand computations in float64 (fixed logits, linear / quadratic critics)."""

import math

import pytest
import torch
import torch.nn.functional as F

from metagan_lab.gan import losses as L

REAL = [0.5, -1.0, 2.0]
FAKE = [-0.3, 1.5, 0.0]


def sig(v):
    return 1 / (1 + math.exp(-v))


def mean(values):
    return sum(values) / len(values)


@pytest.fixture
def logits():
    return (torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64))


def test_minimax_value_and_losses_match_hand_computation(logits):
    r, f = logits
    v = mean([math.log(sig(a)) for a in REAL]) + mean([math.log(1 - sig(b)) for b in FAKE])
    assert L.minimax_value(r, f).item() == pytest.approx(v, abs=1e-12)
    assert L.discriminator_loss_minimax(r, f).item() == pytest.approx(-v, abs=1e-12)
    sat = mean([math.log(1 - sig(b)) for b in FAKE])
    assert L.generator_loss_saturating(f).item() == pytest.approx(sat, abs=1e-12)
    nonsat = -mean([math.log(sig(b)) for b in FAKE])
    assert L.generator_loss_nonsaturating(f).item() == pytest.approx(nonsat, abs=1e-12)


def test_minimax_discriminator_loss_is_binary_cross_entropy(logits):
    r, f = logits
    bce = (F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
           + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)))
    assert torch.allclose(L.discriminator_loss_minimax(r, f), bce, atol=1e-14)


def test_least_squares_wasserstein_hinge_match_hand_computation(logits):
    r, f = logits
    ls_d = 0.5 * mean([(a - 1) ** 2 for a in REAL]) + 0.5 * mean([b**2 for b in FAKE])
    assert L.discriminator_loss_least_squares(r, f).item() == pytest.approx(ls_d, abs=1e-12)
    ls_g = 0.5 * mean([(b - 1) ** 2 for b in FAKE])
    assert L.generator_loss_least_squares(f).item() == pytest.approx(ls_g, abs=1e-12)
    assert L.critic_loss_wasserstein(r, f).item() == pytest.approx(mean(FAKE) - mean(REAL))
    assert L.generator_loss_wasserstein(f).item() == pytest.approx(-mean(FAKE))
    hinge = mean([max(0, 1 - a) for a in REAL]) + mean([max(0, 1 + b) for b in FAKE])
    assert L.discriminator_loss_hinge(r, f).item() == pytest.approx(hinge, abs=1e-12)


def test_saturating_gradient_vanishes_where_nonsaturating_does_not():
    ell = torch.tensor([-6.0, 0.0, 3.0], dtype=torch.float64)
    g = L.generator_logit_gradients(ell)
    s = torch.sigmoid(ell)
    assert torch.allclose(g["saturating"], -s, atol=1e-14)
    assert torch.allclose(g["nonsaturating"], s - 1, atol=1e-14)
    assert abs(g["saturating"][0]) < 0.01 < abs(g["nonsaturating"][0])   # D rejects: ℓ ≪ 0


def _linear_critic(w):
    return lambda x: (x * w).flatten(1).sum(dim=1)                  # D(x) = Σ w ⊙ x, ∇_x D = w


def test_gradient_penalty_norm_is_over_all_pixels_and_channels():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(2, 3, 3, generator=gen, dtype=torch.float64)     # [C, H, W]
    real = torch.randn(4, 2, 3, 3, generator=gen, dtype=torch.float64)
    fake = torch.randn(4, 2, 3, 3, generator=gen, dtype=torch.float64)
    lam = 10.0
    gp = L.gradient_penalty(_linear_critic(w), real, fake, lam)
    hand = lam * (w.pow(2).sum().sqrt().item() - 1) ** 2            # ‖w‖ over all C·H·W entries
    assert gp.item() == pytest.approx(hand, rel=1e-12)
    channel_only = lam * (w.pow(2).sum(0).sqrt() - 1).pow(2).mean().item()  # the classic bug
    assert abs(channel_only - hand) > 1.0                            # the test can tell them apart


def test_input_gradient_norms_of_a_quadratic_critic():
    x = torch.randn(5, 3, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    norms = L.input_gradient_norms(lambda v: v.pow(2).flatten(1).sum(1), x)   # ∇ = 2x
    assert torch.allclose(norms, 2 * x.flatten(1).norm(dim=1), atol=1e-12)


def test_r1_penalty_matches_hand_computation():
    x = torch.randn(6, 1, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    gamma = 3.0
    r1 = L.r1_penalty(lambda v: 0.5 * v.pow(2).flatten(1).sum(1), x, gamma)  # ∇ = x
    hand = gamma / 2 * x.flatten(1).pow(2).sum(1).mean().item()
    assert r1.item() == pytest.approx(hand, rel=1e-12)


def test_penalty_is_differentiable_with_respect_to_critic_weights():
    w = torch.ones(1, 2, 2, dtype=torch.float64, requires_grad=True)
    x = torch.ones(3, 1, 2, 2, dtype=torch.float64)
    r1 = L.r1_penalty(_linear_critic(w), x, 2.0)                    # = ‖w‖² = Σ w²
    (g,) = torch.autograd.grad(r1, w)
    assert torch.allclose(g, 2 * w.detach())


def test_optimal_discriminator_formula():
    assert L.optimal_discriminator(torch.tensor(3.0), torch.tensor(1.0)).item() == 0.75


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_invalid_penalty_weights_raise_naming_the_value(bad):
    x = torch.zeros(2, 1, 2, 2)
    with pytest.raises(ValueError, match="gp_lambda"):
        L.gradient_penalty(_linear_critic(torch.ones(1, 2, 2)), x, x, bad)
    with pytest.raises(ValueError, match=f"r1_gamma.*{bad}"):
        L.r1_penalty(_linear_critic(torch.ones(1, 2, 2)), x, bad)


def test_unknown_loss_name_lists_choices():
    with pytest.raises(ValueError, match="hinge"):
        L.get_losses("wasserstein")
