"""Engine.outer_backward: the training step's meta-gradient, accumulated into ``.grad``.

The loop engine back-propagates each task's share as soon as it is computed (one task's graph
alive at a time); that must be the same meta-gradient as differentiating the mean outer loss
at the end, ``maml_outer_loss(...).backward()``, for every algorithm (float64, 1e-10).
"""

import pytest
import torch
from meta_helpers import rel_err, tiny_conv4, tiny_episode

from metagan_lab.meta.anil import head_names
from metagan_lab.meta.engines import get_engine
from metagan_lab.meta.functional import InnerLoop
from metagan_lab.meta.maml import maml_outer_loss
from metagan_lab.meta.meta_sgd import init_alphas

TOL = 1e-10


def fresh(d):
    return {n: p.detach().clone().requires_grad_() for n, p in d.items()}


def set_up(algorithm, params):
    """(θ leaves, α leaves or None, the InnerLoop) for one algorithm."""
    theta = fresh(params)
    if algorithm == "metasgd":
        alphas = fresh({n: a * (1 + torch.rand_like(a, dtype=a.dtype))
                        for n, a in init_alphas(params, 0.1, requires_grad=False).items()})
        return theta, alphas, InnerLoop(alphas, 2)
    if algorithm == "anil":
        return theta, None, InnerLoop(0.4, 2, adapted=head_names(params))
    return theta, None, InnerLoop(0.4, 2, first_order=algorithm == "fomaml")


def grads_of(*dicts):
    return {f"{i}:{n}": p.grad for i, d in enumerate(dicts) if d for n, p in d.items()}


@pytest.mark.parametrize("path", ["loop", "batched"])
@pytest.mark.parametrize("algorithm", ["maml", "fomaml", "metasgd", "anil"])
def test_outer_backward_equals_backward_of_the_mean_outer_loss(algorithm, path):
    torch.manual_seed(0)
    episode = tiny_episode(n_tasks=3)
    model, params = tiny_conv4()
    theta, alphas, inner = set_up(algorithm, params)
    reference = maml_outer_loss(model, theta, episode, inner)              # the per-task loop
    reference.backward()
    expected = grads_of(theta, alphas)
    theta2, alphas2 = fresh(theta), fresh(alphas) if alphas else None
    inner2 = InnerLoop(alphas2, 2) if alphas else inner
    engine = get_engine(path, model, "cpu")
    loss, acc = engine.outer_backward(model, theta2, episode, inner2, 1.0 / episode.n_tasks)
    got = grads_of(theta2, alphas2)
    assert set(got) == set(expected) and all(g is not None for g in got.values())
    assert rel_err(got, expected) <= TOL
    assert abs(loss.item() - reference.item()) <= 1e-12 * abs(reference.item())
    assert not loss.requires_grad and acc.shape == (3,) and ((0 <= acc) & (acc <= 1)).all()
    if algorithm == "anil":                      # the body still gets a meta-gradient (through
        assert got["0:encoder.0.0.weight"].abs().sum() > 0           # the head's inner step)
    if algorithm == "metasgd":
        assert all(f"1:{n}" in got for n in params)


def test_outer_backward_accumulates_like_backward():
    """Two calls add up in .grad (as two backward() calls would): no zeroing inside."""
    episode = tiny_episode(n_tasks=2)
    model, params = tiny_conv4()
    engine = get_engine("loop", model, "cpu")
    once, twice = fresh(params), fresh(params)
    engine.outer_backward(model, once, episode, InnerLoop(0.4), 0.5)
    for _ in range(2):
        engine.outer_backward(model, twice, episode, InnerLoop(0.4), 0.5)
    assert rel_err({n: p.grad for n, p in twice.items()},
                   {n: 2 * p.grad for n, p in once.items()}) <= 1e-14


class SavedTensorBytes:
    """Bytes held by autograd's saved tensors: now and at the peak (saved_tensors_hooks)."""

    def __init__(self):
        self.now = self.peak = 0

    def __enter__(self):
        meter = self

        class Held:
            def __init__(self, t):
                self.t, self.size = t, t.numel() * t.element_size()
                meter.now += self.size
                meter.peak = max(meter.peak, meter.now)

            def __del__(self):
                meter.now -= self.size

        self.hooks = torch.autograd.graph.saved_tensors_hooks(Held, lambda h: h.t)
        self.hooks.__enter__()
        return self

    def __exit__(self, *exc):
        self.hooks.__exit__(*exc)


def test_the_loop_engine_keeps_one_task_graph_alive_at_a_time():
    """Peak memory of the graphs: outer_backward per task stays near one task's graph, while
    differentiating the mean at the end keeps all T graphs (here T = 6) alive at once."""
    episode = tiny_episode(n_tasks=6)
    model, params = tiny_conv4()
    inner = InnerLoop(0.4, 2)
    with SavedTensorBytes() as all_graphs:
        maml_outer_loss(model, fresh(params), episode, inner).backward()
    with SavedTensorBytes() as per_task:
        get_engine("loop", model, "cpu").outer_backward(model, fresh(params), episode, inner,
                                                        1 / 6)
    assert per_task.now == 0 and all_graphs.now == 0            # everything freed at the end
    assert per_task.peak * 5 < all_graphs.peak                   # measured: 1/6 of it
