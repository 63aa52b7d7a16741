"""A 2-D parameter toy for drawing meta-updates: task i's loss is L_i(θ) = ½‖θ − c_i‖².

Each function returns the path of θ as an array [steps + 1, 2] and uses the library's own inner
loop (``functional.inner_loop``), ``reptile_update`` and ``maml_outer_loss``-style differentiation,
so the drawing shows exactly what the Omniglot code does. Explained in
``notebooks/03_reptile_and_first_order.ipynb``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..types import Params
from .functional import InnerLoop, inner_loop
from .reptile import reptile_update


def quadratic_loss(params: Params, optimum: torch.Tensor) -> torch.Tensor:
    """L_i(θ) = ½‖θ − c_i‖²."""
    return 0.5 * (params["theta"] - optimum).pow(2).sum()


def _adapted(theta: torch.Tensor, optimum: torch.Tensor, inner_lr: float, inner_steps: int,
             first_order: bool) -> Params:
    start = {"theta": theta}
    return inner_loop(lambda p: quadratic_loss(p, optimum), start,
                      InnerLoop(inner_lr, inner_steps, first_order))


def _path(theta0, task_optima, steps: int, meta_step) -> np.ndarray:
    """Iterate θ ← meta_step(θ, c) ``steps`` times from θ₀; returns the path [steps + 1, 2]."""
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    theta = torch.as_tensor(theta0, dtype=torch.float64).reshape(2)
    c = torch.as_tensor(np.asarray(task_optima, dtype=np.float64)).reshape(-1, 2)   # [tasks, 2]
    if len(c) == 0:
        raise ValueError("need at least one task optimum")
    path = [theta]
    for _ in range(steps):
        path.append(meta_step(path[-1].clone().requires_grad_(), c).detach())
    return torch.stack(path).numpy()


def reptile_path_2d(theta0: Sequence[float], task_optima: Sequence[Sequence[float]],
                    epsilon: float, steps: int, inner_lr: float = 1.0,
                    inner_steps: int = 1) -> np.ndarray:
    """θ over ``steps`` Reptile updates θ ← θ + ε (mean_i φ̃_i − θ), all tasks every step.

    φ̃_i is k SGD steps of size α on L_i from θ; α = 1 solves each quadratic exactly.
    """
    def step(theta: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        phis = [_adapted(theta, ci, inner_lr, inner_steps, True) for ci in c]
        return reptile_update({"theta": theta}, phis, epsilon)["theta"]
    return _path(theta0, task_optima, steps, step)


def maml_path_2d(theta0: Sequence[float], task_optima: Sequence[Sequence[float]],
                 meta_lr: float, steps: int, inner_lr: float = 0.5, inner_steps: int = 1,
                 first_order: bool = False) -> np.ndarray:
    """θ over ``steps`` of gradient descent on (1/T) Σ_i L_i(θ'_i) (query = support here).

    ``first_order=True`` is first-order MAML: the inner gradients are treated as constants.
    """
    def step(theta: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        outer = sum(quadratic_loss(_adapted(theta, ci, inner_lr, inner_steps, first_order), ci)
                    for ci in c) / len(c)
        (g,) = torch.autograd.grad(outer, [theta])
        return theta - meta_lr * g
    return _path(theta0, task_optima, steps, step)
