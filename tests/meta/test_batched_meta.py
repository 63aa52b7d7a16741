"""Exactness (a): every engine equals the plain per-task loop to 1e-10 in float64, BatchNorm on."""

import pytest
import torch
import torch.nn.functional as F
from meta_helpers import DT, flat, plain_meta_gradient, rel_err, tiny_conv4, tiny_episode
from torch.func import functional_call, grad, vmap

from metagan_lab.meta.anil import head_names
from metagan_lab.meta.engines import choose_path, get_engine
from metagan_lab.meta.engines.batched import (
    BatchedEngine,
    batched_adapt,
    stack_params,
    supports_batched,
    unstack_params,
)
from metagan_lab.meta.engines.loop import LoopEngine
from metagan_lab.meta.functional import InnerLoop
from metagan_lab.meta.maml import adapted_predictions, maml_outer_loss, meta_gradient
from metagan_lab.meta.meta_sgd import init_alphas, meta_sgd_outer_loss
from metagan_lab.models import MLP, Conv4, params_of
from metagan_lab.types import Episode

TOL = 1e-10
PATHS = ["loop", "batched"]


def engine(path, model):
    return get_engine(path, model, "cpu")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("steps,first_order", [(1, False), (2, False), (2, True)])
def test_maml_meta_gradient_matches_plain_loop_with_batchnorm(path, steps, first_order):
    episode = tiny_episode()
    model, params = tiny_conv4()
    ours = meta_gradient(maml_outer_loss(model, params, episode,
                                         InnerLoop(0.4, steps, first_order),
                                         engine(path, model)), params)
    assert rel_err(ours, plain_meta_gradient(model, params, episode, 0.4, steps,
                                             first_order)) <= TOL


@pytest.mark.parametrize("path", PATHS)
def test_meta_sgd_gradient_for_theta_and_alpha_matches_plain_loop(path):
    episode = tiny_episode()
    model, params = tiny_conv4()
    alphas = {n: a * (1 + torch.rand_like(a)) for n, a in init_alphas(params, 0.1).items()}
    alphas = {n: a.detach().requires_grad_() for n, a in alphas.items()}
    leaves = {**params, **{f"alpha.{n}": a for n, a in alphas.items()}}
    loss = meta_sgd_outer_loss(model, params, alphas, episode, InnerLoop(steps=2),
                               engine(path, model))
    assert rel_err(meta_gradient(loss, leaves),
                   plain_meta_gradient(model, params, episode, alphas, 2, leaves=leaves)) <= TOL


@pytest.mark.parametrize("path", PATHS)
def test_anil_adapts_the_head_only_and_matches_plain_loop(path):
    episode = tiny_episode()
    model, params = tiny_conv4()
    heads = head_names(params)
    loss = maml_outer_loss(model, params, episode, InnerLoop(0.4, 2, adapted=heads),
                           engine(path, model))
    assert rel_err(meta_gradient(loss, params),
                   plain_meta_gradient(model, params, episode, 0.4, 2, adapted=heads)) <= TOL
    adapted = batched_adapt(model, params, episode.support_x, episode.support_y,
                            InnerLoop(0.4, 1, adapted=heads))
    assert torch.equal(adapted["encoder.0.0.weight"][1], params["encoder.0.0.weight"])
    assert not torch.equal(adapted["head.weight"][1], params["head.weight"])


def test_the_default_per_task_loop_is_the_loop_engine():
    """maml_outer_loss without an engine is the paper's per-task loop: the loop engine's numbers."""
    episode = tiny_episode()
    model, params = tiny_conv4()
    inner = InnerLoop(0.4, 2)
    a = adapted_predictions(model, params, episode, inner)
    b = LoopEngine().predictions(model, params, episode, inner)
    assert torch.equal(a, b)
    assert isinstance(engine("loop", model), LoopEngine)
    assert isinstance(engine("batched", model), BatchedEngine)
    assert engine("auto", model).name == "fused"                     # on a CPU, for Conv-4


def test_batched_and_loop_predictions_agree_on_an_mlp_regressor():
    model = MLP(hidden=(5, 5)).to(DT)
    params = params_of(model)
    g = torch.Generator().manual_seed(3)
    x = torch.rand(4, 6, 1, generator=g, dtype=DT)
    ep = Episode(x[:, :3], torch.sin(x[:, :3]), x[:, 3:], torch.sin(x[:, 3:]))
    inner = InnerLoop(0.1, 2, loss=F.mse_loss)
    a, b = (engine(p, model).predictions(model, params, ep, inner) for p in PATHS)
    assert torch.allclose(a, b, rtol=0, atol=1e-13)
    ga, gb = (meta_gradient(maml_outer_loss(model, params, ep, inner, engine(p, model)), params)
              for p in PATHS)
    assert rel_err(ga, gb) <= TOL


