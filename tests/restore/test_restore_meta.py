"""Meta-gradients of the restorer through the core's inner loop vs a per-task autograd loop."""

import pytest
import torch
from torch.func import functional_call

from metagan_lab.models import params_of
from metagan_lab.restore.data import RestorationTask, sample_task
from metagan_lab.restore.degradations import Setting, TaskFamily, degrade
from metagan_lab.restore.meta import (
    RestoreMetaConfig,
    maml_meta_loss,
    meta_step,
    meta_train,
    self_supervised_pairs,
)
from metagan_lab.restore.models import Restorer

ALPHA, STEPS, LAMBDA = 0.3, 2, 0.05


def _setup(seed=0):
    torch.manual_seed(seed)
    model = Restorer(hidden=4, depth=3, activation="tanh", identity_init=False).double()
    images = torch.rand(12, 1, 8, 8, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    tasks = [sample_task(images, s, 3, 2, g)
             for s in (Setting("noise", 0.1), Setting("blur", 0.8), Setting("inpaint", 0.3))]
    return model, params_of(model), tasks


def _hand_loss(out, target, weight=None):
    """[L + λR] written out again, independently of objectives.py."""
    if weight is None:
        mse = ((out - target) ** 2).mean()
    else:
        w = weight.double().expand_as(out)
        mse = (w * (out - target) ** 2).sum() / w.sum()
    tv = ((out[..., 1:, :] - out[..., :-1, :]).abs().sum()
          + (out[..., :, 1:] - out[..., :, :-1]).abs().sum()) / out.numel()
    return mse + LAMBDA * tv


def _loop_meta_gradient(model, theta, tasks, first_order, pairs=None):
    """Plain loop: k steps of θ − α ∇ with autograd.grad(create_graph) per task, then ∇θ."""
    total = 0
    for i, task in enumerate(tasks):
        x, y, w = pairs[i] if pairs else (task.support_x, task.support_y, None)
        params = dict(theta)
        for _ in range(STEPS):
            loss = _hand_loss(functional_call(model, params, (x,)), y, w)
            grads = torch.autograd.grad(loss, list(params.values()),
                                        create_graph=not first_order)
            params = {n: p - ALPHA * g for (n, p), g in zip(params.items(), grads)}
        total = total + _hand_loss(functional_call(model, params, (task.query_x,)), task.query_y)
    total = total / len(tasks)
    return torch.autograd.grad(total, list(theta.values()))


@pytest.mark.parametrize("method", ["maml", "fomaml"])
def test_meta_gradient_equals_a_per_task_autograd_loop(method):
    model, theta, tasks = _setup()
    cfg = RestoreMetaConfig(method=method, inner_lr=ALPHA, inner_steps=STEPS, tv_weight=LAMBDA)
    ours = torch.autograd.grad(maml_meta_loss(model, theta, tasks, cfg), list(theta.values()))
    ref = _loop_meta_gradient(model, theta, tasks, first_order=method == "fomaml")
    for a, b in zip(ours, ref):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-14)
    # second and first order really differ (the test above could not pass by accident)
    if method == "maml":
        fo = _loop_meta_gradient(model, theta, tasks, first_order=True)
        assert max((a - b).abs().max().item() for a, b in zip(ours, fo)) > 1e-8


def test_self_supervised_meta_gradient_equals_the_loop():
    model, theta, tasks = _setup(1)
    cfg = RestoreMetaConfig(method="maml", inner_lr=ALPHA, inner_steps=STEPS, tv_weight=LAMBDA,
                            self_supervised=True)
    ours = torch.autograd.grad(maml_meta_loss(model, theta, tasks, cfg,
                                              torch.Generator().manual_seed(5)),
                               list(theta.values()))
    g = torch.Generator().manual_seed(5)
    pairs = [self_supervised_pairs(t.support_x, t.support_known, t.setting, g) for t in tasks]
    ref = _loop_meta_gradient(model, theta, tasks, first_order=False, pairs=pairs)
    for a, b in zip(ours, ref):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-14)


