"""The inner loop of gradient-based meta-learning, on explicit parameter dicts.

paper symbol               code name
θ                          params
α (scalar or per-param)    InnerLoop.lr
∇θ L_support(θ)            grads
θ' = θ − α ⊙ ∇θ L          inner_update(params, grads, lr)
θ' = θ − α m̂ / (√v̂ + ε)    adam_update(params, grads, state, lr) (Reptile's inner Adam)
k inner steps              InnerLoop.steps

``InnerLoop`` holds every knob of the inner loop (α, k, first order, optimiser, which parameters
adapt, the loss) and travels whole. ``inner_loop`` is the one copy of the k-step loop: ``adapt``
(one task, any model) and the batched engine (all tasks of a meta-batch at once) both call it.

Explained in ``notebooks/02_maml_from_the_equations.ipynb``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from ..checks import same_shapes
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
    same_shapes("inner_update", params, grads)
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


def per_task_losses(predictions: Tensor, y: Tensor, loss_fn: LossFn = F.cross_entropy) -> Tensor:
    """[T, B, …] predictions and [T, B, …] targets → [T]: each task's mean loss.

    ``loss_fn`` must accept ``reduction='none'`` (F.cross_entropy, F.mse_loss do).
    """
    if predictions.shape[:2] != y.shape[:2]:
        raise ValueError(f"per_task_losses: predictions {tuple(predictions.shape)} and targets "
                         f"{tuple(y.shape)} differ in their first two sizes [tasks, items]")
    per_item = loss_fn(predictions.flatten(0, 1), y.flatten(0, 1), reduction="none")
    return per_item.reshape(predictions.shape[0], -1).mean(dim=1)


@dataclass(frozen=True)
class InnerLoop:
    """Every knob of θ' = θ − α ∇θ L_support(θ), repeated k times, in one value.

    lr           α: a float (MAML), or a dict of tensors shaped like θ (Meta-SGD's learned α)
    steps        k
    first_order  True: the inner gradients are constants (first-order MAML, Reptile)
    optimizer    "sgd", or "adam" (β1 = 0, as in Reptile's experiments; first order only)
    adapted      names of the parameters that take inner steps (None: all; ANIL: the head)
    loss         loss_fn(predictions, targets), accepting ``reduction='none'``
    """

    lr: float | Params = 0.4
    steps: int = 1
    first_order: bool = False
    optimizer: str = "sgd"
    adapted: tuple[str, ...] | None = None
    loss: LossFn = F.cross_entropy

    def __post_init__(self) -> None:
        check_inner_lr(self.lr)
        check_inner_steps(self.steps)
        if self.optimizer not in INNER_OPTIMIZERS:
            raise ValueError(f"inner optimizer={self.optimizer!r}; choose from {INNER_OPTIMIZERS}")
        if self.optimizer == "adam" and not self.first_order:
            raise ValueError("inner optimizer 'adam' needs first_order=True (first-order MAML, "
                             "Reptile): Adam's √v has no derivative where a gradient is 0, as it "
                             "is for conv biases before batch norm, so second-order MAML through "
                             "it gives NaN")
        if self.adapted is not None and not isinstance(self.adapted, tuple):
            object.__setattr__(self, "adapted", tuple(self.adapted))


def autograd_grads(support_loss: Callable[[Params], Tensor], params: Params, names: list[str],
                   first_order: bool) -> Params:
    """∇θ L_support(θ) for the parameters ``names``, by ``torch.autograd.grad``; the graph is kept
    (create_graph) unless first order, so a loss on θ' differentiates back through the step."""
    grads = torch.autograd.grad(support_loss(params), [params[n] for n in names],
                                create_graph=not first_order)
    return dict(zip(names, grads))


GradsFn = Callable[[Callable[[Params], Tensor], Params, list[str], bool], Params]


def inner_loop(support_loss: Callable[[Params], Tensor], params: Params, inner: InnerLoop,
               grads_fn: GradsFn = autograd_grads) -> Params:
    """k steps of θ ← θ − α ∇θ L_support(θ) for any differentiable L_support(θ).

    Only ``inner.adapted`` parameters take steps (all by default; ANIL adapts only the head); the
    others pass through unchanged. With ``first_order=False`` a loss on θ' differentiates back to θ
    through the steps (second-order MAML). ``grads_fn`` takes the gradient (an engine may pass
    another way of taking it, as the compiled engine does).
    """
    names = list(params) if inner.adapted is None else [n for n in params if n in inner.adapted]
    state: dict = {}
    for _ in range(inner.steps):
        grads = grads_fn(support_loss, params, names, inner.first_order)
        theta = {n: params[n] for n in names}
        if inner.optimizer == "adam":
            new, state = adam_update(theta, grads, state, inner.lr)
        else:
            new = inner_update(theta, grads, inner.lr)
        params = {**params, **new}
    return params


def adapt(model: nn.Module, params: Params, x: Tensor, y: Tensor, inner: InnerLoop) -> Params:
    """θ' after k steps of θ ← θ − α ∇θ L(f_θ(x), y) on one task (θ is not mutated)."""
    return inner_loop(lambda p: task_loss(model, p, x, y, inner.loss), params, inner)
