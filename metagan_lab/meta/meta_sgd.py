"""Meta-SGD (Li, Zhou, Chen & Li 2017): a learned learning rate for every parameter.

paper symbol                          code name
θ                                     params
α (same shapes as θ)                  alphas, a Params dict (``InnerLoop.lr``)
θ'_i = θ − α ⊙ ∇θ L_support_i(θ)      ``functional.inner_update`` with a dict α
min over (θ, α) of Σ_i L_query_i(θ'_i) meta_sgd_outer_loss(...), differentiated w.r.t. θ and α
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import Tensor, nn

from ..checks import positive_number
from ..types import Episode, Params
from .functional import InnerLoop
from .maml import MAMLConfig, maml_outer_loss

if TYPE_CHECKING:
    from .engines import Engine


def init_alphas(params: Params, value: float = 0.4, requires_grad: bool = True) -> Params:
    """α initialised to ``value`` everywhere, one tensor per parameter (same shape and dtype)."""
    positive_number("initial Meta-SGD learning rate", value)
    return {n: torch.full_like(p, value).detach().requires_grad_(requires_grad)
            for n, p in params.items()}


def meta_sgd_outer_loss(model: nn.Module, params: Params, alphas: Params, episode: Episode,
                        inner: InnerLoop | None = None, engine: Engine | None = None) -> Tensor:
    """(1/T) Σ_i L_query_i(θ − α ⊙ ∇θ L_support_i(θ)); differentiable w.r.t. θ and α
    (``inner.lr`` is replaced by α)."""
    return maml_outer_loss(model, params, episode, replace(inner or InnerLoop(), lr=alphas), engine)


@dataclass(frozen=True)
class MetaSGDConfig(MAMLConfig):
    """MAML's Omniglot setting; ``inner_lr`` is α's initial value, learned with θ."""

    algorithm: str = "metasgd"
    learns_alpha: ClassVar[bool] = True
