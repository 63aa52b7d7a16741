"""Hypergradient descent: the learning rate learns itself online (Baydin et al. 2018, SGD-HD).

paper symbol                          code name
α_t                                   state.lr
β (hypergradient learning rate)       hyper_lr
∇f(θ_{t−1}), ∇f(θ_{t−2})              grads, state.prev_grads
∂f(θ_{t−1})/∂α = −∇f(θ_{t−1})·∇f(θ_{t−2})   hypergradient(grads, prev_grads)
α_t = α_{t−1} − β ∂f(θ_{t−1})/∂α      hypergradient_lr_update
θ_t = θ_{t−1} − α_t ∇f(θ_{t−1})       ``meta.functional.inner_update`` with α_t

In the GAN, G and D each carry their own α ("learning how to adjust the learning rates of G and D").
Explained in ``notebooks/06_gan_lab.ipynb``.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

from ..checks import positive_number
from ..meta.functional import inner_update
from ..types import Params


class HypergradState(NamedTuple):
    lr: float                      # α_{t−1}
    prev_grads: Params | None      # ∇f(θ_{t−2}); None before the first step


def check_lr(name: str, value: float) -> float:
    """Raise ValueError unless a learning rate is finite and > 0 (``checks.positive_number``)."""
    return positive_number(name, value, "GANs train with 1e-4 to 1e-3 (Adam), 1e-2 to 0.1 (SGD)")


def hypergradient(grads: Params, prev_grads: Params) -> Tensor:
    """∂f(θ_{t−1})/∂α = ∇f(θ_{t−1}) · ∂θ_{t−1}/∂α = −∇f(θ_{t−1}) · ∇f(θ_{t−2}) (a scalar)."""
    return -sum((grads[k].detach() * prev_grads[k].detach()).sum() for k in grads)


def hypergradient_lr_update(lr: float, grads: Params, prev_grads: Params | None,
                            hyper_lr: float) -> float:
    """α_t = α_{t−1} − β ∂f(θ_{t−1})/∂α; α is kept ≥ 0 (a negative step would ascend)."""
    if prev_grads is None:
        return lr
    return max(0.0, lr - hyper_lr * hypergradient(grads, prev_grads).item())


def hypergradient_sgd_step(params: Params, grads: Params, state: HypergradState,
                           hyper_lr: float) -> tuple[Params, HypergradState]:
    """One SGD-HD step: update α with the hypergradient, then θ_t = θ_{t−1} − α_t ∇f(θ_{t−1})."""
    lr = hypergradient_lr_update(state.lr, grads, state.prev_grads, hyper_lr)
    new_params = inner_update(params, grads, lr)
    return new_params, HypergradState(lr, {k: g.detach().clone() for k, g in grads.items()})
