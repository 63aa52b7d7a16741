"""The ``Task`` protocol: what a meta-learner needs from one task is its two losses.

paper symbol                    code name
L_support_i(θ)                  task.support_loss(θ)
L_query_i(θ'_i)                 task.query_loss(θ'_i)
θ'_i (k inner steps)            adapt_task(task, θ, inner)
(1/T) Σ_i L_query_i(θ'_i)       maml_task_loss(tasks, θ, inner)     (MAML / FOMAML outer loss)
θ + ε (mean_i θ'_i − θ)         reptile_task_step(tasks, θ, inner, ε)

A classification episode, a restoration task (degraded → clean pairs of one setting) or a GAN's
class (a generator and a discriminator loss) only has to say what these losses are; the
algorithms are the same functions for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import torch
from torch import Tensor, nn

from ..types import Params
from .functional import InnerLoop, inner_loop, task_loss
from .reptile import reptile_update


class Task(Protocol):
    def support_loss(self, params: Params) -> Tensor: ...

    def query_loss(self, params: Params) -> Tensor: ...


@dataclass(frozen=True)
class SupervisedTask:
    """A task given by (support_x, support_y) and (query_x, query_y) for a model f_θ:
    L(θ) = loss(f_θ(x), y) on each set."""

    model: nn.Module
    support_x: Tensor
    support_y: Tensor
    query_x: Tensor
    query_y: Tensor
    loss: Callable[[Tensor, Tensor], Tensor]

    def support_loss(self, params: Params) -> Tensor:
        return task_loss(self.model, params, self.support_x, self.support_y, self.loss)

    def query_loss(self, params: Params) -> Tensor:
        return task_loss(self.model, params, self.query_x, self.query_y, self.loss)


def adapt_task(task: Task, params: Params, inner: InnerLoop) -> Params:
    """θ'_i: k steps of θ ← θ − α ∇θ L_support_i(θ)."""
    return inner_loop(task.support_loss, params, inner)


def maml_task_loss(tasks: Sequence[Task], params: Params, inner: InnerLoop) -> Tensor:
    """(1/T) Σ_i L_query_i(θ'_i), differentiable back to θ (first order if ``inner`` says so)."""
    return torch.stack([t.query_loss(adapt_task(t, params, inner)) for t in tasks]).mean()


def reptile_task_step(tasks: Sequence[Task], params: Params, inner: InnerLoop,
                      epsilon: float) -> Params:
    """θ ← θ + ε (mean_i θ'_i − θ) with θ'_i adapted on each task's support loss; detached."""
    start = {n: p.detach().requires_grad_() for n, p in params.items()}
    phis = [adapt_task(t, start, replace(inner, first_order=True)) for t in tasks]
    with torch.no_grad():
        return {n: p.detach() for n, p in reptile_update(start, phis, epsilon).items()}
