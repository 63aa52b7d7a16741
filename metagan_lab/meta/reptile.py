"""Reptile (Nichol, Achiam & Schulman 2018, "On First-Order Meta-Learning Algorithms").

paper symbol      code name
θ                 theta
φ̃_i               task_phis[i], the weights after k inner steps on task i
ε                 epsilon (outer step size, in (0, 1])
θ ← θ + ε (mean_i φ̃_i − θ)    reptile_update(theta, task_phis, epsilon)
one meta-step on an Episode    reptile_step(model, theta, episode, inner, epsilon)

With one inner step, (θ − φ̃_i)/α = ∇θ L_support_i(θ): Reptile is then SGD on the expected
support loss (the paper's §5); with more steps it also climbs the gradient inner product.
Explained in ``notebooks/03_reptile_and_first_order.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from ..checks import finite_params, same_shapes, unit_interval
from ..types import Episode, Params
from .config import MetaConfig
from .functional import InnerLoop, adapt, per_task_losses

if TYPE_CHECKING:
    from .engines import Engine

EPSILON_HINT = "Reptile's outer step size: try 1.0 annealed to 0, or 0.1"


def reptile_update(theta: Params, task_phis: list[Params], epsilon: float) -> Params:
    """θ ← θ + ε (mean_i φ̃_i − θ): move the initialisation toward the adapted weights."""
    unit_interval("epsilon (ε)", epsilon, EPSILON_HINT)
    if not task_phis:
        raise ValueError("reptile_update needs at least one adapted parameter dict")
    for i, phi in enumerate(task_phis):
        same_shapes("reptile_update", theta, phi, "theta", f"task_phis[{i}]")
    return {k: theta[k] + epsilon * (torch.stack([phi[k] for phi in task_phis]).mean(0) - theta[k])
            for k in theta}


def reptile_step(model: nn.Module, theta: Params, episode: Episode, inner: InnerLoop,
                 epsilon: float, engine: Engine | None = None) -> Params:
    """One Reptile meta-step: φ̃_i = k SGD (or Adam, as in the paper's experiments) steps from θ
    on task i's support set, then θ ← θ + ε (mean_i φ̃_i − θ). Returns the new θ (detached)."""
    unit_interval("epsilon (ε)", epsilon, EPSILON_HINT)
    start = {n: p.detach().requires_grad_() for n, p in theta.items()}
    inner = replace(inner, first_order=True)        # nothing is differentiated through the steps
    phis = (engine.adapt(model, start, episode.support_x, episode.support_y, inner)
            if engine is not None else
            [adapt(model, start, x, y, inner)
             for x, y in zip(episode.support_x, episode.support_y)])
    with torch.no_grad():
        return {n: p.detach() for n, p in reptile_update(start, phis, epsilon).items()}


@dataclass(frozen=True)
class ReptileConfig(MetaConfig):
    """Nichol et al.'s Omniglot setting: 5 Adam inner steps (β1 = 0, step 0.001) on 10-shot
    training tasks, 5 tasks per outer step, ε = 1 annealed to 0, 50 inner steps at test."""

    algorithm: str = "reptile"
    train_shots: int | None = 10
    meta_batch: int = 5
    inner_lr: float = 0.001
    inner_steps: int = 5
    inner_optimizer: str = "adam"
    eval_inner_steps: int = 50
    first_order: ClassVar[bool] = True


class ReptileOuterStep:
    """θ ← θ + ε_t (mean_i φ̃_i − θ), ε_t = ε (1 − done) annealed to 0 over the run.

    The query loss after the k inner steps costs one more pass, so it is measured every
    ``log_every`` iterations (and reported as None in between).
    """

    log_every = 10

    def __init__(self, learner, engine: Engine, shard=None) -> None:
        self.learner, self.engine, self.shard = learner, engine, shard

    def state_dict(self) -> dict:
        """Nothing besides θ: ε_t follows from the run's progress (``done``)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def __call__(self, episode: Episode, it: int, done: float) -> tuple[float | None,
                                                                        float | None]:
        learner, cfg = self.learner, self.learner.config
        epsilon = cfg.epsilon * max(1 - done, 1e-3)
        inner = learner.inner()
        local = self.shard.local(episode) if self.shard is not None else episode
        start = {n: p.detach() for n, p in learner.params.items()}
        phis = self.engine.adapt(learner.model, {n: p.requires_grad_() for n, p in start.items()},
                                 local.support_x, local.support_y, inner)
        with torch.no_grad():
            mean_phi = {n: torch.stack([phi[n] for phi in phis]).sum(0) / episode.n_tasks
                        for n in start}
            if self.shard is not None:
                self.shard.all_reduce_sum(mean_phi)
            new = reptile_update(start, [mean_phi], epsilon)
        finite_params(f"reptile step at ε = {epsilon:.3g}", new,
                      f"try a smaller inner learning rate (now {cfg.inner_lr}) or fewer inner "
                      f"steps (now {cfg.inner_steps})")
        learner.params = {n: p.detach().requires_grad_() for n, p in new.items()}
        if (it - 1) % self.log_every:
            return None, None
        predictions = self.engine.predictions(learner.model, learner.params, local, inner)
        loss = per_task_losses(predictions, local.query_y, inner.loss).detach()
        acc = (predictions.argmax(-1) == local.query_y).float().mean(-1).detach()
        if self.shard is not None:
            loss_sum, acc = self.shard.reduce(loss.sum() / episode.n_tasks, acc, None)
            return loss_sum.item(), acc.mean().item()
        return loss.mean().item(), acc.mean().item()
