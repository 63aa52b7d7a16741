"""Exactness (a) for path='fused': Conv-4 with BatchNorm/ReLU/max-pool fused by hand and layer 1
folded into a GEMM (``meta/engines/fused.py``) against the plain per-task
autograd.grad(create_graph=True) loop, float64, BatchNorm with batch statistics. Nothing is
compiled, so the engine itself runs here."""

import pytest
import torch
import torch.nn.functional as F
from meta_helpers import DT, plain_meta_gradient, rel_err, tiny_conv4, tiny_episode
from torch.func import functional_call

from metagan_lab.meta.anil import head_names
from metagan_lab.meta.engines import choose_path, get_engine
from metagan_lab.meta.engines.fused import (
    FusedEngine,
    _Block,
    fused_forward,
    patches,
    supports_fused,
)
from metagan_lab.meta.engines.loop import LoopEngine
from metagan_lab.meta.functional import InnerLoop
from metagan_lab.meta.maml import maml_outer_loss, meta_gradient
from metagan_lab.meta.meta_sgd import init_alphas, meta_sgd_outer_loss
from metagan_lab.models import MLP, Conv4, params_of, seeded
from metagan_lab.types import Episode

TOL = 1e-10


def fused_loss(model, params, episode, inner):
    return maml_outer_loss(model, params, episode, inner, FusedEngine())


@pytest.mark.parametrize("size", [16, 28])                   # 28: 7 → 3 pools drop a row
@pytest.mark.parametrize("steps,first_order", [(2, False), (2, True)])
def test_fused_maml_meta_gradient_matches_plain_loop(steps, first_order, size):
    episode = tiny_episode(size=size)
    model, params = tiny_conv4()
    ours = meta_gradient(fused_loss(model, params, episode, InnerLoop(0.4, steps, first_order)),
                         params)
    assert rel_err(ours, plain_meta_gradient(model, params, episode, 0.4, steps,
                                             first_order)) <= TOL


def test_fused_meta_sgd_gradient_for_theta_and_alpha_matches_plain_loop():
    episode = tiny_episode()
    model, params = tiny_conv4()
    alphas = {n: (a * (1 + torch.rand_like(a))).detach().requires_grad_()
              for n, a in init_alphas(params, 0.1).items()}
    leaves = {**params, **{f"alpha.{n}": a for n, a in alphas.items()}}
    loss = meta_sgd_outer_loss(model, params, alphas, episode, InnerLoop(steps=2), FusedEngine())
    assert rel_err(meta_gradient(loss, leaves),
                   plain_meta_gradient(model, params, episode, alphas, 2, leaves=leaves)) <= TOL


def test_fused_anil_matches_plain_loop():
    episode = tiny_episode()
    model, params = tiny_conv4()
    heads = head_names(params)
    loss = fused_loss(model, params, episode, InnerLoop(0.4, 2, adapted=heads))
    assert rel_err(meta_gradient(loss, params),
                   plain_meta_gradient(model, params, episode, 0.4, 2, adapted=heads)) <= TOL


def test_outer_backward_accumulates_the_loop_meta_gradient_and_reports_loss_and_accuracy():
    """Per-task backward into .grad (work buffers reused across the tasks), the loop's loss and
    accuracies; the layer-1 conv bias, which BatchNorm cancels, gets its exact gradient 0."""
    episode = tiny_episode(n_tasks=4)
    model, params = tiny_conv4()
    inner = InnerLoop(0.4, 2)
    ours = {n: p.detach().clone().requires_grad_() for n, p in params.items()}
    loop = {n: p.detach().clone().requires_grad_() for n, p in params.items()}
    loss, acc = FusedEngine().outer_backward(model, ours, episode, inner, 1 / 4)
    loss_ref, acc_ref = LoopEngine().outer_backward(model, loop, episode, inner, 1 / 4)
    assert rel_err({n: p.grad for n, p in ours.items()},
                   plain_meta_gradient(model, params, episode, 0.4, 2)) <= TOL
    assert torch.allclose(loss, loss_ref, rtol=1e-12) and torch.equal(acc, acc_ref)
    assert torch.equal(ours["encoder.0.0.bias"].grad, torch.zeros(8, dtype=DT))
    assert loop["encoder.0.0.bias"].grad.abs().max() < 1e-12


