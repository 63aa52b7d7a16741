"""Exactness (a) for path='compiled': torch.compile of the batched meta-objective (inner gradients
by torch.func.grad) against the plain per-task autograd.grad(create_graph=True) loop, float64,
BatchNorm with batch statistics. The reference is ``meta_helpers.plain_meta_gradient``.

The graphs are traced by AOTAutograd and run by the ``aot_eager`` backend (inductor's code
generation takes minutes on a CPU); a counting backend proves the compiled graph really ran.
"""

import pytest
import torch
import torch.nn.functional as F
from meta_helpers import plain_meta_gradient, rel_err, tiny_conv4, tiny_episode

from metagan_lab.meta.batched import per_task_losses
from metagan_lab.meta.compiled import compile_mode, compiled_predictions
from metagan_lab.meta.maml import choose_path, head_names, meta_gradient
from metagan_lab.meta.meta_sgd import init_alphas
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


def compiled_outer_loss(model, params, episode, inner_lr, steps, first_order, backend,
                        adapted=None):
    predictions = compiled_predictions(model, params, episode, inner_lr, steps, first_order,
                                       adapted=adapted, backend=backend)
    return per_task_losses(predictions, episode.query_y, F.cross_entropy).mean()


@pytest.mark.parametrize("steps,first_order", [(2, False), (2, True)])
def test_compiled_maml_meta_gradient_matches_plain_loop(steps, first_order, backend):
    episode = tiny_episode()
    model, params = tiny_conv4()
    loss = compiled_outer_loss(model, params, episode, 0.4, steps, first_order, backend)
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
    loss = compiled_outer_loss(model, params, episode, alphas, 1, False, backend)
    assert backend.graphs
    assert rel_err(meta_gradient(loss, leaves),
                   plain_meta_gradient(model, params, episode, alphas, 1, leaves=leaves)) <= TOL


def test_compiled_anil_matches_plain_loop(backend):
    episode = tiny_episode()
    model, params = tiny_conv4()
    heads = head_names(params)
    loss = compiled_outer_loss(model, params, episode, 0.4, 1, False, backend, adapted=heads)
    assert backend.graphs
    assert rel_err(meta_gradient(loss, params),
                   plain_meta_gradient(model, params, episode, 0.4, 1, adapted=heads)) <= TOL


def test_compiled_path_is_chosen_explicitly_and_needs_batch_statistics():
    model, _ = tiny_conv4()
    assert choose_path(model, "cuda") == "batched"            # auto never compiles on its own
    assert choose_path(model, "cpu", "compiled") == "compiled"
    with pytest.raises(ValueError, match="path='compiled'.*track_running_stats"):
        choose_path(Conv4(hidden=4, n_classes=2), "cpu", "compiled")
    assert compile_mode("cuda") == "reduce-overhead" and compile_mode("cpu") == "default"
