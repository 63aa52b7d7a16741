"""Meta-SGD (Li, Zhou, Chen & Li 2017): a learned learning rate for every parameter.

paper symbol                          code name
θ                                     params
α (same shapes as θ)                  alphas, a Params dict
θ'_i = θ − α ⊙ ∇θ L_support_i(θ)      ``functional.inner_update`` with a dict α
min over (θ, α) of Σ_i L_query_i(θ'_i) meta_sgd_outer_loss(...), differentiated w.r.t. θ and α
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..types import Episode, Params
from .maml import maml_outer_loss


def init_alphas(params: Params, value: float = 0.4, requires_grad: bool = True) -> Params:
    """α initialised to ``value`` everywhere, one tensor per parameter (same shape and dtype)."""
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"initial Meta-SGD learning rate must be a finite number > 0, "
                         f"got {value!r}")
    return {n: torch.full_like(p, value).detach().requires_grad_(requires_grad)
            for n, p in params.items()}


def meta_sgd_outer_loss(model: nn.Module, params: Params, alphas: Params, episode: Episode,
                        inner_steps: int = 1, path: str = "auto", **kwargs) -> Tensor:
    """(1/T) Σ_i L_query_i(θ − α ⊙ ∇θ L_support_i(θ)); differentiable w.r.t. θ and α."""
    return maml_outer_loss(model, params, episode, alphas, inner_steps, path=path, **kwargs)
