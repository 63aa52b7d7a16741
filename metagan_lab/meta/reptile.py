"""Reptile (Nichol, Achiam & Schulman 2018, "On First-Order Meta-Learning Algorithms").

paper symbol      code name
θ                 theta
φ̃_i               task_phis[i], the weights after k inner steps on task i
ε                 epsilon (outer step size)
θ ← θ + ε (mean_i φ̃_i − θ)    reptile_update(theta, task_phis, epsilon)
"""

from __future__ import annotations

import torch

from ..types import Params


def reptile_update(theta: Params, task_phis: list[Params], epsilon: float) -> Params:
    """θ ← θ + ε (mean_i φ̃_i − θ): move the initialisation toward the adapted weights."""
    if not task_phis:
        raise ValueError("reptile_update needs at least one adapted parameter dict")
    return {k: theta[k] + epsilon * (torch.stack([phi[k] for phi in task_phis]).mean(0) - theta[k])
            for k in theta}
