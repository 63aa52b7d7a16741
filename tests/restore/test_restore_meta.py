"""Meta-gradients of the restorer through the core's inner loop vs a per-task autograd loop; the
Task-based restorer against the numbers of the code before it; divergence and checkpoints."""

import pytest
import torch
from torch.func import functional_call

from metagan_lab.checks import TrainingDiverged
from metagan_lab.meta.functional import InnerLoop
from metagan_lab.meta.task import adapt_task
from metagan_lab.models import params_of
from metagan_lab.restore.data import RestorationTask, sample_task
from metagan_lab.restore.degradations import Setting, TaskFamily, degrade
from metagan_lab.restore.meta import (
    RestoreMetaConfig,
    RestorerTask,
    adapt_restorer,
    adaptation_pairs,
    maml_meta_loss,
    meta_step,
    meta_train,
    restorer_task,
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
    new, _ = meta_step(model, theta, tasks, cfg)
    for n in theta:
        assert torch.equal(theta[n], before[n])          # a new θ is returned; θ is not mutated
    theta = new
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
    with pytest.raises(ValueError, match="inner_lr must be a finite number > 0, got 0"):
        RestoreMetaConfig(inner_lr=0)
    with pytest.raises(ValueError, match=r"tv_weight \(λ\) must be a finite number >= 0, got -0.1"):
        RestoreMetaConfig(tv_weight=-0.1)
    with pytest.raises(ValueError, match="k_shot must be an integer >= 1, got 0"):
        RestoreMetaConfig(k_shot=0)
    with pytest.raises(ValueError, match=r"epsilon must be in \(0, 1\], got 1.5"):
        RestoreMetaConfig(epsilon=1.5)


def test_task_fields_have_the_documented_shapes():
    _, _, tasks = _setup()
    t = tasks[0]
    assert isinstance(t, RestorationTask)
    assert t.support_x.shape == t.support_y.shape == (3, 1, 8, 8)
    assert t.query_x.shape == (2, 1, 8, 8) and t.query_known.shape == (2, 1, 8, 8)


# Per tensor (Σ p, Σ_i i·p_i) computed with the code before the Task refactor (commit d6d8f17~1:
# ``adapt_restorer`` on the old ``meta.functional.adapt``, ``meta_step``'s in-place Reptile, the
# old ``meta_train`` loop) on the seeds of ``_setup`` and below, in float64.
OLD_ADAPTED = {
    False: {"body.0.weight": (-1.428616406197992, -34.552540933057685),
            "body.0.bias": (0.3948102304042331, 1.42619549184373),
            "body.2.weight": (-1.0545774105794874, -118.60982004107794),
            "body.2.bias": (0.0039857819144439935, -0.1409002409065924),
            "body.4.weight": (-0.3453636683223863, -8.115890265536226),
            "body.4.bias": (0.0913280988899448, 0.0913280988899448)},
    True: {"body.0.weight": (-1.4245527099447224, -34.23889525080603),
           "body.0.bias": (0.40173694853212266, 1.4462982175492147),
           "body.2.weight": (-1.113442034734669, -120.33088135022936),
           "body.2.bias": (0.00889227974182464, -0.14449954769647816),
           "body.4.weight": (-0.30404225561512077, -8.145818561665713),
           "body.4.bias": (0.08327634797124471, 0.08327634797124471)},
}
OLD_REPTILE = ({"body.0.weight": (-1.4358397212325573, -34.476804763609756),
                "body.0.bias": (0.40031766230160737, 1.4588513811587775),
                "body.2.weight": (-1.026054332025925, -115.56894239947172),
                "body.2.bias": (0.047175094783997576, -0.07957383482894193),
                "body.4.weight": (-0.2756472174764084, -2.839783403643366),
                "body.4.bias": (-0.06898492539676082, -0.06898492539676082)},
               0.06937710523310227)
OLD_TRAIN = ({"body.0.weight": (-1.4502584044645925, -36.10389959308589),
              "body.0.bias": (0.4025431630882996, 1.45360280421661),
              "body.2.weight": (-0.9632517605240898, -109.70022655229151),
              "body.2.bias": (0.04613903640488379, -0.0974452203270627),
              "body.4.weight": (-0.38641968754363243, -4.016360752568163),
              "body.4.bias": (-0.13547653330067033, -0.13547653330067033)},
             [0.019636043648348967, 0.038320564355527845, 0.03845786488589873])


def _checksum(params):
    return {n: (p.sum().item(),
                (p.flatten() * torch.arange(1, p.numel() + 1, dtype=p.dtype)).sum().item())
            for n, p in params.items()}


def _assert_checksums(params, reference):
    got = _checksum(params)
    assert set(got) == set(reference)
    for n, pair in reference.items():
        assert got[n] == pytest.approx(pair, rel=1e-10, abs=1e-13), n


@pytest.mark.parametrize("self_supervised", [False, True])
def test_task_based_adaptation_equals_the_numbers_before_the_refactor(self_supervised):
    model, theta, tasks = _setup()
    task = tasks[2]                                      # inpainting: the weighted support loss
    x, y, w = adaptation_pairs(task, self_supervised, torch.Generator().manual_seed(4))
    via_function = adapt_restorer(model, theta, x, y, 0.3, 3, 0.05, w, first_order=True)
    problem = restorer_task(model, task, 0.05, self_supervised, torch.Generator().manual_seed(4))
    assert isinstance(problem, RestorerTask)
    assert callable(problem.support_loss) and callable(problem.query_loss)   # a meta Task
    via_task = adapt_task(problem, theta, InnerLoop(lr=0.3, steps=3, first_order=True))
    for n in theta:
        assert torch.equal(via_function[n], via_task[n])
    _assert_checksums(via_task, OLD_ADAPTED[self_supervised])


def test_reptile_step_and_meta_training_equal_the_numbers_before_the_refactor():
    model, theta, tasks = _setup()
    cfg = RestoreMetaConfig(method="reptile", inner_lr=0.3, inner_steps=2, epsilon=0.5,
                            tv_weight=0.05)
    new, loss = meta_step(model, theta, tasks, cfg)
    _assert_checksums(new, OLD_REPTILE[0])
    assert loss == pytest.approx(OLD_REPTILE[1], rel=1e-12)
    torch.manual_seed(0)                                 # _setup's model and images again
    model = Restorer(hidden=4, depth=3, activation="tanh", identity_init=False).double()
    images = torch.rand(12, 1, 8, 8, dtype=torch.float64)
    theta = params_of(model)
    cfg = RestoreMetaConfig(method="fomaml", inner_lr=0.1, inner_steps=2, meta_lr=3e-3,
                            meta_batch=2, k_shot=3, n_query=3, tv_weight=1e-3)
    history = meta_train(model, theta, images, TaskFamily(kinds=("noise", "blur")), cfg,
                         iterations=3, progress=False)
    _assert_checksums(theta, OLD_TRAIN[0])
    assert history == pytest.approx(OLD_TRAIN[1], rel=1e-10)


def test_a_query_loss_needs_query_pairs():
    model, theta, tasks = _setup()
    t = tasks[0]
    with pytest.raises(ValueError, match="no query pairs"):
        RestorerTask(model, t.support_x, t.support_y).query_loss(theta)


@pytest.mark.parametrize("method", ["maml", "fomaml", "reptile"])
def test_a_diverging_meta_training_raises_training_diverged_and_keeps_theta(method):
    torch.manual_seed(0)
    images = torch.rand(20, 1, 8, 8)
    model = Restorer(hidden=4, depth=3)
    theta = params_of(model)
    before = {n: p.detach().clone() for n, p in theta.items()}
    cfg = RestoreMetaConfig(method=method, inner_lr=1e4, inner_steps=2, meta_batch=2, k_shot=2,
                            n_query=2)
    with pytest.raises(TrainingDiverged, match=r"iteration 1: .*smaller inner_lr \(now 10000\)"):
        meta_train(model, theta, images, TaskFamily(kinds=("noise",)), cfg, 5, progress=False)
    assert all(torch.equal(theta[n], before[n]) for n in theta)   # the bad step never landed


def test_the_checkpoint_holds_the_last_finite_weights(tmp_path):
    torch.manual_seed(0)
    images = torch.rand(20, 1, 8, 8)
    model = Restorer(hidden=4, depth=3)
    theta = params_of(model)
    cfg = RestoreMetaConfig(method="reptile", inner_lr=0.05, inner_steps=1, meta_batch=2,
                            k_shot=2, n_query=2)
    path = tmp_path / "restore.pt"

    def poison(it, loss):                                # from iteration 3 on, the images are NaN
        if it == 1:
            images.fill_(float("nan"))

    with pytest.raises(TrainingDiverged, match=r"iteration 3: .*last good checkpoint "
                                               r"\(iteration 2\) is kept"):
        meta_train(model, theta, images, TaskFamily(kinds=("noise",)), cfg, 10, progress=False,
                   callback=poison, checkpoint=path, val_every=1)
    saved = torch.load(path, weights_only=True)
    assert saved["iteration"] == 2 and saved["kind"] == "restorer_meta"
    assert all(torch.isfinite(p).all() for p in saved["theta"].values())
    assert all(torch.equal(saved["theta"][n], theta[n].detach()) for n in theta)
