"""Hypergradient descent against hand computation and finite differences (float64)."""

import pytest
import torch

from metagan_lab.gan.hypergrad import (
    HypergradState,
    check_lr,
    hypergradient,
    hypergradient_lr_update,
    hypergradient_sgd_step,
)

A = torch.tensor([[2.0, 0.3], [0.3, 1.0]], dtype=torch.float64)


def f(theta):
    return 0.5 * theta @ A @ theta                                   # ∇f = Aθ


def grad_f(theta):
    return {"w": A @ theta}


def test_hypergradient_equals_finite_difference_of_loss_in_alpha():
    theta_prev = torch.tensor([1.0, -2.0], dtype=torch.float64)      # θ_{t−2}
    alpha = 0.1
    g_prev = grad_f(theta_prev)
    theta = theta_prev - alpha * g_prev["w"]                         # θ_{t−1}(α)
    h = 1e-6
    fd = (f(theta_prev - (alpha + h) * g_prev["w"]) - f(theta_prev - (alpha - h) * g_prev["w"]))
    fd = fd / (2 * h)                                                # ∂f(θ_{t−1})/∂α
    assert hypergradient(grad_f(theta), g_prev).item() == pytest.approx(fd.item(), rel=1e-8)


def test_two_sgd_hd_steps_by_hand():
    theta0 = torch.tensor([1.0, -2.0], dtype=torch.float64)
    alpha0, beta = 0.1, 0.01
    state = HypergradState(alpha0, None)
    p1, state = hypergradient_sgd_step({"w": theta0}, grad_f(theta0), state, beta)
    g0 = A @ theta0
    assert state.lr == alpha0                                        # no hypergradient yet
    assert torch.allclose(p1["w"], theta0 - alpha0 * g0)
    p2, state = hypergradient_sgd_step(p1, grad_f(p1["w"]), state, beta)
    g1 = A @ p1["w"]
    alpha1 = alpha0 + beta * (g1 @ g0).item()                        # α_t = α − β·(−g_t·g_{t−1})
    assert state.lr == pytest.approx(alpha1, rel=1e-12)
    assert torch.allclose(p2["w"], p1["w"] - alpha1 * g1)


def test_lr_never_goes_negative():
    g = {"w": torch.tensor([1.0])}
    assert hypergradient_lr_update(0.01, g, {"w": torch.tensor([-1.0])}, hyper_lr=1.0) == 0.0


@pytest.mark.parametrize("bad", [0.0, -1e-3, float("nan")])
def test_bad_learning_rate_raises_naming_it(bad):
    with pytest.raises(ValueError, match=f"lr_g.*{bad}"):
        check_lr("lr_g", bad)
