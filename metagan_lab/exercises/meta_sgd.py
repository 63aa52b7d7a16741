"""Exercise for notebook 04: the Meta-SGD inner update (Li, Zhou, Chen & Li 2017).

exercise          learner writes                    library reference
meta_sgd_update   θ' = θ − α ⊙ ∇θ L, α per entry    meta.functional.inner_update with a dict α
"""

from __future__ import annotations

import torch

from ..meta.functional import inner_update
from .checking import Case, Exercise, Mistake, randn, run_check
from .maml import random_params, random_params_and_grads


def _reference(params, grads, alphas):
    return inner_update(params, grads, alphas)


def _cases(g: torch.Generator) -> list[Case]:
    cases = []
    for i in range(4):
        params, grads = random_params_and_grads(g, i)
        alphas = {n: 0.5 * randn(g, *p.shape).abs() for n, p in params.items()}
        cases.append(Case(f"random {i + 1}: parameters {list(params)}", (params, grads, alphas)))
    params = random_params(g)
    grads = {n: randn(g, *p.shape) for n, p in params.items()}
    cases.append(Case("edge: α = 0 everywhere leaves θ unchanged",
                      (params, grads, {n: torch.zeros_like(p) for n, p in params.items()})))
    alphas = {n: 0.1 * torch.ones_like(p) for n, p in params.items()}
    alphas["w"][0] = 2.0
    cases.append(Case("edge: one row of α much larger", (params, grads, alphas)))
    return cases


META_SGD_UPDATE = Exercise(
    name="meta_sgd_update",
    notebook="ex04_meta_sgd_update",
    signature="meta_sgd_update(params, grads, alphas) -> dict name → tensor (θ')",
    reference=_reference,
    cases=_cases,
    hint="α has the same shape as θ: multiply element-wise, θ'[name] = params[name] − "
         "alphas[name] * grads[name] (no sum, no mean).",
    mistakes=(
        Mistake(lambda p, g, a: {n: p[n] - a[n].mean() * g[n] for n in p},
                "Meta-SGD learns one learning rate per *entry* of θ: do not average α to a "
                "single number."),
        Mistake(lambda p, g, a: {n: p[n] - (a[n] * g[n]).sum() for n in p},
                "⊙ is the element-wise product: keep the shape, do not sum α·∇L."),
        Mistake(lambda p, g, a: {n: p[n] + a[n] * g[n] for n in p},
                "subtract the scaled gradient: θ − α ⊙ ∇L."),
    ),
)


def check_meta_sgd_update(fn, seed: int | None = None) -> bool:
    """Check your ``meta_sgd_update(params, grads, alphas)`` against the library's."""
    return run_check(META_SGD_UPDATE, fn, seed)
