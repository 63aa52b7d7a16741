"""The inner loop: hand values, a Hessian-vector reference on a quadratic, and bad input."""

import math
from dataclasses import replace

import pytest
import torch
from meta_helpers import tiny_conv4, tiny_episode

from metagan_lab.meta.config import MetaConfig
from metagan_lab.meta.functional import InnerLoop, adapt, inner_loop, inner_update
from metagan_lab.meta.maml import maml_outer_loss
from metagan_lab.meta.meta_sgd import MetaSGDConfig, init_alphas
from metagan_lab.meta.registry import config_for


def test_inner_update_is_one_sgd_step_and_takes_per_parameter_rates():
    out = inner_update({"w": torch.tensor([1.0, -2.0])}, {"w": torch.tensor([0.5, 0.5])}, 0.1)
    assert torch.allclose(out["w"], torch.tensor([0.95, -2.05]))
    out = inner_update({"w": torch.tensor([1.0, -2.0])}, {"w": torch.tensor([0.5, 0.5])},
                       {"w": torch.tensor([0.2, 0.0])})
    assert torch.allclose(out["w"], torch.tensor([0.9, -2.0]))


def test_inner_update_refuses_grads_of_another_shape_naming_both_shapes():
    params = {"w": torch.zeros(2, 3), "b": torch.zeros(3)}
    with pytest.raises(ValueError, match=r"grads\['w'\] has shape \(3, 2\) but params\['w'\] "
                                         r"has \(2, 3\)"):
        inner_update(params, {"w": torch.zeros(3, 2), "b": torch.zeros(3)}, 0.1)
    with pytest.raises(ValueError, match=r"missing from grads: \['b'\]"):
        inner_update(params, {"w": torch.zeros(2, 3)}, 0.1)
    with pytest.raises(ValueError, match=r"grads\['b'\] has shape \(1,\) but params\['b'\] "
                                         r"has \(3,\)"):
        inner_update(params, {"w": torch.zeros(2, 3), "b": torch.zeros(1)}, 0.1)


def test_second_order_gradient_equals_hessian_vector_products_on_a_quadratic():
    """L_s(θ) = ½θᵀAθ, L_q(θ) = bᵀθ: θ' = (I − αA)θ, so ∇θ L_q(θ') = (I − αA)ᵀ b exactly;
    first order gives b."""
    g = torch.Generator().manual_seed(0)
    m = torch.randn(4, 4, generator=g, dtype=torch.float64)
    a, b = m @ m.T, torch.randn(4, generator=g, dtype=torch.float64)
    theta = {"t": torch.randn(4, generator=g, dtype=torch.float64, requires_grad=True)}
    for first_order, expected in ((False, (torch.eye(4, dtype=a.dtype) - 0.1 * a).T @ b),
                                  (True, b)):
        adapted = inner_loop(lambda p: 0.5 * p["t"] @ a @ p["t"], theta,
                             InnerLoop(0.1, 1, first_order))
        (grad,) = torch.autograd.grad(b @ adapted["t"], [theta["t"]])
        assert torch.allclose(grad, expected, rtol=0, atol=1e-13)


def test_zero_steps_returns_theta_and_theta_is_never_mutated():
    model, params = tiny_conv4()
    ep = tiny_episode(1)
    before = {n: p.clone() for n, p in params.items()}
    same = adapt(model, params, ep.support_x[0], ep.support_y[0], InnerLoop(0.4, 0))
    assert all(same[n] is params[n] for n in params)
    adapt(model, params, ep.support_x[0], ep.support_y[0], InnerLoop(0.4, 2))
    assert all(torch.equal(before[n], params[n]) for n in params)


@pytest.mark.parametrize("bad", [0.0, -0.1, math.nan, math.inf, "0.1"])
def test_bad_inner_learning_rates_name_the_value(bad):
    model, params = tiny_conv4()
    inner = InnerLoop(0.4)
    with pytest.raises(ValueError, match=r"inner_lr \(α\).*" + repr(bad).replace("'", ".")):
        InnerLoop(bad)
    with pytest.raises(ValueError, match=r"inner_lr \(α\).*" + repr(bad).replace("'", ".")):
        maml_outer_loss(model, params, tiny_episode(1), replace(inner, lr=bad))
    with pytest.raises(ValueError, match="inner_lr"):
        MetaConfig(inner_lr=bad)


def test_negative_steps_and_empty_meta_batches_are_refused():
    model, params = tiny_conv4()
    with pytest.raises(ValueError, match="inner_steps must be an integer >= 0, got -1"):
        adapt(model, params, tiny_episode(1).support_x[0], tiny_episode(1).support_y[0],
              InnerLoop(0.4, -1))
    with pytest.raises(ValueError, match="got -2"):
        MetaConfig(eval_inner_steps=-2)
    for bad in (0, -3):
        with pytest.raises(ValueError, match=f"meta_batch must be an integer >= 1, got {bad}"):
            MetaConfig(meta_batch=bad)
    with pytest.raises(ValueError, match="alpha_lr must be a finite number > 0, got -1.0"):
        MetaSGDConfig(alpha_lr=-1.0)
    with pytest.raises(ValueError, match="alpha_lr must be a finite number > 0, got -1.0"):
        config_for("metasgd", alpha_lr=-1.0)
    with pytest.raises(ValueError, match="algorithm='mamal'"):
        MetaConfig(algorithm="mamal")
    with pytest.raises(ValueError, match="initial Meta-SGD"):
        init_alphas(params, -1.0)
