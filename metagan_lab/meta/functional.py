"""The inner loop of gradient-based meta-learning, on explicit parameter dicts.

paper symbol               code name
θ                          params
α (scalar or per-param)    inner_lr
∇θ L_support(θ)            grads
θ' = θ − α ⊙ ∇θ L          inner_update(params, grads, inner_lr)
k inner steps              inner_steps

Explained in ``notebooks/02_maml_from_the_equations.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from ..types import Params

LossFn = Callable[[Tensor, Tensor], Tensor]


def inner_update(params: Params, grads: Params, inner_lr: float | Params) -> Params:
    """θ' = θ − α ⊙ ∇θ L. A float α is MAML; a dict of tensors α (same shapes) is Meta-SGD."""
    alpha = inner_lr if isinstance(inner_lr, dict) else dict.fromkeys(params, inner_lr)
    return {name: p - alpha[name] * grads[name] for name, p in params.items()}


def task_loss(model: nn.Module, params: Params, x: Tensor, y: Tensor,
              loss_fn: LossFn = F.cross_entropy) -> Tensor:
    """L(θ) = loss_fn(f_θ(x), y), with f_θ the model called on the explicit params θ."""
    return loss_fn(functional_call(model, params, (x,)), y)


def adapt(model: nn.Module, params: Params, x: Tensor, y: Tensor, inner_lr: float | Params,
          inner_steps: int = 1, first_order: bool = False,
          loss_fn: LossFn = F.cross_entropy) -> Params:
    """Run k steps of θ ← θ − α ∇θ L_support(θ) on one task; returns θ' (θ is not mutated).

    With ``first_order=False`` the graph of each step is kept (create_graph) so that a loss on
    θ' can be differentiated back to θ (second-order MAML); with ``first_order=True`` the
    gradients are detached (first-order MAML).
    """
    if inner_steps < 0:
        raise ValueError(f"inner_steps must be >= 0, got {inner_steps}")
    for _ in range(inner_steps):
        loss = task_loss(model, params, x, y, loss_fn)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=not first_order)
        params = inner_update(params, dict(zip(params, grads)), inner_lr)
    return params
