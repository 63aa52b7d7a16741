"""The inner loop of gradient-based meta-learning, on explicit parameter dicts.

paper symbol               code name
θ                          params
α (scalar or per-param)    inner_lr
∇θ L_support(θ)            grads
θ' = θ − α ⊙ ∇θ L          inner_update(params, grads, inner_lr)
θ' = θ − α m̂ / (√v̂ + ε)    adam_update(params, grads, state, inner_lr) (Reptile's inner Adam)
k inner steps              inner_steps

``inner_loop`` is the one copy of the k-step loop: ``adapt`` (one task, any model) and the batched
path in ``meta/batched.py`` (all tasks of a meta-batch at once) both call it with their own loss.

Explained in ``notebooks/02_maml_from_the_equations.ipynb``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from ..types import Params

LossFn = Callable[[Tensor, Tensor], Tensor]


def check_inner_lr(inner_lr: float | Params) -> None:
    """A float α must be finite and > 0 (a Meta-SGD dict of learned tensors is not checked here:
    reading its values would synchronise the GPU on every step; training checks the loss)."""
    if isinstance(inner_lr, dict):
        return
    if not isinstance(inner_lr, (int, float)) or not math.isfinite(inner_lr) or inner_lr <= 0:
        raise ValueError(f"inner_lr (α) must be a finite number > 0, got {inner_lr!r}; "
                         "try 0.4 for Omniglot MAML or 0.01 for sinusoids")


def check_inner_steps(inner_steps: int) -> None:
    if not isinstance(inner_steps, int) or inner_steps < 0:
        raise ValueError(f"inner_steps must be an integer >= 0, got {inner_steps!r}")


def inner_update(params: Params, grads: Params, inner_lr: float | Params) -> Params:
    """θ' = θ − α ⊙ ∇θ L. A float α is MAML; a dict of tensors α (same shapes) is Meta-SGD."""
    alpha = inner_lr if isinstance(inner_lr, dict) else dict.fromkeys(params, inner_lr)
    return {name: p - alpha[name] * grads[name] for name, p in params.items()}


INNER_OPTIMIZERS = ("sgd", "adam")
ADAM_BETAS = (0.0, 0.999)   # Nichol et al. (Reptile) use β1 = 0 in the inner loop
ADAM_EPS = 1e-8


def adam_update(params: Params, grads: Params, state: dict, inner_lr: float | Params,
                betas: tuple[float, float] = ADAM_BETAS,
                eps: float = ADAM_EPS) -> tuple[Params, dict]:
    """One Adam step, elementwise (so it is per task on stacked [T, …] parameters too):
    m ← β1 m + (1−β1) g,  v ← β2 v + (1−β2) g²,  θ' = θ − α (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε).
    ``state`` is {} before the first step; returns θ' and the new state {t, m, v}."""
    (b1, b2), t = betas, state.get("t", 0) + 1
    alpha = inner_lr if isinstance(inner_lr, dict) else dict.fromkeys(params, inner_lr)
    m0 = state.get("m") or {n: torch.zeros_like(g) for n, g in grads.items()}
    v0 = state.get("v") or {n: torch.zeros_like(g) for n, g in grads.items()}
    m = {n: b1 * m0[n] + (1 - b1) * g for n, g in grads.items()}
    v = {n: b2 * v0[n] + (1 - b2) * g * g for n, g in grads.items()}
    new = {n: p - alpha[n] * (m[n] / (1 - b1**t)) / ((v[n] / (1 - b2**t)).sqrt() + eps)
           for n, p in params.items()}
    return new, {"t": t, "m": m, "v": v}


def task_loss(model: nn.Module, params: Params, x: Tensor, y: Tensor,
              loss_fn: LossFn = F.cross_entropy) -> Tensor:
    """L(θ) = loss_fn(f_θ(x), y), with f_θ the model called on the explicit params θ."""
    return loss_fn(functional_call(model, params, (x,)), y)


def inner_loop(support_loss: Callable[[Params], Tensor], params: Params,
               inner_lr: float | Params, inner_steps: int = 1, first_order: bool = False,
               adapted: Collection[str] | None = None, traceable: bool = False,
               inner_optimizer: str = "sgd") -> Params:
    """k steps of θ ← θ − α ∇θ L_support(θ) for any differentiable L_support(θ).

    ``adapted`` names the parameters that take inner steps (all by default; ANIL adapts only the
    head); the others pass through unchanged. With ``first_order=False`` each step keeps its graph
    (create_graph) so a loss on θ' differentiates back to θ through the steps (second-order MAML);
    with ``first_order=True`` the inner gradients are constants (first-order MAML).

    ``traceable=True`` takes ∇θ L_support with ``torch.func.grad`` instead of
    ``torch.autograd.grad``: the same numbers, but written as ordinary forward operations that
    ``torch.compile`` can capture (it cannot capture ``autograd.grad(create_graph=True)``).
    ``inner_optimizer="adam"`` takes Adam steps (``adam_update``) instead of plain SGD steps.
    """
    check_inner_lr(inner_lr)
    check_inner_steps(inner_steps)
    if inner_optimizer not in INNER_OPTIMIZERS:
        raise ValueError(f"inner_optimizer={inner_optimizer!r}; choose from {INNER_OPTIMIZERS}")
    if inner_optimizer == "adam" and not first_order:
        raise ValueError("inner_optimizer='adam' needs first_order=True (first-order MAML, "
                         "Reptile): Adam's √v has no derivative where a gradient is 0, as it is "
                         "for conv biases before batch norm, so second-order MAML through it "
                         "gives NaN")
    names = list(params) if adapted is None else [n for n in params if n in adapted]
    state: dict = {}
    for _ in range(inner_steps):
        theta = {n: params[n] for n in names}
        grads = (_func_grads(support_loss, params, theta, first_order) if traceable else
                 dict(zip(names, torch.autograd.grad(support_loss(params), list(theta.values()),
                                                     create_graph=not first_order))))
        if inner_optimizer == "adam":
            new, state = adam_update(theta, grads, state, inner_lr)
        else:
            new = inner_update(theta, grads, inner_lr)
        params = {**params, **new}
    return params


def _func_grads(support_loss: Callable[[Params], Tensor], params: Params, theta: Params,
                first_order: bool) -> Params:
    """∇θ L_support(θ) by ``torch.func.grad``; detached for first-order MAML."""
    grads = torch.func.grad(lambda t: support_loss({**params, **t}))(theta)
    return {n: g.detach() for n, g in grads.items()} if first_order else grads


def adapt(model: nn.Module, params: Params, x: Tensor, y: Tensor, inner_lr: float | Params,
          inner_steps: int = 1, first_order: bool = False,
          loss_fn: LossFn = F.cross_entropy, inner_optimizer: str = "sgd") -> Params:
    """Run k steps of θ ← θ − α ∇θ L_support(θ) on one task; returns θ' (θ is not mutated).

    With ``first_order=False`` the graph of each step is kept (create_graph) so that a loss on
    θ' can be differentiated back to θ (second-order MAML); with ``first_order=True`` the
    gradients are detached (first-order MAML).
    """
    return inner_loop(lambda p: task_loss(model, p, x, y, loss_fn), params, inner_lr,
                      inner_steps, first_order, inner_optimizer=inner_optimizer)
