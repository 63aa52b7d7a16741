"""Exercises for notebook 02: the inner update and MAML's meta-objective (Finn et al. 2017, Eq. 1).

exercise          learner writes                                     library reference
inner_update      θ' = θ − α ∇θ L                                    meta.functional.inner_update
maml_query_loss   L_query(θ'), θ' = θ − α ∇θ L_support(θ), kept      meta.functional.inner_loop
                  differentiable with respect to θ (second order)

The model of ``maml_query_loss`` is linear regression f_w(x) = x · w with mean squared error, so
the meta-gradient ∂L_query(θ')/∂θ includes the Hessian term (I − α ∇²L_support) and a first-order
answer is caught.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..meta.functional import InnerLoop, inner_loop
from ..meta.functional import inner_update as _inner_update
from ..types import Params
from .checking import Case, Exercise, Mistake, randint, randn, run_check, uniform
from .checking import value_and_gradient as scalar_with_gradient


def random_params(g: torch.Generator, names: tuple[str, ...] = ("w", "b")) -> Params:
    """A parameter dict with random shapes, e.g. {'w': [3, 2], 'b': [3]} (float64)."""
    rows, cols = randint(g, 1, 4), randint(g, 1, 4)
    shapes = {"w": (rows, cols), "b": (rows,), "head.weight": (2, rows)}
    return {n: randn(g, *shapes[n]) for n in names}


def random_params_and_grads(g: torch.Generator, i: int) -> tuple[Params, Params]:
    """Case ``i``'s θ and ∇L: two or (odd i) three tensors of random shapes."""
    params = random_params(g, ("w", "b", "head.weight") if i % 2 else ("w", "b"))
    return params, {n: randn(g, *p.shape) for n, p in params.items()}


def _update_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for i in range(4):
        params, grads = random_params_and_grads(g, i)
        cases.append(Case(f"random {i + 1}: parameters {list(params)}",
                          (params, grads, uniform(g, 0.01, 1.0))))
    params = random_params(g)
    cases.append(Case("edge: α = 0 leaves θ unchanged",
                      (params, {n: randn(g, *p.shape) for n, p in params.items()}, 0.0)))
    params = random_params(g, ("w",))
    cases.append(Case("edge: zero gradient", (params, {"w": torch.zeros_like(params["w"])}, 0.4)))
    return cases


INNER_UPDATE = Exercise(
    name="inner_update",
    notebook="ex02_inner_update_and_maml",
    signature="inner_update(params, grads, inner_lr) -> dict name → tensor (θ')",
    reference=_inner_update,
    cases=_update_cases,
    hint="for every name in params, θ'[name] = params[name] − inner_lr · grads[name]; return a "
         "new dict with the same keys.",
    mistakes=(
        Mistake(lambda p, g, lr: {n: p[n] + lr * g[n] for n in p},
                "gradient *descent* goes against the gradient: subtract α·∇L."),
        Mistake(lambda p, g, lr: {n: p[n] - g[n] for n in p},
                "scale the gradient by the inner learning rate α before subtracting it."),
    ),
)


def _mse(pred: Tensor, y: Tensor) -> Tensor:
    return F.mse_loss(pred, y)


def _reference_query_loss(w: Tensor, support_x: Tensor, support_y: Tensor, query_x: Tensor,
                          query_y: Tensor, inner_lr: float) -> Tensor:
    adapted = inner_loop(lambda p: _mse(support_x @ p["w"], support_y), {"w": w},
                         InnerLoop(inner_lr, steps=1))
    return _mse(query_x @ adapted["w"], query_y)


def _evaluate_query_loss(fn, case: Case) -> dict[str, Tensor]:
    """The query loss and its meta-gradient ∂L_query/∂w, computed through ``fn``."""
    w, *rest = case.args
    w = w.detach().clone().requires_grad_(True)
    return scalar_with_gradient(
        fn(w, *rest, **case.kwargs), w, "query loss", "meta-gradient dL/dw",
        "the loss you return is not connected to w by autograd (.item(), .detach() or "
        "torch.no_grad()?), so the meta-gradient ∂L/∂w cannot be computed")


def _first_order(w, xs, ys, xq, yq, lr):
    (g,) = torch.autograd.grad(_mse(xs @ w, ys), w)                      # no create_graph
    return _mse(xq @ (w - lr * g), yq)


def _query_loss_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        dim, k, q = randint(g, 1, 4), randint(g, 2, 8), randint(g, 2, 8)
        w_true = randn(g, dim)
        xs, xq = randn(g, k, dim), randn(g, q, dim)
        args = (randn(g, dim), xs, xs @ w_true + 0.1 * randn(g, k), xq,
                xq @ w_true + 0.1 * randn(g, q), uniform(g, 0.01, 0.3))
        cases.append(Case(f"random {i + 1}: D={dim}, K={k} support, {q} query points", args))
    cases.append(Case("edge: a single support point and a large step α = 1",
                      (randn(g, 2), randn(g, 1, 2), randn(g, 1), randn(g, 3, 2), randn(g, 3), 1.0)))
    return cases


MAML_QUERY_LOSS = Exercise(
    name="maml_query_loss",
    notebook="ex02_inner_update_and_maml",
    signature="maml_query_loss(w, support_x, support_y, query_x, query_y, inner_lr) -> scalar",
    reference=_reference_query_loss,
    cases=_query_loss_cases,
    evaluate=_evaluate_query_loss,
    hint="1) L_support = mean((support_x @ w − support_y)²); 2) its gradient with "
         "torch.autograd.grad(..., create_graph=True); 3) w' = w − α·grad; 4) return "
         "mean((query_x @ w' − query_y)²).",
    mistakes=(
        Mistake(_first_order,
                "the value is right but the meta-gradient is first-order: pass create_graph=True "
                "to torch.autograd.grad so that ∂L_query/∂w flows through the inner step."),
        Mistake(lambda w, xs, ys, xq, yq, lr: _mse(xq @ w, yq),
                "adapt first: take one gradient step on the *support* loss, then evaluate the "
                "query loss at the adapted w'."),
        Mistake(lambda w, xs, ys, xq, yq, lr: _reference_query_loss(w, xq, yq, xq, yq, lr),
                "the inner step uses the support set; the query set only scores the adapted w'."),
    ),
)


def check_inner_update(fn, seed: int | None = None) -> bool:
    """Check your ``inner_update(params, grads, inner_lr)`` against the library's."""
    return run_check(INNER_UPDATE, fn, seed)


def check_maml_query_loss(fn, seed: int | None = None) -> bool:
    """Check your ``maml_query_loss(...)``: value and meta-gradient against the library's."""
    return run_check(MAML_QUERY_LOSS, fn, seed)
