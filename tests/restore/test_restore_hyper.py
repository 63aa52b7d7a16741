"""Learned λ: the hypergradient ∂L_val/∂log λ through the inner steps vs a finite difference."""

import math

import pytest
import torch

from metagan_lab.meta.functional import InnerLoop
from metagan_lab.models import params_of
from metagan_lab.restore.data import sample_task
from metagan_lab.restore.degradations import Setting, TaskFamily
from metagan_lab.restore.hyper import (
    hypergradient,
    learn_tv_weight,
    second_order,
    validation_loss,
)
from metagan_lab.restore.meta import RestoreMetaConfig
from metagan_lab.restore.models import Restorer

F64 = torch.float64
INNER = InnerLoop(lr=0.5, steps=2, first_order=False)


def _tiny(seed=0):
    torch.manual_seed(seed)
    model = Restorer(hidden=3, depth=2, activation="tanh", identity_init=False).double()
    images = torch.rand(8, 1, 8, 8, dtype=F64)
    task = sample_task(images, Setting("noise", 0.2), 3, 2, torch.Generator().manual_seed(seed))
    return model, params_of(model), task, images


@pytest.mark.parametrize("log_lambda", [math.log(0.05), math.log(0.5)])
def test_hypergradient_matches_a_central_finite_difference(log_lambda):
    model, theta, task, _ = _tiny()
    ell = torch.tensor(log_lambda, dtype=F64)
    grad = hypergradient(model, theta, task, ell, INNER)
    h = 1e-5
    with torch.enable_grad():
        plus = validation_loss(model, theta, task, ell + h, INNER).item()
        minus = validation_loss(model, theta, task, ell - h, INNER).item()
    fd = (plus - minus) / (2 * h)
    assert grad.abs() > 1e-8                                 # λ does act through the steps
    assert abs(grad.item() - fd) < 1e-7 * max(1.0, abs(fd)), (grad.item(), fd)


def test_one_step_hypergradient_by_hand():
    """k = 1: θ' = θ − α(∇L + λ∇R) so ∂L_val/∂ℓ = ∇L_val(θ')·(−α λ ∇R(θ))."""
    model, theta, task, _ = _tiny(1)
    one = InnerLoop(lr=0.5, steps=1, first_order=False)
    ell = torch.tensor(math.log(0.2), dtype=F64)
    from torch.func import functional_call

    from metagan_lab.restore.objectives import data_fidelity, total_variation

    out = lambda p, x: functional_call(model, p, (x,))  # noqa: E731
    g_l = torch.autograd.grad(data_fidelity(out(theta, task.support_x), task.support_y),
                              list(theta.values()))
    g_r = torch.autograd.grad(total_variation(out(theta, task.support_x)), list(theta.values()))
    new = {n: p - 0.5 * (a + 0.2 * b) for (n, p), a, b in zip(theta.items(), g_l, g_r)}
    g_val = torch.autograd.grad(data_fidelity(out(new, task.query_x), task.query_y),
                                list(new.values()))
    hand = sum((g * (-0.5 * 0.2 * b)).sum() for g, b in zip(g_val, g_r))
    assert torch.allclose(hypergradient(model, theta, task, ell, one), hand, atol=1e-15)


def test_first_order_inner_steps_are_refused():
    model, theta, task, _ = _tiny()
    with pytest.raises(ValueError, match="first_order=False"):
        validation_loss(model, theta, task, torch.tensor(0.0, dtype=F64),
                        InnerLoop(lr=0.1, steps=1, first_order=True))


def test_learn_tv_weight_returns_lambda_history_and_steps_against_the_hypergradient():
    model, theta, _, images = _tiny(2)
    cfg = RestoreMetaConfig(method="maml", inner_lr=0.5, inner_steps=2, meta_batch=1, k_shot=3,
                            n_query=2, tv_weight=0.1)
    family = TaskFamily(kinds=("noise",))
    frozen = {n: p.detach().clone() for n, p in theta.items()}
    out = learn_tv_weight(model, theta, images, family, cfg, 3, lambda_lr=0.1,
                          train_theta=False, seed=4, progress=False)
    lam = out["lambda"]
    assert len(lam) == 4 and lam[0] == 0.1 and len(out["loss"]) == 3
    assert all(torch.equal(theta[n], frozen[n]) for n in theta)      # θ frozen
    # Adam's first step on ℓ is −lr·sign(g) (m̂ = g, v̂ = g²): recompute g on the same task
    from metagan_lab.restore.meta import sample_tasks

    (task,) = sample_tasks(images, family, cfg, torch.Generator().manual_seed(4))
    g = hypergradient(model, theta, task, torch.tensor(math.log(0.1), dtype=F64),
                      second_order(cfg))
    assert math.isclose(math.log(lam[1]), math.log(0.1) - 0.1 * math.copysign(1, g.item()),
                        abs_tol=1e-5)                  # Adam: g / (|g| + 1e-8)
