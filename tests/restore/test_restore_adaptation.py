"""Adaptation modes (all weights, gains only, head only): float64 checks against hand values."""

import pytest
import torch
from torch.func import functional_call

from metagan_lab.meta.functional import InnerLoop
from metagan_lab.models import params_of
from metagan_lab.restore.adaptation import (
    adapt_mode,
    apply_gains,
    gain_params,
    head_names,
    n_adapted,
)
from metagan_lab.restore.data import sample_task
from metagan_lab.restore.degradations import Setting
from metagan_lab.restore.evaluate import adaptation_curve
from metagan_lab.restore.meta import restorer_task
from metagan_lab.restore.models import Restorer

F64 = torch.float64


def _tiny(seed=0):
    torch.manual_seed(seed)
    model = Restorer(hidden=3, depth=3, activation="tanh", identity_init=False).double()
    images = torch.rand(6, 1, 8, 8, dtype=F64)
    task = sample_task(images, Setting("noise", 0.1), 2, 2, torch.Generator().manual_seed(seed))
    return model, params_of(model), task


def test_gains_at_one_reproduce_the_network_exactly():
    model, theta, task = _tiny()
    out = functional_call(model, apply_gains(theta, gain_params(theta)), (task.query_x,))
    assert torch.equal(out, functional_call(model, theta, (task.query_x,)))


def test_gain_gradient_equals_the_hand_chain_rule():
    """∂L/∂γ_c at γ = 1 is Σ_{in, i, j} W_c ⊙ ∂L/∂W_c (W_c: the filters of output channel c)."""
    model, theta, task = _tiny(1)
    problem = restorer_task(model, task, tv_weight=0.01)
    gains = gain_params(theta)
    g_gain = torch.autograd.grad(problem.support_loss(apply_gains(theta, gains)),
                                 list(gains.values()))
    g_w = torch.autograd.grad(problem.support_loss(theta), [theta[n] for n in gains])
    for (name, dg), dw in zip(zip(gains, g_gain), g_w):
        hand = (theta[name] * dw).sum(dim=(1, 2, 3))                    # [C_out]
        assert torch.allclose(dg, hand, atol=1e-13, rtol=0), name
        assert dg.abs().max() > 0


def test_gain_gradient_away_from_one_matches_a_finite_difference():
    model, theta, task = _tiny(2)
    problem = restorer_task(model, task)
    gains = {n: torch.full_like(g, 0.8).requires_grad_() for n, g in gain_params(theta).items()}
    name = next(iter(gains))
    grad = torch.autograd.grad(problem.support_loss(apply_gains(theta, gains)), gains[name])[0]
    h = 1e-6
    for c in range(gains[name].numel()):
        plus, minus = ({**gains, name: gains[name].detach().clone()} for _ in range(2))
        plus[name][c] += h
        minus[name][c] -= h
        fd = (problem.support_loss(apply_gains(theta, plus))
              - problem.support_loss(apply_gains(theta, minus))) / (2 * h)
        assert abs(fd.item() - grad[c].item()) < 1e-8


def test_one_sgd_step_on_the_gains_by_hand():
    model, theta, task = _tiny(3)
    problem = restorer_task(model, task)
    adapted = adapt_mode(problem, theta, InnerLoop(lr=0.5, steps=1, first_order=True), "gains")
    g_w = torch.autograd.grad(problem.support_loss(theta), list(theta.values()))
    grads = dict(zip(theta, g_w))
    for name, p in theta.items():
        if p.dim() == 4:
            gamma = 1 - 0.5 * (p * grads[name]).sum(dim=(1, 2, 3))      # γ' = 1 − α ∂L/∂γ
            assert torch.allclose(adapted[name], gamma[:, None, None, None] * p, atol=1e-14)
        else:
            assert torch.equal(adapted[name], p)                        # biases are frozen


def test_head_mode_changes_only_the_last_convolution():
    model, theta, task = _tiny(4)
    problem = restorer_task(model, task)
    adapted = adapt_mode(problem, theta, InnerLoop(lr=0.5, steps=2, first_order=True), "head")
    head = head_names(theta)
    assert head == ("body.4.weight", "body.4.bias")
    for name in theta:
        assert torch.equal(adapted[name], theta[name]) != (name in head), name


def test_n_adapted_counts_weights_gains_and_head():
    theta = params_of(Restorer(hidden=3, depth=3))
    assert n_adapted(theta, "gains") == 3 + 3 + 1
    assert n_adapted(theta, "head") == 3 * 9 + 1
    assert n_adapted(theta, "all") == (9 * 3 + 3) + (27 * 3 + 3) + (27 + 1)


def test_unknown_mode_is_refused():
    model, theta, task = _tiny()
    with pytest.raises(ValueError, match="mode"):
        adapt_mode(restorer_task(model, task), theta, InnerLoop(lr=0.1), "bias")


@pytest.mark.parametrize("mode", ["all", "gains", "head"])
def test_adaptation_curve_per_mode_lowers_the_support_loss_and_reports_each_k(mode):
    model, theta, task = _tiny(5)
    curve = adaptation_curve(model, theta, task, 0.01, steps=(0, 3), optimizer="adam", mode=mode)
    assert curve["steps"] == [0, 3] and len(curve["psnr"]) == 2
    problem = restorer_task(model, task)
    after = adapt_mode(problem, theta, InnerLoop(lr=0.01, steps=3, first_order=True,
                                                 optimizer="adam"), mode)
    assert problem.support_loss(after) < problem.support_loss(theta)


@pytest.mark.parametrize("optimizer, mode", [("sgd", "all"), ("sgd", "head"), ("sgd", "gains"),
                                             ("adam", "all")])
def test_each_k_of_the_curve_equals_a_fresh_k_step_run(optimizer, mode):
    """SGD resumes from θ'_1 to reach θ'_3; Adam and gains restart: each equals k fresh steps."""
    from metagan_lab.restore.metrics import psnr

    model, theta, task = _tiny(6)
    curve = adaptation_curve(model, theta, task, 0.05 if optimizer == "sgd" else 0.01,
                             steps=(1, 3), optimizer=optimizer, mode=mode)
    problem = restorer_task(model, task)
    for k, got in zip((1, 3), curve["psnr"]):
        inner = InnerLoop(lr=0.05 if optimizer == "sgd" else 0.01, steps=k, first_order=True,
                          optimizer=optimizer)
        params = adapt_mode(problem, theta, inner, mode)
        want = psnr(functional_call(model, params, (task.query_x,)), task.query_y).mean().item()
        assert got == pytest.approx(want, abs=1e-10)
