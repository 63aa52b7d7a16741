"""Exercises for notebook 03: Reptile (Nichol, Achiam & Schulman 2018).

exercise         learner writes                                       library reference
sgd_steps        φ = k steps of θ ← θ − α ∇L(θ) (plain SGD, no graph)  meta.functional.inner_loop
reptile_update   θ ← θ + ε (mean_i φ_i − θ)                           meta.reptile.reptile_update
"""

from __future__ import annotations

import torch

from ..meta.functional import InnerLoop, inner_loop
from ..meta.reptile import reptile_update as _reptile_update
from ..types import Params
from .checking import Case, Exercise, Mistake, randint, randn, run_check, uniform
from .maml import random_params


def _reptile_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for i in range(4):
        theta = random_params(g)
        n_tasks = randint(g, 2, 5)
        phis = [{n: p + randn(g, *p.shape) for n, p in theta.items()} for _ in range(n_tasks)]
        cases.append(Case(f"random {i + 1}: {n_tasks} tasks", (theta, phis, uniform(g, 0.05, 1.0))))
    theta = random_params(g)
    one = [{n: randn(g, *p.shape) for n, p in theta.items()}]
    cases.append(Case("edge: a single task", (theta, one, 0.3)))
    phis = [{n: randn(g, *p.shape) for n, p in theta.items()} for _ in range(3)]
    cases.append(Case("edge: ε = 1 jumps to the mean of the φ_i", (theta, phis, 1.0)))
    return cases


REPTILE_UPDATE = Exercise(
    name="reptile_update",
    notebook="ex03_reptile_step",
    signature="reptile_update(theta, task_phis, epsilon) -> dict name → tensor",
    reference=_reptile_update,
    cases=_reptile_cases,
    hint="for each parameter name: average φ_i[name] over the tasks (torch.stack(...).mean(0)), "
         "then θ[name] + ε·(mean − θ[name]).",
    mistakes=(
        Mistake(lambda t, phis, e: {n: t[n] + e * (phis[-1][n] - t[n]) for n in t},
                "use every task: average the adapted weights φ_i over all tasks, not only the "
                "last one."),
        Mistake(lambda t, phis, e: {n: t[n] - e * (torch.stack([p[n] for p in phis]).mean(0)
                                                   - t[n]) for n in t},
                "Reptile moves θ *towards* the adapted weights: θ + ε(φ̄ − θ)."),
        Mistake(lambda t, phis, e: {n: torch.stack([p[n] for p in phis]).mean(0) for n in t},
                "scale the step by ε: θ moves only a fraction ε of the way to φ̄."),
    ),
)


def _quartic_loss(a: Params, b: Params):
    """L(θ) = Σ_name mean((a ⊙ θ − b)²) + 0.1 mean(θ⁴): smooth, with a gradient that changes
    from step to step (so reusing the first gradient is caught)."""
    def loss(params: Params):
        """a random smooth loss L(θ) = Σ mean((a·θ − b)²) + 0.1·mean(θ⁴)"""
        return sum(((a[n] * p - b[n]).pow(2).mean() + 0.1 * p.pow(4).mean())
                   for n, p in params.items())
    return loss


def _reference_sgd(loss_fn, params: Params, inner_lr: float, steps: int) -> Params:
    out = inner_loop(loss_fn, {n: p.detach().requires_grad_(True) for n, p in params.items()},
                     InnerLoop(inner_lr, steps, first_order=True))
    return {n: p.detach() for n, p in out.items()}


def _sgd_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for i in range(4):
        theta = random_params(g)
        loss = _quartic_loss({n: randn(g, *p.shape) for n, p in theta.items()},
                             {n: randn(g, *p.shape) for n, p in theta.items()})
        steps = randint(g, 2, 6)
        cases.append(Case(f"random {i + 1}: {steps} steps", (loss, theta, uniform(g, 0.01, 0.2),
                                                             steps)))
    theta = random_params(g)
    loss = _quartic_loss({n: randn(g, *p.shape) for n, p in theta.items()},
                         {n: randn(g, *p.shape) for n, p in theta.items()})
    cases.append(Case("edge: 0 steps returns θ", (loss, theta, 0.1, 0)))
    cases.append(Case("edge: 1 step", (loss, theta, 0.1, 1)))
    return cases


def _evaluate_sgd(fn, case: Case) -> Params:
    out = fn(*case.args, **case.kwargs)
    if not isinstance(out, dict):
        return out
    return {n: p.detach() if isinstance(p, torch.Tensor) else p for n, p in out.items()}


def _one_step(loss_fn, params, lr, steps):
    return _reference_sgd(loss_fn, params, lr, min(steps, 1))


def _frozen_gradient(loss_fn, params, lr, steps):
    p = {n: v.detach().requires_grad_(True) for n, v in params.items()}
    grads = torch.autograd.grad(loss_fn(p), list(p.values()))
    return {n: v.detach() - steps * lr * gr for (n, v), gr in zip(p.items(), grads)}


SGD_STEPS = Exercise(
    name="sgd_steps",
    notebook="ex03_reptile_step",
    signature="sgd_steps(loss_fn, params, inner_lr, steps) -> dict name → tensor (φ)",
    reference=_reference_sgd,
    cases=_sgd_cases,
    evaluate=_evaluate_sgd,
    hint="start from detached copies of params with requires_grad_(True); repeat `steps` times: "
         "loss = loss_fn(p); grads = torch.autograd.grad(loss, list(p.values())); "
         "p = {name: (p[name] − α·grad).detach().requires_grad_(True)}.",
    mistakes=(
        Mistake(_one_step, "take `steps` gradient steps, not one."),
        Mistake(_frozen_gradient,
                "recompute the gradient at the current weights on every step: the gradient "
                "changes as φ moves."),
    ),
)


def check_reptile_update(fn, seed: int | None = None) -> bool:
    """Check your ``reptile_update(theta, task_phis, epsilon)`` against the library's."""
    return run_check(REPTILE_UPDATE, fn, seed)


def check_sgd_steps(fn, seed: int | None = None) -> bool:
    """Check your ``sgd_steps(loss_fn, params, inner_lr, steps)`` against the library's."""
    return run_check(SGD_STEPS, fn, seed)
