"""Step-by-step test-time adaptation (meta/adaptation.py) and the Omniglot adaptation lab.

Reference: θ^(j) by hand — j explicit SGD steps θ ← θ − α ∇θ L_support(θ) with
torch.autograd.grad, then the query cross-entropy of f_θ^(j) — in float64.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from meta_helpers import DT, tiny_conv4, tiny_episode
from torch.func import functional_call

from metagan_lab.data import ClassImages
from metagan_lab.meta.adaptation import adaptation_trace, alpha_sweep, extend_trace, scale_inner_lr
from metagan_lab.meta.registry import config_for
from metagan_lab.meta.train import new_learner


def by_hand(model, params, x_s, y_s, x_q, y_q, alpha, steps, names=None):
    theta = {n: p.detach().clone().requires_grad_() for n, p in params.items()}
    names = list(theta) if names is None else names
    losses = []
    for j in range(steps + 1):
        with torch.no_grad():
            losses.append(F.cross_entropy(functional_call(model, theta, (x_q,)), y_q).item())
        if j == steps:
            break
        loss = F.cross_entropy(functional_call(model, theta, (x_s,)), y_s)
        grads = torch.autograd.grad(loss, [theta[n] for n in names])
        for n, g in zip(names, grads):
            theta[n] = (theta[n] - alpha[n] * g if isinstance(alpha, dict)
                        else theta[n] - alpha * g).detach().requires_grad_()
    return losses, theta


def test_trace_matches_hand_written_sgd_steps_in_float64():
    model, params = tiny_conv4(n_way=2)
    ep = tiny_episode(n_tasks=2, n_way=2, k_shot=2, n_query=3)
    trace = adaptation_trace(model, params, ep, 0.3, steps=3)
    assert trace.loss.shape == (2, 4) and trace.predictions.shape == (2, 4, 6)
    for i in range(2):
        losses, theta = by_hand(model, params, ep.support_x[i], ep.support_y[i], ep.query_x[i],
                                ep.query_y[i], 0.3, 3)
        torch.testing.assert_close(trace.loss[i].to(DT), torch.tensor(losses, dtype=DT),
                                   rtol=1e-6, atol=1e-9)   # the trace stores float32 figures
        for n in theta:
            torch.testing.assert_close(trace.params[i][n], theta[n], rtol=1e-12, atol=1e-12)


def test_extending_a_trace_equals_running_it_longer():
    model, params = tiny_conv4(n_way=2)
    ep = tiny_episode(n_tasks=2, n_way=2)
    short = adaptation_trace(model, params, ep, 0.2, steps=2)
    longer = extend_trace(model, short, ep, 0.2, 3)
    direct = adaptation_trace(model, params, ep, 0.2, steps=5)
    torch.testing.assert_close(longer.loss, direct.loss, rtol=0, atol=0)
    torch.testing.assert_close(longer.accuracy, direct.accuracy, rtol=0, atol=0)
    assert torch.equal(longer.predictions, direct.predictions)
    assert extend_trace(model, short, ep, 0.2, 0).steps == 2
    with pytest.raises(ValueError, match="more_steps"):
        extend_trace(model, short, ep, 0.2, -1)


def test_anil_trace_moves_only_the_head_and_metasgd_alpha_scales():
    model, params = tiny_conv4(n_way=2)
    ep = tiny_episode(n_tasks=1, n_way=2)
    head = ("head.weight", "head.bias")
    trace = adaptation_trace(model, params, ep, 0.5, steps=2, adapted=head)
    for n, p in params.items():
        assert torch.equal(trace.params[0][n], p.detach()) == (n not in head)
    alphas = {n: torch.full_like(p, 0.1) for n, p in params.items()}
    scaled = scale_inner_lr(alphas, 3.0)
    torch.testing.assert_close(scaled["head.bias"], torch.full_like(params["head.bias"], 0.3))
    a = adaptation_trace(model, params, ep, scaled, steps=2)
    b = adaptation_trace(model, params, ep, 0.3, steps=2)
    torch.testing.assert_close(a.loss, b.loss)               # a uniform α = 0.3 either way
    assert scale_inner_lr(0.4, 0.5) == 0.2


def test_alpha_sweep_reports_each_alpha_after_k_steps():
    model, params = tiny_conv4(n_way=2)
    ep = tiny_episode(n_tasks=2, n_way=2)
    rows = alpha_sweep(model, params, ep, [0.01, 100.0], steps=2)
    small = adaptation_trace(model, params, ep, 0.01, 2)
    assert rows[0]["loss"] == pytest.approx(small.loss[:, -1].mean().item())
    assert rows[1]["loss"] > rows[0]["loss"]                  # α = 100 overshoots


@pytest.fixture
def lab():
    pytest.importorskip("ipywidgets")
    g = torch.Generator().manual_seed(0)
    data = ClassImages((torch.rand(12, 8, 28, 28, generator=g) > 0.7).to(torch.uint8) * 255,
                       tuple(str(i) for i in range(12)))
    learners = {name: new_learner(config_for(name, hidden=4, n_way=3))
                for name in ("maml", "metasgd", "anil")}
    from metagan_lab.widgets.adaptation import AdaptationLab

    return AdaptationLab(learners, data, tasks=2, queries=2, max_steps=6)


def test_lab_redraws_from_the_cache_and_extends_traces(lab):
    assert lab.image.value[:4] == b"\x89PNG" and "query accuracy" in lab.status.value
    first = lab.trace(lab.alpha.value, lab.steps.value)
    lab.steps.value = 1                                       # shorter: the same cached trace
    assert lab.trace(lab.alpha.value, 1) is first
    lab.steps.value = 5                                       # longer: extended in place
    assert lab.trace(lab.alpha.value, 5).steps == 5
    lab.alpha.value = 5.0
    assert "α = 5" in lab.status.value
    lab.model.value = "metasgd"
    assert lab.alpha.value == 1.0 and "× learned α" in lab.status.value
    lab._on_reset_alpha()                                     # already trained: says so
    assert "already" in lab.status.value
    lab.alpha.value = 3.0
    lab._on_reset_alpha()
    assert lab.alpha.value == 1.0 and "1 × learned α" in lab.status.value
    lab.shots.value = 2
    assert lab.episode().support_x.shape[1] == 6
    before = lab.episode()
    lab._on_new_tasks()
    assert not torch.equal(lab.episode().query_x, before.query_x)
