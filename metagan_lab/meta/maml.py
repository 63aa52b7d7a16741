"""MAML and first-order MAML (Finn, Abbeel & Levine 2017, Eq. 1 and Alg. 2).

paper symbol                         code name
θ                                    params
α, k                                 inner.lr, inner.steps (an ``InnerLoop``)
θ'_i = θ − α ∇θ L_support_i(θ)       adapted parameters of task i (``functional.adapt``)
(1/T) Σ_i L_query_i(θ'_i)            maml_outer_loss(model, params, episode, inner)
∇θ of the above                      meta_gradient(...)
θ ← θ − β ∇θ (1/T) Σ_i L_query_i     GradientOuterStep (Adam with step β)
first order (FOMAML)                 InnerLoop(first_order=True): the inner gradients are constants

The functions below are the paper's per-task loop. An ``engine`` (``meta/engines``) may be passed
to compute the same numbers another way (all tasks in one batched pass, or compiled).

Explained in ``notebooks/02_maml_from_the_equations.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ..types import Episode, Params
from .config import MetaConfig
from .functional import InnerLoop, adapt, per_task_losses

if TYPE_CHECKING:
    from .engines import Engine


def adapted_predictions(model: nn.Module, params: Params, episode: Episode,
                        inner: InnerLoop) -> Tensor:
    """f_{θ'_i}(query_x_i) for every task i: [T, N*Q, out], θ'_i adapted on support_i."""
    return torch.stack([functional_call(model, adapt(model, params, x_s, y_s, inner), (x_q,))
                        for x_s, y_s, x_q in zip(episode.support_x, episode.support_y,
                                                 episode.query_x)])


def maml_outer_loss(model: nn.Module, params: Params, episode: Episode, inner: InnerLoop,
                    engine: Engine | None = None) -> Tensor:
    """(1/T) Σ_i L_query_i(θ'_i), θ'_i = θ after k steps of θ ← θ − α∇L_support_i(θ).

    Differentiable with respect to θ (and a Meta-SGD α) through the inner steps; with
    ``inner.first_order`` the inner gradients are constants, so ∇θ = (1/T) Σ_i ∇L_query_i(θ'_i).
    """
    predictions = (adapted_predictions(model, params, episode, inner) if engine is None
                   else engine.predictions(model, params, episode, inner))    # [T, N*Q, out]
    return per_task_losses(predictions, episode.query_y, inner.loss).mean()


def meta_gradient(outer_loss: Tensor, params: Params) -> Params:
    """∇θ of an outer loss, as a dict shaped like θ."""
    grads = torch.autograd.grad(outer_loss, list(params.values()))
    return dict(zip(params, grads))


@dataclass(frozen=True)
class MAMLConfig(MetaConfig):
    """Finn et al.'s 5-way Omniglot setting: α = 0.4, one inner step (three at test), 32 tasks
    per outer step, Adam with β = 1e-3."""

    algorithm: str = "maml"
    first_order: ClassVar[bool] = False


@dataclass(frozen=True)
class FOMAMLConfig(MAMLConfig):
    """First-order MAML: the same setting with constant inner gradients."""

    algorithm: str = "fomaml"
    first_order: ClassVar[bool] = True


class GradientOuterStep:
    """θ ← θ − β ∇θ (1/T) Σ_i L_query_i(θ'_i) with Adam (and α too, for Meta-SGD).

    ``learner`` holds the model, θ, α and config; ``engine`` computes the per-task terms; ``shard``
    (``meta.distributed``) splits the T tasks over processes and sums their gradients.
    """

    def __init__(self, learner, engine: Engine, shard=None) -> None:
        cfg = learner.config
        self.learner, self.engine, self.shard = learner, engine, shard
        groups = [{"params": list(learner.params.values())}]
        if learner.alphas is not None:
            groups.append({"params": list(learner.alphas.values()),
                           "lr": cfg.alpha_lr or cfg.meta_lr})
        self.optimizer = torch.optim.Adam(groups, lr=cfg.meta_lr)

    def __call__(self, episode: Episode, it: int, done: float) -> tuple[float, float]:
        """One outer step on ``episode``; returns (outer loss, mean query accuracy) before it.
        A non-finite loss or meta-gradient (a finite but exploded loss can have infinite
        gradients) is returned without stepping, so θ keeps its last finite value."""
        learner, n_tasks = self.learner, episode.n_tasks
        local = self.shard.local(episode) if self.shard is not None else episode
        self.optimizer.zero_grad(set_to_none=True)
        loss, acc = self.engine.outer_backward(learner.model, learner.params, local,
                                               learner.inner(), 1.0 / n_tasks)
        trainable = learner.trainable
        if self.shard is not None:
            loss, acc = self.shard.reduce(loss, acc, trainable)
        loss_value = loss.item()
        grads = [p.grad for p in trainable.values() if p.grad is not None]
        if torch.stack([torch.isfinite(loss), *(torch.isfinite(g).all() for g in grads)]).all():
            self.optimizer.step()
        return loss_value, acc.mean().item()

    def state_dict(self) -> dict:
        """Adam's moments and step counts: what a resumed run needs besides θ and α."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state)


def first_order_of(inner: InnerLoop) -> InnerLoop:
    """The same inner loop with constant inner gradients (evaluation needs no second order)."""
    return replace(inner, first_order=True)