def test_self_supervised_pairs_degrade_the_observation_again():
    y = torch.rand(2, 1, 10, 10, dtype=torch.float64)
    obs = degrade(y, Setting("inpaint", 0.3), torch.Generator().manual_seed(0))
    inp, target, w = self_supervised_pairs(obs.degraded, obs.known, Setting("inpaint", 0.3),
                                           torch.Generator().manual_seed(1))
    assert torch.equal(target, obs.degraded) and torch.equal(w, obs.known)
    holes = (inp == 0).flatten(1)                        # y's 30 holes ∪ 30 new, overlapping
    assert holes[(~obs.known).flatten(1)].all()
    assert ((holes.sum(1) > 30) & (holes.sum(1) <= 60)).all()
    noisy, target, _ = self_supervised_pairs(y, torch.ones_like(y, dtype=torch.bool),
                                             Setting("noise", 0.2),
                                             torch.Generator().manual_seed(0))
    assert torch.equal(target, y) and 0.15 < (noisy - y).std().item() < 0.25


def test_reptile_step_is_the_interpolation_toward_the_adapted_weights():
    model, theta, tasks = _setup()
    cfg = RestoreMetaConfig(method="reptile", inner_lr=ALPHA, inner_steps=1, epsilon=0.5,
                            tv_weight=0.0)
    before = {n: p.detach().clone() for n, p in theta.items()}
    phis = []
    for t in tasks:                                      # one SGD step by hand
        loss = ((functional_call(model, theta, (t.support_x,)) - t.support_y) ** 2).mean()
        grads = torch.autograd.grad(loss, list(theta.values()))
        phis.append({n: p.detach() - ALPHA * g for (n, p), g in zip(theta.items(), grads)})
    meta_step(model, theta, tasks, cfg)
    for n in theta:
        mean_phi = torch.stack([phi[n] for phi in phis]).mean(0)
        assert torch.allclose(theta[n], before[n] + 0.5 * (mean_phi - before[n]), atol=1e-14)


def test_meta_training_lowers_the_query_loss_on_held_out_tasks():
    torch.manual_seed(0)
    images = torch.rand(40, 1, 12, 12).clamp(0, 1)
    images = torch.nn.functional.avg_pool2d(images, 3, 1, 1)        # some spatial structure
    model = Restorer(hidden=8, depth=3)
    theta = params_of(model)
    fam = TaskFamily(kinds=("noise",))
    cfg = RestoreMetaConfig(method="fomaml", inner_lr=0.1, inner_steps=1, meta_lr=3e-3,
                            meta_batch=2, k_shot=3, n_query=3, tv_weight=0.0)
    g = torch.Generator().manual_seed(99)
    held_out = [sample_task(images, fam.sample(g), 3, 3, g) for _ in range(4)]
    before = maml_meta_loss(model, theta, held_out, cfg).item()
    meta_train(model, theta, images, fam, cfg, iterations=30, progress=False)
    after = maml_meta_loss(model, theta, held_out, cfg).item()
    assert after < 0.8 * before


def test_bad_config_values_are_refused():
    with pytest.raises(ValueError, match="method='sgd'"):
        RestoreMetaConfig(method="sgd")
    with pytest.raises(ValueError, match="inner_lr=0"):
        RestoreMetaConfig(inner_lr=0)
    with pytest.raises(ValueError, match=r"tv_weight \(λ\) = -0.1"):
        RestoreMetaConfig(tv_weight=-0.1)
    with pytest.raises(ValueError, match="k_shot=0"):
        RestoreMetaConfig(k_shot=0)


def test_task_fields_have_the_documented_shapes():
    _, _, tasks = _setup()
    t = tasks[0]
    assert isinstance(t, RestorationTask)
    assert t.support_x.shape == t.support_y.shape == (3, 1, 8, 8)
    assert t.query_x.shape == (2, 1, 8, 8) and t.query_known.shape == (2, 1, 8, 8)
