"""Sinusoid MAML vs pre-trained: adapted curves, errors, and the comparison table."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from metagan_lab.meta.functional import InnerLoop, adapt
from metagan_lab.meta.sinusoid import (
    SinusoidConfig,
    adapted_curves,
    compare_maml_pretrained,
    evaluate_sinusoid,
    train_sinusoid_maml,
    train_sinusoid_pretrained,
)
from metagan_lab.models import MLP, params_of, seeded
from metagan_lab.tasks.sinusoid import sample_sinusoid_tasks


def test_adapted_curves_equal_per_task_sgd_steps():
    model = seeded(lambda: MLP(hidden=(8, 8)), 0)
    params = params_of(model)
    tasks = sample_sinusoid_tasks(3, 5, 2, torch.Generator().manual_seed(0))
    grid = torch.linspace(-5, 5, 7)
    curves = adapted_curves(model, params, tasks, 0.05, (0, 2), grid)
    assert set(curves) == {0, 2} and curves[2].shape == (3, 7)
    assert torch.allclose(curves[0][1], functional_call(model, params, (grid[:, None],))[:, 0])
    theta = adapt(model, params, tasks.support_x[1], tasks.support_y[1],
                  InnerLoop(0.05, 2, first_order=True, loss=F.mse_loss))
    expected = functional_call(model, theta, (grid[:, None],))[:, 0]
    assert torch.allclose(curves[2][1], expected, atol=1e-6)


def test_a_zero_network_scores_the_mean_energy_of_the_sines():
    model = MLP(hidden=(4,))
    zeros = {n: torch.zeros_like(p) for n, p in params_of(model).items()}
    scores = evaluate_sinusoid(model, zeros, k_shot=5, inner_lr=0.01, steps=(0,), n_tasks=50,
                               n_points=11, seed=3)
    tasks = sample_sinusoid_tasks(50, 5, 1, torch.Generator().manual_seed(3))
    truth = tasks.curve(torch.linspace(-5, 5, 11))
    assert math.isclose(scores[0][0], truth.pow(2).mean().item(), rel_tol=1e-6)


def test_tiny_training_runs_and_the_table_has_every_row():
    cfg = SinusoidConfig(iterations=3, meta_batch=4, hidden=(8,))
    seen = []
    maml = train_sinusoid_maml(cfg, progress=False, callback=lambda it, loss: seen.append(it))
    pre = train_sinusoid_pretrained(cfg, progress=False)
    assert seen == [1, 2, 3] and len(maml[2]) == 3 and len(pre[2]) == 3
    rows = compare_maml_pretrained(maml[:2], pre[:2], 0.01, shots=(5, 10), steps=(0, 1),
                                   n_tasks=10)
    assert {(r["method"], r["k_shot"], r["steps"]) for r in rows} == {
        (m, k, s) for m in ("MAML", "pretrained") for k in (5, 10) for s in (0, 1)}
    assert all(r["mse"] > 0 and r["ci95"] > 0 for r in rows)


def test_bad_sinusoid_settings_name_the_value():
    with pytest.raises(ValueError, match="got -0.01"):
        SinusoidConfig(inner_lr=-0.01)
    with pytest.raises(ValueError, match="meta_batch must be a positive integer, got 0"):
        SinusoidConfig(meta_batch=0)


def test_sinusoid_training_runs_on_the_one_loop_and_stops_when_it_diverges():
    """train_sinusoid_maml uses training.run_loop: an α that blows the weights up stops the run
    with TrainingDiverged naming the iteration, instead of returning NaN weights."""
    from metagan_lab.checks import TrainingDiverged

    with pytest.raises(TrainingDiverged, match="MAML sinusoid, iteration"):
        train_sinusoid_maml(SinusoidConfig(iterations=20, inner_lr=50.0, meta_batch=2),
                            progress=False)
