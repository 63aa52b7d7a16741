"""Sinusoid evaluation when some tasks blow up: mean over the others, median, diverged count."""

import math
import pickle
import warnings

import pytest
import torch

from metagan_lab.meta.sinusoid import (
    DIVERGED_MSE,
    SineScore,
    adapted_curves,
    compare_maml_pretrained,
    evaluate_sinusoid,
    score_tasks,
)
from metagan_lab.models import MLP, params_of, seeded
from metagan_lab.tasks.sinusoid import X_RANGE, sample_sinusoid_tasks

HUGE_ALPHA = 0.2   # 20× the paper's α: 10 steps blow up on the large-amplitude tasks only


def test_score_tasks_hand_values():
    losses = torch.tensor([1.0, 2.0, 3.0, float("nan"), float("inf"), 1e5])
    s = score_tasks(losses)
    assert s.diverged == 3 and s.n_tasks == 6
    assert s.mean == pytest.approx(2.0) and s.ci95 == pytest.approx(1.96 / math.sqrt(3))
    assert s.median == 3.0                         # NaN counts as +inf: [1, 2, 3, 1e5, inf, inf]
    mean, ci = s                                   # still the (mean, ci95) pair callers unpack
    assert (mean, ci) == (s.mean, s.ci95) and len(s) == 2
    assert repr(pickle.loads(pickle.dumps(s))) == repr(s)
    assert score_tasks(torch.tensor([1.0, DIVERGED_MSE])).diverged == 0    # the limit is kept
    alone = score_tasks(torch.tensor([4.0, float("nan")]))
    assert alone.mean == 4.0 and math.isnan(alone.ci95) and alone.diverged == 1


def test_a_huge_alpha_diverges_on_some_tasks_and_the_mean_stays_readable():
    model = seeded(lambda: MLP(), 0)
    params = params_of(model)
    with pytest.warns(UserWarning, match=r"evaluate_sinusoid: \d+ of 100 tasks diverged after "
                                         r"10 steps at inner_lr=0.2 .*lower inner_lr"):
        scores = evaluate_sinusoid(model, params, k_shot=10, inner_lr=HUGE_ALPHA, steps=(0, 10),
                                   n_tasks=100, n_points=50, seed=1)
    s = scores[10]
    assert isinstance(s, SineScore) and 0 < s.diverged < 100 and s.n_tasks == 100
    assert math.isfinite(s.mean) and s.mean <= DIVERGED_MSE and math.isfinite(s.ci95)
    assert scores[0].diverged == 0

    # the same numbers by hand from the adapted curves
    tasks = sample_sinusoid_tasks(100, 10, 1, torch.Generator().manual_seed(1))
    grid = torch.linspace(*X_RANGE, 50)
    err = (adapted_curves(model, params, tasks, HUGE_ALPHA, (10,), grid)[10]
           - tasks.curve(grid)).pow(2).mean(1).double()
    bad = ~torch.isfinite(err) | (err > DIVERGED_MSE)
    assert int(bad.sum()) == s.diverged
    assert s.mean == pytest.approx(err[~bad].mean().item())
    assert s.median == pytest.approx(err.nan_to_num(nan=math.inf).median().item())


def test_the_comparison_rows_carry_median_and_diverged():
    model = seeded(lambda: MLP(hidden=(8,)), 0)
    net = (model, params_of(model))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = compare_maml_pretrained(net, net, HUGE_ALPHA, shots=(5,), steps=(0, 1), n_tasks=10)
    assert all({"method", "k_shot", "steps", "mse", "ci95", "median", "diverged"} <= r.keys()
               for r in rows)
    assert all(isinstance(r["diverged"], int) and r["diverged"] >= 0 for r in rows)
