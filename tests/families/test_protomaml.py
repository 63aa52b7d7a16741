"""Proto-MAML in float64: the prototype head gives ProtoNet's logits up to ‖z‖² (an exact
identity: 2c·z − ‖c‖² = −‖z − c‖² + ‖z‖²), so before any step Proto-MAML predicts as ProtoNet;
one inner step moves the head by −α ∇ of the support cross-entropy, by hand; the steps are
first-order constants (the outer gradient passes them with identity)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from metagan_lab.fewshot.protomaml import (
    ProtoMAMLConfig,
    adapted_parameters,
    build,
    linear_logits,
    protomaml_logits,
    prototype_head,
)
from metagan_lab.fewshot.protonet import protonet_logits, prototypes
from metagan_lab.meta.functional import InnerLoop
from metagan_lab.models import seeded
from metagan_lab.types import Episode

DT = torch.float64


def tiny_model():
    return seeded(lambda: build(ProtoMAMLConfig(hidden=8)), 0).to(DT)


def tiny_episode(n_way=3, k_shot=2, n_query=2, tasks=2) -> Episode:
    g = torch.Generator().manual_seed(1)
    sy = torch.arange(n_way).repeat_interleave(k_shot).expand(tasks, -1)
    qy = torch.arange(n_way).repeat_interleave(n_query).expand(tasks, -1)
    return Episode(torch.rand(tasks, n_way * k_shot, 1, 28, 28, generator=g, dtype=DT), sy,
                   torch.rand(tasks, n_way * n_query, 1, 28, 28, generator=g, dtype=DT), qy)


def test_the_prototype_head_is_protonet_plus_the_squared_norm_of_z():
    g = torch.Generator().manual_seed(0)
    z, c = torch.randn(2, 7, 5, generator=g, dtype=DT), torch.randn(2, 3, 5, generator=g, dtype=DT)
    weight, bias = prototype_head(c)
    expected = protonet_logits(z, c) + z.pow(2).sum(-1, keepdim=True)         # −‖z−c‖² + ‖z‖²
    torch.testing.assert_close(linear_logits(z, weight, bias), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(weight, 2 * c, rtol=0, atol=0)
    torch.testing.assert_close(bias, -(c * c).sum(-1), rtol=0, atol=1e-14)


def test_before_any_step_protomaml_predicts_as_protonet():
    model, ep = tiny_model(), tiny_episode()
    cfg = ProtoMAMLConfig(n_way=3, hidden=8, eval_inner_steps=0)
    model.eval()
    logits = protomaml_logits(model, ep, cfg)                                  # [T, N*Q, N]
    for t in range(2):                        # batch statistics: support and query apart
        zs, zq = model(ep.support_x[t]), model(ep.query_x[t])
        protonet = protonet_logits(zq, prototypes(zs, ep.support_y[t], 3))
        expected = protonet + zq.pow(2).sum(-1, keepdim=True)
        torch.testing.assert_close(logits[t], expected, rtol=0, atol=1e-10)
        assert torch.equal(logits[t].argmax(-1), protonet.argmax(-1))


def test_one_inner_step_moves_the_head_by_the_support_gradient_by_hand():
    model, ep = tiny_model(), tiny_episode(tasks=1)
    sx, sy = ep.support_x[0], ep.support_y[0]
    zs = model(sx).detach()                                                    # [S, D]
    weight, bias = prototype_head(prototypes(zs, sy, 3))
    start = {**dict(model.named_parameters()), "head.weight": weight, "head.bias": bias}
    alpha = 0.3
    moved = adapted_parameters(model, start, sx, sy, InnerLoop(lr=alpha, steps=1,
                                                               first_order=True))
    # ∂/∂W of mean_i CE(W z_i + b, y_i) = (P − Y)ᵀ Z / S; ∂/∂b = mean_i (p_i − y_i)
    p_minus_y = (linear_logits(zs, weight, bias).softmax(-1) - F.one_hot(sy, 3)) / len(sy)
    torch.testing.assert_close(moved["head.weight"], weight - alpha * p_minus_y.T @ zs,
                               rtol=0, atol=1e-12)
    torch.testing.assert_close(moved["head.bias"], bias - alpha * p_minus_y.sum(0), rtol=0,
                               atol=1e-12)


def test_the_inner_steps_are_first_order_constants():
    model, ep = tiny_model(), tiny_episode(tasks=1)
    c = torch.randn(3, 8, dtype=DT, requires_grad=True)
    weight, bias = prototype_head(c)
    start = {**dict(model.named_parameters()), "head.weight": weight, "head.bias": bias}
    moved = adapted_parameters(model, start, ep.support_x[0], ep.support_y[0],
                               InnerLoop(lr=0.5, steps=3, first_order=True))
    r = torch.randn(3, 8, dtype=DT)
    (grad_c,) = torch.autograd.grad((moved["head.weight"] * r).sum(), c)
    torch.testing.assert_close(grad_c, 2 * r, rtol=0, atol=1e-14)   # through W = 2c only
    assert not torch.equal(moved["head.weight"], weight)             # the steps did move it


def test_training_reaches_the_embedding_through_the_prototypes_and_the_steps():
    model, ep = tiny_model(), tiny_episode()
    cfg = ProtoMAMLConfig(n_way=3, hidden=8, inner_steps=2)
    model.train()
    loss = F.cross_entropy(protomaml_logits(model, ep, cfg).flatten(0, 1), ep.query_y.flatten())
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_the_paper_defaults():
    cfg = ProtoMAMLConfig()
    assert (cfg.inner_steps, cfg.eval_inner_steps) == (6, 11)
    with pytest.raises(ValueError, match="inner_lr"):
        ProtoMAMLConfig(inner_lr=-1.0)
