"""Exactness (a) for path='compiled': torch.compile of the batched meta-objective (inner gradients
by torch.func.grad) against the plain per-task autograd.grad(create_graph=True) loop, float64,
BatchNorm with batch statistics. The reference is ``meta_helpers.plain_meta_gradient``.

The graphs are traced by AOTAutograd and run by the ``aot_eager`` backend (inductor's code
generation takes minutes on a CPU); a counting backend proves the compiled graph really ran.
"""

import pytest
import torch
from meta_helpers import plain_meta_gradient, rel_err, tiny_conv4, tiny_episode

from metagan_lab.meta.anil import head_names
from metagan_lab.meta.engines import choose_path, get_engine
from metagan_lab.meta.engines.compiled import (
    BACKEND_VAR,
    CompiledEngine,
    compile_mode,
    compiled_predictions,
)
from metagan_lab.meta.functional import InnerLoop, per_task_losses
from metagan_lab.meta.maml import maml_outer_loss, meta_gradient
from metagan_lab.meta.meta_sgd import init_alphas, meta_sgd_outer_loss
from metagan_lab.models import Conv4

TOL = 1e-10


@pytest.fixture
def backend():
    """aot_eager, counting the graphs it is handed (0 would mean dynamo fell back to eager)."""
    torch._dynamo.reset()
    graphs = []

    def counting(gm, example_inputs):
        graphs.append(gm)
        return torch._dynamo.lookup_backend("aot_eager")(gm, example_inputs)

    counting.graphs = graphs
    yield counting
    torch._dynamo.reset()


def compiled_outer_loss(model, params, episode, inner, backend):
    predictions = compiled_predictions(model, params, episode, inner, backend=backend)
    return per_task_losses(predictions, episode.query_y, inner.loss).mean()


@pytest.mark.parametrize("steps,first_order", [(2, False), (2, True)])
def test_compiled_maml_meta_gradient_matches_plain_loop(steps, first_order, backend):
    episode = tiny_episode()
    model, params = tiny_conv4()
    loss = compiled_outer_loss(model, params, episode, InnerLoop(0.4, steps, first_order), backend)
    ours = meta_gradient(loss, params)
    assert len(backend.graphs) == 1                  # one graph: inner and outer passes together
    assert rel_err(ours, plain_meta_gradient(model, params, episode, 0.4, steps,
                                             first_order)) <= TOL


def test_compiled_meta_sgd_gradient_for_theta_and_alpha_matches_plain_loop(backend):
    episode = tiny_episode()
    model, params = tiny_conv4()
    alphas = {n: (a * (1 + torch.rand_like(a))).detach().requires_grad_()
              for n, a in init_alphas(params, 0.1).items()}
    leaves = {**params, **{f"alpha.{n}": a for n, a in alphas.items()}}
    loss = compiled_outer_loss(model, params, episode, InnerLoop(alphas, 1), backend)
    assert backend.graphs
    assert rel_err(meta_gradient(loss, leaves),
                   plain_meta_gradient(model, params, episode, alphas, 1, leaves=leaves)) <= TOL


def test_compiled_anil_matches_plain_loop(backend):
    episode = tiny_episode()
    model, params = tiny_conv4()
    heads = head_names(params)
    loss = compiled_outer_loss(model, params, episode, InnerLoop(0.4, 1, adapted=heads), backend)
    assert backend.graphs
    assert rel_err(meta_gradient(loss, params),
                   plain_meta_gradient(model, params, episode, 0.4, 1, adapted=heads)) <= TOL


def test_a_changed_alpha_compiles_without_a_graph_break_and_then_is_reused(backend):
    """A float α that changes between calls becomes a symbolic input of the graph (dynamo's
    automatic dynamic): no graph break under fullgraph=True, and a third α compiles nothing."""
    episode = tiny_episode()
    model, params = tiny_conv4()
    counts = []
    for alpha in (0.4, 0.2, 0.3):
        loss = compiled_outer_loss(model, params, episode, InnerLoop(alpha, 1), backend)
        assert rel_err(meta_gradient(loss, params),
                       plain_meta_gradient(model, params, episode, alpha, 1)) <= TOL
        counts.append(len(backend.graphs))
    assert counts[-1] == counts[-2] <= 2


def test_the_compiled_engine_runs_the_algorithms_and_their_backward(backend, monkeypatch):
    """The engine (env var backend, as the CLI sets it) behind maml_outer_loss, Meta-SGD and the
    per-step outer_backward all give the plain loop's meta-gradient."""
    monkeypatch.setenv(BACKEND_VAR, "aot_eager")
    episode = tiny_episode()
    model, params = tiny_conv4()
    engine = get_engine("compiled", model, "cpu")
    assert isinstance(engine, CompiledEngine) and engine.name == "compiled"
    reference = plain_meta_gradient(model, params, episode, 0.4, 2)
    ours = meta_gradient(maml_outer_loss(model, params, episode, InnerLoop(0.4, 2), engine),
                         params)
    assert rel_err(ours, reference) <= TOL
    leaves = {n: p.detach().clone().requires_grad_() for n, p in params.items()}
    loss, acc = engine.outer_backward(model, leaves, episode, InnerLoop(0.4, 2), 1 / 3)
    assert rel_err({n: p.grad for n, p in leaves.items()}, reference) <= TOL
    assert acc.shape == (3,) and torch.isfinite(loss)
    alphas = init_alphas(params, 0.1)
    both = {**params, **{f"alpha.{n}": a for n, a in alphas.items()}}
    ours = meta_gradient(meta_sgd_outer_loss(model, params, alphas, episode, InnerLoop(), engine),
                         both)
    assert rel_err(ours, plain_meta_gradient(model, params, episode, alphas, 1,
                                             leaves=both)) <= TOL


def test_compiled_path_is_chosen_explicitly_and_needs_batch_statistics():
    model, _ = tiny_conv4()
    assert choose_path(model, "cuda") == "batched"            # auto never compiles on its own
    assert choose_path(model, "cpu", "compiled") == "compiled"
    with pytest.raises(ValueError, match="path='compiled'.*track_running_stats"):
        choose_path(Conv4(hidden=4, n_classes=2), "cpu", "compiled")
    assert compile_mode("cuda") == "reduce-overhead" and compile_mode("cpu") == "default"
