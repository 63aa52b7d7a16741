"""Proto-MAML (Triantafillou et al., "Meta-Dataset", ICLR 2020), first order.

paper symbol                                  code name
f_θ (Conv-4 embedding)                         the model
c_k = mean_{i: y_i = k} f_θ(x_i)               protonet.prototypes
W_k = 2 c_k,  b_k = −‖c_k‖²                    prototype_head(c)
logits = W f_θ(x) + b                          linear_logits(z, W, b)
   = −‖f_θ(x) − c_k‖² + ‖f_θ(x)‖²  (ProtoNet's logits up to a per-query constant)
(θ, W, b)' : k first-order SGD steps on the    adapted_parameters(…)  (meta.functional.inner_loop)
   support cross-entropy, α = inner_lr
outer loss: query cross-entropy at (θ, W, b)'  cross-entropy of protomaml_logits

First order as in the paper's fo-Proto-MAML: the inner gradients are constants, so
(θ, W, b)' = (θ, W, b) − α Σ_j g_j with the g_j detached; the query loss then differentiates to θ
both directly and through the prototype initialisation W = 2c(θ), b = −‖c(θ)‖² (which the paper
keeps). All parameters adapt (embedding and head).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from ..meta.functional import InnerLoop, check_inner_lr, check_inner_steps, inner_loop
from ..models.conv4 import Conv4
from ..types import Episode, Params
from .episodic import EpisodicConfig
from .protonet import prototypes

HEAD = ("head.weight", "head.bias")


@dataclass(frozen=True)
class ProtoMAMLConfig(EpisodicConfig):
    """Meta-Dataset's fo-Proto-MAML: 6 first-order inner steps while training, 5 more at test
    (``additional_test_update_steps``); the inner α suits Conv-4 on 28×28 glyphs (the paper
    tuned it per backbone)."""

    inner_lr: float = 0.1      # α of the inner SGD steps
    inner_steps: int = 6       # k while training
    eval_inner_steps: int = 11  # k at validation and test (6 + 5)

    STEPS_FIELD: ClassVar[str | None] = "eval_inner_steps"
    HELP: ClassVar[dict[str, str]] = {
        "inner_lr": "α of the first-order inner SGD steps",
        "inner_steps": "k inner steps while training",
        "eval_inner_steps": "k inner steps at validation and test"}

    def __post_init__(self) -> None:
        super().__post_init__()
        check_inner_lr(self.inner_lr)
        check_inner_steps(self.inner_steps)
        check_inner_steps(self.eval_inner_steps)


def build(cfg: ProtoMAMLConfig) -> Conv4:
    """Conv-4 with batch statistics at training and test time, as MAML's (``meta.train``)."""
    return Conv4(hidden=cfg.hidden, track_running_stats=False)


def prototype_head(c: Tensor) -> tuple[Tensor, Tensor]:
    """W_k = 2 c_k and b_k = −‖c_k‖²: c [..., N, D] → W [..., N, D], b [..., N]."""
    return 2 * c, -c.pow(2).sum(dim=-1)


def linear_logits(z: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """z Wᵀ + b: z [..., Q, D], W [..., N, D], b [..., N] → [..., Q, N]."""
    return z @ weight.transpose(-1, -2) + bias.unsqueeze(-2)


def head_loss(model: nn.Module, params: Params, x: Tensor, y: Tensor) -> Tensor:
    """The cross-entropy of the linear head on f_θ(x) for explicit (θ, W, b) ``params``."""
    body = {n: p for n, p in params.items() if n not in HEAD}
    z = functional_call(model, body, (x,))                              # [B, D]
    return F.cross_entropy(linear_logits(z, params["head.weight"], params["head.bias"]), y)


def adapted_parameters(model: nn.Module, start: Params, x: Tensor, y: Tensor,
                       inner: InnerLoop) -> Params:
    """(θ, W, b)' = start − α Σ_j g_j after ``inner.steps`` first-order SGD steps on the support
    loss; the steps are constants, so the result differentiates to ``start`` with identity."""
    leaves = {n: p.detach().requires_grad_() for n, p in start.items()}
    with torch.enable_grad():
        moved = inner_loop(lambda p: head_loss(model, p, x, y), leaves, inner)
    return {n: start[n] + (moved[n] - leaves[n]).detach() for n in start}


def protomaml_task_logits(model: nn.Module, support_x: Tensor, support_y: Tensor,
                          query_x: Tensor, n_way: int, inner: InnerLoop) -> Tensor:
    """One task: the head from the support prototypes, k inner steps, query logits [N*Q, N]."""
    c = prototypes(model(support_x), support_y, n_way)                  # [N, D]
    weight, bias = prototype_head(c)
    start = {**dict(model.named_parameters()), "head.weight": weight, "head.bias": bias}
    params = adapted_parameters(model, start, support_x, support_y, inner)
    body = {n: p for n, p in params.items() if n not in HEAD}
    z = functional_call(model, body, (query_x,))                        # [N*Q, D]
    return linear_logits(z, params["head.weight"], params["head.bias"])


def protomaml_logits(model: nn.Module, episode: Episode, cfg: ProtoMAMLConfig) -> Tensor:
    """Query logits [T, N*Q, N] after k inner steps per task (``inner_steps`` while the model
    trains, ``eval_inner_steps`` in eval mode)."""
    steps = cfg.inner_steps if model.training else cfg.eval_inner_steps
    inner = InnerLoop(lr=cfg.inner_lr, steps=steps, first_order=True)
    return torch.stack([protomaml_task_logits(model, sx, sy, qx, cfg.n_way, inner)
                        for sx, sy, qx, _ in zip(*episode)])
