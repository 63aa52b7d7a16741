"""Exactness (b): meta-gradients equal central finite differences (≤ 1e-6 relative) on a smooth
Conv-4 (tanh, average pooling, batch statistics) in float64.

Finite differences are taken along a few random directions v: ⟨∇, v⟩ against
(L(θ + hv) − L(θ − hv)) / 2h. With ReLU and max-pooling the meta-loss is only piecewise smooth,
so a finite difference that straddles a kink measures neither side; hence the smooth net here.
"""

import pytest
import torch
import torch.nn.functional as F
from meta_helpers import tiny_conv4, tiny_episode
from torch.func import functional_call

from metagan_lab.meta.anil import head_names
from metagan_lab.meta.engines import get_engine
from metagan_lab.meta.functional import InnerLoop, adapt, task_loss
from metagan_lab.meta.gradcheck import directional_fd_errors
from metagan_lab.meta.maml import maml_outer_loss, meta_gradient
from metagan_lab.meta.meta_sgd import init_alphas, meta_sgd_outer_loss
from metagan_lab.meta.reptile import reptile_step

H = 1e-7            # truncation O(h²) ≈ 1e-9 here; rounding ≈ 1e-16 · |L| / h ≈ 1e-9
TOL = 1e-6


def directional_check(f, params: dict, grads: dict) -> float:
    return max(directional_fd_errors(f, params, grads, h=H, n_dirs=2))


def test_the_check_itself_catches_a_wrong_gradient():
    params = {"w": torch.tensor([0.3, -1.2], dtype=torch.float64)}
    f = lambda p: (p["w"] ** 3).sum()  # noqa: E731
    right = {"w": 3 * params["w"] ** 2}
    assert directional_check(f, params, right) <= TOL
    assert directional_check(f, params, {"w": 1.01 * right["w"]}) > 1e-3
    with pytest.raises(ValueError, match="h must be > 0"):
        directional_fd_errors(f, params, right, h=0.0)


def leaves(params):
    return {n: p.detach().requires_grad_() for n, p in params.items()}


@pytest.mark.parametrize("path,steps", [("loop", 1), ("batched", 2)])
def test_second_order_maml_matches_finite_differences(path, steps):
    model, params = tiny_conv4(smooth=True)
    ep = tiny_episode(n_tasks=2)
    engine, inner = get_engine(path, model, "cpu"), InnerLoop(0.4, steps)
    grads = meta_gradient(maml_outer_loss(model, params, ep, inner, engine), params)
    f = lambda p: maml_outer_loss(model, leaves(p), ep, inner, engine)  # noqa: E731
    assert directional_check(f, params, grads) <= TOL


def test_anil_matches_finite_differences():
    model, params = tiny_conv4(smooth=True)
    ep = tiny_episode(n_tasks=2)
    heads = head_names(params)
    inner = InnerLoop(0.4, 2, adapted=heads)
    grads = meta_gradient(maml_outer_loss(model, params, ep, inner), params)
    f = lambda p: maml_outer_loss(model, leaves(p), ep, inner)  # noqa: E731
    assert directional_check(f, params, grads) <= TOL


def test_meta_sgd_matches_finite_differences_in_theta_and_alpha():
    model, params = tiny_conv4(smooth=True)
    ep = tiny_episode(n_tasks=2)
    alphas = init_alphas(params, 0.3)
    both = {**params, **{f"alpha.{n}": a for n, a in alphas.items()}}
    grads = meta_gradient(meta_sgd_outer_loss(model, params, alphas, ep, InnerLoop(),
                                              get_engine("batched", model, "cpu")), both)

    def f(p):
        theta = leaves({n: p[n] for n in params})
        return meta_sgd_outer_loss(model, theta, {n: p[f"alpha.{n}"] for n in params}, ep)
    assert directional_check(f, both, grads) <= TOL


def test_first_order_maml_is_the_query_gradient_at_the_adapted_weights():
    """FOMAML's meta-gradient is (1/T) Σ_i ∇L_query_i evaluated at the fixed point θ'_i."""
    model, params = tiny_conv4(smooth=True)
    ep = tiny_episode(n_tasks=2)
    inner = InnerLoop(0.4, 2, first_order=True)
    grads = meta_gradient(maml_outer_loss(model, params, ep, inner,
                                          get_engine("batched", model, "cpu")), params)
    phis = [{n: p.detach() for n, p in adapt(model, params, sx, sy, inner).items()}
            for sx, sy in zip(ep.support_x, ep.support_y)]

    def f(delta):  # shifts every θ'_i by the same δ: L(θ'_i + δ) averaged over tasks
        return sum(task_loss(model, {n: phi[n] + delta[n] for n in phi}, qx, qy)
                   for phi, qx, qy in zip(phis, ep.query_x, ep.query_y)) / len(phis)
    zero = {n: torch.zeros_like(p) for n, p in params.items()}
    assert directional_check(f, zero, grads) <= TOL


@pytest.mark.parametrize("steps", [1, 2])
def test_reptile_direction_is_the_sum_of_support_gradients_along_the_path(steps):
    """(θ − φ̃)/α = Σ_j ∇L_support(φ_j) over the k inner iterates φ_0 = θ, …, φ_{k−1}."""
    model, params = tiny_conv4(smooth=True)
    ep = tiny_episode(n_tasks=1)
    alpha = 0.2
    new = reptile_step(model, params, ep, InnerLoop(alpha, steps), epsilon=1.0,
                       engine=get_engine("batched", model, "cpu"))
    direction = {n: (params[n].detach() - new[n]) / alpha for n in params}
    iterates, phi = [], leaves(params)
    for _ in range(steps):
        iterates.append({n: p.detach() for n, p in phi.items()})
        phi = leaves(adapt(model, phi, ep.support_x[0], ep.support_y[0],
                           InnerLoop(alpha, 1, first_order=True)))
    sx, sy = ep.support_x[0], ep.support_y[0]

    def f(delta):
        return sum(F.cross_entropy(functional_call(model, {n: it[n] + delta[n] for n in it},
                                                   (sx,)), sy) for it in iterates)
    zero = {n: torch.zeros_like(p) for n, p in params.items()}
    assert directional_check(f, zero, direction) <= TOL
