"""Reptile: the update, one meta-step on episodes, and the 2-D toy."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from meta_helpers import DT, rel_err, tiny_conv4, tiny_episode
from torch.func import functional_call

from metagan_lab.meta.engines import get_engine
from metagan_lab.meta.functional import InnerLoop
from metagan_lab.meta.reptile import reptile_step, reptile_update
from metagan_lab.meta.toy2d import maml_path_2d, reptile_path_2d


def engine(path, model):
    return get_engine(path, model, "cpu")


def test_reptile_update_moves_toward_the_mean_of_the_adapted_weights():
    theta = {"w": torch.tensor([0.0, 0.0])}
    phis = [{"w": torch.tensor([1.0, 0.0])}, {"w": torch.tensor([0.0, 3.0])}]
    out = reptile_update(theta, phis, 0.5)
    assert torch.allclose(out["w"], torch.tensor([0.25, 0.75]))
    assert torch.equal(reptile_update(theta, phis, 1.0)["w"], torch.tensor([0.5, 1.5]))


@pytest.mark.parametrize("bad", [0.0, 1.5, math.nan, -0.5, math.inf])
def test_reptile_update_refuses_an_epsilon_outside_zero_one(bad):
    theta = {"w": torch.zeros(2)}
    with pytest.raises(ValueError, match=r"epsilon \(ε\) must be in \(0, 1\], got " + str(bad)):
        reptile_update(theta, [{"w": torch.ones(2)}], bad)


def test_reptile_update_refuses_adapted_weights_of_other_shapes_or_names():
    theta = {"w": torch.zeros(2, 3)}
    with pytest.raises(ValueError, match=r"task_phis\[1\]\['w'\] has shape \(3, 2\) but "
                                         r"theta\['w'\] has \(2, 3\)"):
        reptile_update(theta, [{"w": torch.ones(2, 3)}, {"w": torch.ones(3, 2)}], 0.5)
    with pytest.raises(ValueError, match=r"task_phis\[0\] and theta name different tensors"):
        reptile_update(theta, [{"v": torch.ones(2, 3)}], 0.5)


@pytest.mark.parametrize("path", ["loop", "batched"])
def test_reptile_with_one_step_is_sgd_on_the_mean_support_loss(path):
    """k = 1: θ + ε(mean φ̃ − θ) = θ − εα ∇ (1/T) Σ_i L_support_i(θ) (Reptile paper, §5)."""
    model, params = tiny_conv4()
    ep = tiny_episode(n_tasks=3)
    alpha, eps = 0.3, 0.5
    new = reptile_step(model, params, ep, InnerLoop(alpha, 1), eps, engine(path, model))
    mean_loss = sum(F.cross_entropy(functional_call(model, params, (sx,)), sy)
                    for sx, sy in zip(ep.support_x, ep.support_y)) / 3
    grads = torch.autograd.grad(mean_loss, list(params.values()))
    sgd = {n: p - eps * alpha * g for (n, p), g in zip(params.items(), grads)}
    assert rel_err(new, sgd) <= 1e-12
    assert all(not p.requires_grad for p in new.values())


def test_reptile_batched_equals_loop_with_several_steps():
    model, params = tiny_conv4()
    ep = tiny_episode(n_tasks=3)
    a, b = (reptile_step(model, params, ep, InnerLoop(0.2, 3), 0.7, engine(p, model))
            for p in ("loop", "batched"))
    assert rel_err(a, b) <= 1e-10
    assert rel_err(reptile_step(model, params, ep, InnerLoop(0.2, 3), 0.7), a) <= 1e-10
    assert a["head.weight"].dtype == DT


def test_reptile_rejects_bad_epsilon_and_empty_batches():
    model, params = tiny_conv4()
    for bad in (0.0, 1.5, math.nan):
        with pytest.raises(ValueError, match="epsilon"):
            reptile_step(model, params, tiny_episode(1), InnerLoop(0.1, 1), bad)
    with pytest.raises(ValueError, match="at least one"):
        reptile_update(params, [], 0.1)


def test_reptile_path_2d_with_exact_inner_solves_goes_to_the_midpoint():
    path = reptile_path_2d((0, 0), [(1, 0), (0, 1)], epsilon=1.0, steps=1)
    assert path.shape == (2, 2)
    assert np.allclose(path[-1], [0.5, 0.5])


def test_reptile_path_2d_with_partial_inner_steps_follows_the_closed_form():
    """φ_i = c_i + (1 − α)^k (θ − c_i) on ½‖θ − c_i‖², hence
    θ_{t+1} − c̄ = (1 − ε(1 − (1 − α)^k)) (θ_t − c̄)."""
    optima = [(2.0, 0.0), (0.0, -1.0), (1.0, 4.0)]
    path = reptile_path_2d((5, 5), optima, epsilon=0.3, steps=4, inner_lr=0.25, inner_steps=2)
    centre = np.mean(optima, axis=0)
    rate = 1 - 0.3 * (1 - 0.75**2)
    expected = centre + rate ** np.arange(5)[:, None] * (np.array([5.0, 5.0]) - centre)
    assert np.allclose(path, expected, atol=1e-12)


def test_maml_path_2d_second_order_has_the_chain_rule_factor():
    """On quadratics, d/dθ ½‖θ' − c‖² with θ' = θ − α(θ − c) is (1 − α)²(θ − c); FOMAML drops
    one factor (1 − α)."""
    first = maml_path_2d((1, 0), [(0, 0)], meta_lr=1.0, steps=1, inner_lr=0.5, first_order=True)
    second = maml_path_2d((1, 0), [(0, 0)], meta_lr=1.0, steps=1, inner_lr=0.5)
    assert np.allclose(first[-1], [0.5, 0.0]) and np.allclose(second[-1], [0.75, 0.0])
    with pytest.raises(ValueError, match="steps"):
        maml_path_2d((0, 0), [(1, 1)], 0.1, -1)


def torch_adam_phi(model, params, x, y, lr, steps):
    """Independent reference: torch.optim.Adam (β1 = 0, β2 = 0.999) on a module copy."""
    import copy

    net = copy.deepcopy(model)
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(params[name])
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.0, 0.999), eps=1e-8)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    return {n: p.detach() for n, p in net.named_parameters()}


def test_adam_inner_steps_equal_torch_optim_adam():
    from metagan_lab.meta.functional import adapt

    model, params = tiny_conv4()
    ep = tiny_episode(n_tasks=1)
    ours = adapt(model, params, ep.support_x[0], ep.support_y[0],
                 InnerLoop(0.01, 4, first_order=True, optimizer="adam"))
    ref = torch_adam_phi(model, params, ep.support_x[0], ep.support_y[0], 0.01, 4)
    # 1e-9, not 1e-12: Adam divides by √v, and torch.optim orders the same formula differently
    # (√v / √(1−β2ᵗ)); on the conv biases before batch norm, whose gradients are rounding noise,
    # that difference in the last bits is amplified.
    assert rel_err(ours, ref) <= 1e-9
    assert rel_err(ours, params) > 1e-3                      # the steps did move θ


@pytest.mark.parametrize("path", ["loop", "batched"])
def test_reptile_with_adam_inner_steps_matches_torch_adam_per_task(path):
    model, params = tiny_conv4()
    ep = tiny_episode(n_tasks=3)
    new = reptile_step(model, params, ep, InnerLoop(0.01, 3, first_order=True, optimizer="adam"),
                       0.5, engine(path, model))
    phis = [torch_adam_phi(model, params, x, y, 0.01, 3)
            for x, y in zip(ep.support_x, ep.support_y)]
    ref = reptile_update({n: p.detach() for n, p in params.items()}, phis, 0.5)
    assert rel_err(new, ref) <= 1e-10


def test_first_order_maml_through_adam_steps_is_the_same_on_both_paths_second_order_refused():
    from metagan_lab.meta.maml import maml_outer_loss, meta_gradient

    model, params = tiny_conv4()
    ep = tiny_episode()
    inner = InnerLoop(0.01, 2, True, optimizer="adam")
    a, b = (meta_gradient(maml_outer_loss(model, params, ep, inner, engine(p, model)), params)
            for p in ("loop", "batched"))
    assert rel_err(a, b) <= 1e-10 and torch.isfinite(flat_values(a)).all()
    with pytest.raises(ValueError, match="first_order"):
        InnerLoop(0.01, 2, False, optimizer="adam")


def flat_values(grads):
    return torch.cat([g.reshape(-1) for g in grads.values()])


def test_an_unknown_inner_optimizer_is_named():
    from metagan_lab.meta.config import MetaConfig
    from metagan_lab.meta.reptile import ReptileConfig

    with pytest.raises(ValueError, match="optimizer='rmsprop'"):
        InnerLoop(0.1, 1, True, optimizer="rmsprop")
    with pytest.raises(ValueError, match="inner_optimizer='adamw'"):
        ReptileConfig(inner_optimizer="adamw")
    with pytest.raises(ValueError, match="maml.*first-order"):
        MetaConfig(algorithm="maml", inner_optimizer="adam")