def binary_episode(n_tasks=2, n_way=2, n_query=3, size=16, seed=0) -> Episode:
    """Omniglot-like images (0/1 strokes on a blank page): constant regions make max-pool windows
    tie, where the argmax convention decides which element gets the gradient."""
    g = torch.Generator().manual_seed(seed)

    def images(n):
        x = (torch.rand(n_tasks, n, 1, size, size, generator=g) < 0.15).to(DT)
        x[..., : size // 2, :] = 1.0                                  # a blank half
        return x

    sy = torch.arange(n_way).expand(n_tasks, -1)
    qy = torch.arange(n_way).repeat_interleave(n_query).expand(n_tasks, -1)
    return Episode(images(n_way), sy, images(n_way * n_query), qy)


def test_tied_max_pool_windows_get_the_loop_meta_gradient():
    episode = binary_episode()
    model, params = tiny_conv4()
    ours = meta_gradient(fused_loss(model, params, episode, InnerLoop(0.4, 2)), params)
    assert rel_err(ours, plain_meta_gradient(model, params, episode, 0.4, 2)) <= TOL


def test_rgb_input_and_predictions_equal_the_model():
    model = seeded(lambda: Conv4(in_channels=3, hidden=6, n_classes=3,
                                 track_running_stats=False), 1).to(DT)
    params = params_of(model)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 4, 3, 16, 16, generator=g, dtype=DT)
    for task, p in zip(x, patches(x)):
        assert torch.allclose(fused_forward(model, params, p), model(task), atol=1e-12)
    labels = torch.tensor([[0, 1, 2, 0]] * 2)
    episode = Episode(x, labels, x.flip(1), labels)
    ours = meta_gradient(fused_loss(model, params, episode, InnerLoop(0.3, 1)), params)
    assert rel_err(ours, plain_meta_gradient(model, params, episode, 0.3, 1)) <= TOL


def test_reptile_adaptation_matches_the_loop_engine():
    episode = tiny_episode()
    model, params = tiny_conv4()
    inner = InnerLoop(1e-3, 3, first_order=True, optimizer="adam")
    ours = FusedEngine().adapt(model, params, episode.support_x, episode.support_y, inner)
    ref = LoopEngine().adapt(model, params, episode.support_x, episode.support_y, inner)
    for a, b in zip(ours, ref):
        for name in a:
            if name != "encoder.0.0.bias":           # Adam on a zero gradient vs. on 1e-17
                assert torch.allclose(a[name], b[name], atol=1e-10), name


def test_block_double_backward_by_finite_differences():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, 4, 5, 6, generator=g, dtype=DT).contiguous(
        memory_format=torch.channels_last).requires_grad_()
    gamma = torch.randn(4, generator=g, dtype=DT, requires_grad=True)
    beta = torch.randn(4, generator=g, dtype=DT, requires_grad=True)

    def block(z, gamma, beta):
        return _Block.apply(z, gamma, beta, 1e-5, {})

    assert torch.autograd.gradcheck(block, (z, gamma, beta))
    assert torch.autograd.gradgradcheck(block, (z, gamma, beta))
    reference = F.max_pool2d(F.relu(F.batch_norm(z, None, None, gamma, beta, True)), 2)
    assert torch.allclose(block(z, gamma, beta), reference, atol=1e-12)


def test_fused_path_is_registered_and_refuses_other_models():
    model, params = tiny_conv4()
    assert supports_fused(model) and choose_path(model, "cpu", "fused") == "fused"
    assert isinstance(get_engine("fused", model, "cpu"), FusedEngine)
    smooth, _ = tiny_conv4(smooth=True)                              # tanh, average pooling
    for other in (smooth, Conv4(hidden=4, n_classes=2), MLP()):    # running stats, MLP
        assert not supports_fused(other)
        with pytest.raises(ValueError, match="path='fused'"):
            choose_path(other, "cpu", "fused")
    with pytest.raises(ValueError, match="path='fused'"):
        FusedEngine().outer_backward(smooth, params, tiny_episode(), InnerLoop(), 1.0)
    x = tiny_episode().support_x[0]
    assert torch.equal(functional_call(model, params, (x,)), model(x))
