"""Reptile (Nichol, Achiam & Schulman 2018, "On First-Order Meta-Learning Algorithms").

paper symbol      code name
θ                 theta
φ̃_i               task_phis[i], the weights after k inner steps on task i
ε                 epsilon (outer step size)
θ ← θ + ε (mean_i φ̃_i − θ)    reptile_update(theta, task_phis, epsilon)
one meta-step on an Episode    reptile_step(model, theta, episode, inner_lr, inner_steps, epsilon)

With one inner step, (θ − φ̃_i)/α = ∇θ L_support_i(θ): Reptile is then SGD on the expected
support loss (the paper's §5); with more steps it also climbs the gradient inner product.
Explained in ``notebooks/03_reptile_and_first_order.ipynb``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..types import Episode, Params
from .batched import batched_adapt, unstack_params
from .functional import LossFn, adapt
from .maml import choose_path


def reptile_update(theta: Params, task_phis: list[Params], epsilon: float) -> Params:
    """θ ← θ + ε (mean_i φ̃_i − θ): move the initialisation toward the adapted weights."""
    if not task_phis:
        raise ValueError("reptile_update needs at least one adapted parameter dict")
    return {k: theta[k] + epsilon * (torch.stack([phi[k] for phi in task_phis]).mean(0) - theta[k])
            for k in theta}


def reptile_step(model: nn.Module, theta: Params, episode: Episode, inner_lr: float,
                 inner_steps: int, epsilon: float, loss_fn: LossFn = F.cross_entropy,
                 path: str = "auto", inner_optimizer: str = "sgd") -> Params:
    """One Reptile meta-step: φ̃_i = k SGD (or Adam, as in the paper's experiments) steps from θ
    on task i's support set, then θ ← θ + ε (mean_i φ̃_i − θ) (``reptile_update``). Returns the
    new θ (detached)."""
    if not math.isfinite(epsilon) or epsilon <= 0:
        raise ValueError(f"epsilon (Reptile's outer step size) must be a finite number > 0, "
                         f"got {epsilon!r}; try 1.0 annealed to 0, or 0.1")
    start = {n: p.detach().requires_grad_() for n, p in theta.items()}
    # Reptile differentiates nothing through its inner steps: 'compiled' runs the batched path.
    if choose_path(model, episode.support_x.device, path) in ("batched", "compiled"):
        phis = unstack_params(batched_adapt(model, start, episode.support_x, episode.support_y,
                                            inner_lr, inner_steps, True, loss_fn,
                                            inner_optimizer=inner_optimizer))
    else:
        phis = [adapt(model, start, x, y, inner_lr, inner_steps, True, loss_fn, inner_optimizer)
                for x, y in zip(episode.support_x, episode.support_y)]
    with torch.no_grad():
        return {n: p.detach() for n, p in reptile_update(start, phis, epsilon).items()}
