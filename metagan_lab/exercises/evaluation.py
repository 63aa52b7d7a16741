"""Exercises for notebook 05: how few-shot results are reported.

exercise    learner writes                                         library reference
accuracy    fraction of queries whose argmax logit is the label    fewshot.protonet.accuracy
mean_ci95   (mean, 1.96 · s / √n), s the sample std (n − 1)        stats.mean_ci95
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..fewshot.protonet import accuracy as _accuracy
from ..stats import mean_ci95 as _mean_ci95
from .checking import Case, Exercise, Mistake, randint, randn, run_check, uniform


def _reference_accuracy(logits: Tensor, y: Tensor) -> float:
    return _accuracy(logits, y).item()


def _accuracy_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for i in range(4):
        q, n = randint(g, 4, 30), randint(g, 2, 5)
        cases.append(Case(f"random {i + 1}: {q} queries, {n}-way",
                          (randn(g, q, n), torch.randint(0, n, (q,), generator=g))))
    logits = randn(g, 5, 5)
    cases.append(Case("edge: square logits (5 queries, 5 ways)",
                      (logits, torch.randint(0, 5, (5,), generator=g))))
    y = torch.randint(0, 3, (6,), generator=g)
    cases.append(Case("edge: all correct", (torch.nn.functional.one_hot(y, 3).double(), y)))
    return cases


ACCURACY = Exercise(
    name="accuracy",
    notebook="ex05_reporting_results",
    signature="accuracy(logits, y) -> float in [0, 1]   (logits [Q, N], y [Q])",
    reference=_reference_accuracy,
    cases=_accuracy_cases,
    hint="the prediction is logits.argmax(dim=-1) (over the classes); compare it with y and "
         "take the mean of the matches as a float.",
    mistakes=(
        Mistake(lambda lo, y: (lo.argmax(dim=0) == y).double().mean().item(),
                "take the argmax over the class axis (dim=-1), one prediction per query."),
        Mistake(lambda lo, y: (lo.argmax(dim=-1) == y).sum().item(),
                "accuracy is a fraction: divide the number of correct queries by their number."),
    ),
)


def _ci_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for i in range(4):
        n = randint(g, 5, 600)
        acc = (uniform(g, 0.4, 0.9) + 0.1 * randn(g, n)).clamp(0, 1)
        cases.append(Case(f"random {i + 1}: {n} episode accuracies",
                          ([round(v, 4) for v in acc.tolist()],)))
    cases.append(Case("edge: two values", ([0.5, 0.7],)))
    cases.append(Case("edge: all values equal (interval of width 0)", ([0.8] * 10,)))
    cases.append(Case("edge: one value cannot give an interval (raise ValueError)", ([0.9],),
                      raises=ValueError))
    return cases


def _population_std(values):
    v = torch.as_tensor(values, dtype=torch.float64)
    return v.mean().item(), 1.96 * v.std(unbiased=False).item() / math.sqrt(v.numel())


MEAN_CI95 = Exercise(
    name="mean_ci95",
    notebook="ex05_reporting_results",
    signature="mean_ci95(values) -> (mean, half_width)   (values: a list of floats)",
    reference=_mean_ci95,
    cases=_ci_cases,
    rtol=1e-7,
    hint="half_width = 1.96 · s / √n with s the sample standard deviation (divide by n − 1); "
         "raise ValueError when fewer than 2 values are given.",
    mistakes=(
        Mistake(_population_std,
                "use the sample standard deviation, dividing by n − 1 (torch: unbiased=True, "
                "numpy: ddof=1), not by n."),
        Mistake(lambda v: (sum(v) / len(v), 1.96 * torch.tensor(v).double().std().item()),
                "the interval is for the *mean*: divide the standard deviation by √n."),
        Mistake(lambda v: (sum(v) / len(v), torch.tensor(v).double().std().item()
                           / math.sqrt(len(v))),
                "a 95% normal interval is ±1.96 standard errors, not ±1."),
    ),
)


def check_accuracy(fn, seed: int | None = None) -> bool:
    """Check your ``accuracy(logits, y)`` against the library's."""
    return run_check(ACCURACY, fn, seed)


def check_mean_ci95(fn, seed: int | None = None) -> bool:
    """Check your ``mean_ci95(values)`` against the library's."""
    return run_check(MEAN_CI95, fn, seed)
