"""What adapts at test time: all weights, one gain per channel (GainTuning), or the head only.

paper symbol                                    code name
θ (the restorer's weights)                      theta
W_c (filters of output channel c of a conv)     theta["body.i.weight"][c]
γ_c (one gain per conv output channel, init 1)  gain_params(theta)["body.i.weight"][c]
W_c ← γ_c · W_c                                 apply_gains(theta, gains)
∂L/∂γ_c = Σ W_c ⊙ ∂L/∂W_c  (chain rule)         what autograd computes through apply_gains
the head (the last convolution)                 head_names(theta)

* ``all``:   every weight takes the k steps (MAML's adaptation, the default).
* ``gains``: only the gains γ adapt, θ stays frozen — few parameters (one per channel), so
  a few steps cannot over-fit K pairs (GainTuning; Mohan et al., NeurIPS 2021). Biases keep
  their values: the gain scales the filters only.
* ``head``:  only the last convolution adapts (ANIL's choice for a restorer: the body is a
  shared feature extractor, the head maps features to the residual).

The self-supervised (MZSR) route changes the *pairs* the steps fit, not the parameters; it
combines with any mode (``evaluate.adaptation_curve(..., self_supervised=True)``).
The core's ``InnerLoop.adapted`` already adapts a subset of θ (used for ``head``); gains are
new parameters, so a ``GainTask`` wraps a restorer task and exposes γ as its parameters.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

from ..checks import choice
from ..meta.functional import InnerLoop
from ..meta.task import Task, adapt_task
from ..types import Params

MODES = ("all", "gains", "head")


def conv_weight_names(theta: Params) -> list[str]:
    """Names of the convolution filters in θ (the 4-D tensors [C_out, C_in, k, k]), in order."""
    return [n for n, p in theta.items() if p.dim() == 4]


def head_names(theta: Params) -> tuple[str, ...]:
    """The last convolution's weight and bias (the restorer's head)."""
    last = conv_weight_names(theta)[-1]
    prefix = last.rsplit(".", 1)[0]
    return tuple(n for n in theta if n.rsplit(".", 1)[0] == prefix)


def gain_params(theta: Params) -> Params:
    """γ = 1 for every output channel of every convolution: {weight name: ones [C_out]}."""
    return {n: torch.ones(theta[n].shape[0], dtype=theta[n].dtype, device=theta[n].device,
                          requires_grad=True)
            for n in conv_weight_names(theta)}


def apply_gains(theta: Params, gains: Params) -> Params:
    """W_c ← γ_c · W_c for each convolution named in ``gains``; other tensors unchanged."""
    scaled = {n: theta[n] * g[:, None, None, None] for n, g in gains.items()}  # [C_out, C_in, k, k]
    return {**theta, **scaled}


@dataclass(frozen=True)
class GainTask:
    """A task whose parameters are the gains γ of a frozen θ (a ``meta.task.Task``):
    L_support(γ) = task.support_loss(apply_gains(θ, γ)), and the same for the query loss."""

    task: Task
    theta: Params

    def support_loss(self, gains: Params) -> Tensor:
        return self.task.support_loss(apply_gains(self.theta, gains))

    def query_loss(self, gains: Params) -> Tensor:
        return self.task.query_loss(apply_gains(self.theta, gains))


def adapt_mode(task: Task, theta: Params, inner: InnerLoop, mode: str = "all") -> Params:
    """θ' after ``inner.steps`` steps in one adaptation mode; returns the full weights to call
    the restorer with (for ``gains``: apply_gains(θ, γ') with θ frozen)."""
    choice("mode (what adapts)", mode, MODES)
    if mode == "all":
        return adapt_task(task, theta, inner)
    if mode == "head":
        return adapt_task(task, theta, dataclasses.replace(inner, adapted=head_names(theta)))
    frozen = {n: p.detach() for n, p in theta.items()}
    gains = adapt_task(GainTask(task, frozen), gain_params(frozen), inner)
    return apply_gains(frozen, gains)


def n_adapted(theta: Params, mode: str) -> int:
    """How many numbers adapt in ``mode`` (all weights, one gain per channel, or the head)."""
    choice("mode (what adapts)", mode, MODES)
    if mode == "all":
        return sum(p.numel() for p in theta.values())
    if mode == "head":
        return sum(theta[n].numel() for n in head_names(theta))
    return sum(g.numel() for g in gain_params(theta).values())