def test_engines_adapt_every_task_to_the_same_weights():
    """Engine.adapt (Reptile's φ̃_i): one dict per task, batched equal to the loop at 1e-10."""
    episode = tiny_episode()
    model, params = tiny_conv4()
    inner = InnerLoop(0.3, 2, first_order=True)
    a, b = (engine(p, model).adapt(model, params, episode.support_x, episode.support_y, inner)
            for p in PATHS)
    assert len(a) == len(b) == episode.n_tasks
    for phi_loop, phi_batched in zip(a, b):
        assert rel_err(phi_batched, phi_loop) <= TOL


def naive_vmap_meta_gradient(model, params, episode, inner_lr):
    """The trap: vmap over tasks with PyTorch's built-in batch norm (pytorch/functorch#534)."""
    def task_meta_loss(p, sx, sy, qx, qy):
        g = grad(lambda q: F.cross_entropy(functional_call(model, q, (sx,)), sy))(p)
        adapted = {k: p[k] - inner_lr * g[k] for k in p}
        return F.cross_entropy(functional_call(model, adapted, (qx,)), qy)
    detached = {k: v.detach() for k, v in params.items()}
    return grad(lambda p: vmap(task_meta_loss, in_dims=(None, 0, 0, 0, 0))(p, *episode).mean()
                )(detached)


def test_the_exactness_check_rejects_a_naive_vmap_batchnorm_path():
    """The 1e-10 comparison above is strong enough to catch functorch#534's error."""
    episode = tiny_episode()
    model, params = tiny_conv4()
    reference = plain_meta_gradient(model, params, episode, 0.4, 1)
    err = rel_err(naive_vmap_meta_gradient(model, params, episode, 0.4), reference)
    if err <= TOL:
        pytest.skip(f"this torch's vmap + batch norm is exact now (rel. error {err:.1e})")
    assert err > 1e3 * TOL
    ours = meta_gradient(maml_outer_loss(model, params, episode, InnerLoop(0.4, 1),
                                         engine("batched", model)), params)
    assert rel_err(ours, reference) <= TOL


def test_stacked_params_are_views_and_gradients_flow_back():
    p = {"w": torch.tensor([1.0, 2.0], requires_grad=True)}
    s = stack_params(p, 3)
    assert s["w"].shape == (3, 2)
    (s["w"] * torch.arange(3.0)[:, None]).sum().backward()
    assert torch.equal(p["w"].grad, torch.tensor([3.0, 3.0]))
    tasks = unstack_params({"w": torch.arange(6.0).reshape(3, 2)})
    assert len(tasks) == 3 and torch.equal(tasks[2]["w"], torch.tensor([4.0, 5.0]))


def test_path_choice_and_refusals():
    model, _ = tiny_conv4()
    assert choose_path(model, "cpu") == "fused"
    assert choose_path(model, "cpu", "batched") == "batched"
    running = Conv4(hidden=4, n_classes=2)                      # running stats: loop only
    assert not supports_batched(running) and choose_path(running, "cuda") == "loop"
    with pytest.raises(ValueError, match="track_running_stats"):
        choose_path(running, "cpu", "batched")
    with pytest.raises(ValueError, match="track_running_stats"):
        get_engine("batched", running, "cpu")
    with pytest.raises(ValueError, match="path='fast'"):
        choose_path(model, "cpu", "fast")
    with pytest.raises(ValueError, match="path='fast'"):
        get_engine("fast", model, "cpu")
    with pytest.raises(ValueError, match="head"):
        head_names({"encoder.0.0.weight": torch.zeros(1)})


def test_meta_batch_of_one_equals_a_single_task():
    model, params = tiny_conv4()
    ep = tiny_episode(n_tasks=1)
    a = flat(meta_gradient(maml_outer_loss(model, params, ep, InnerLoop(0.4),
                                           engine("batched", model)), params))
    b = flat(plain_meta_gradient(model, params, ep, 0.4, 1))
    assert ((a - b).norm() / b.norm()).item() <= TOL
