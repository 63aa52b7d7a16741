"""Test-time adaptation, step by step: what α and k do to a meta-learned model on new tasks.

paper symbol                         code name
θ (meta-learned init)                params
θ^(j) = θ^(j−1) − α ∇θ L_support     the j-th inner step (``functional.inner_loop``, one step)
L_query(θ^(j)), acc_query(θ^(j))     trace.loss[j], trace.accuracy[j], j = 0 … k

``adaptation_trace`` records the query loss and accuracy after every inner step, so a slider on k
only reads a prefix; ``extend_trace`` continues a trace from its last θ^(k) instead of starting
over (the adaptation lab in ``widgets/adaptation.py`` caches traces this way).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from ..types import Episode, Params
from .functional import InnerLoop, inner_loop, task_loss


@dataclass
class AdaptationTrace:
    """Query loss / accuracy per task after each inner step, and each task's latest θ^(k)."""

    loss: Tensor            # [T, k+1] L_query(θ^(j)) of each task, j = 0 … k
    accuracy: Tensor        # [T, k+1]
    support_loss: Tensor    # [T, k+1] L_support(θ^(j))
    predictions: Tensor     # [T, k+1, N*Q] predicted query labels after j steps
    params: list[Params] = field(repr=False)   # θ^(k) of each task (continue from here)

    @property
    def steps(self) -> int:
        return self.loss.shape[1] - 1


@torch.no_grad()
def _query_stats(model: nn.Module, params: Params, x_s: Tensor, y_s: Tensor, x_q: Tensor,
                 y_q: Tensor) -> tuple[float, float, float, Tensor]:
    logits = functional_call(model, params, (x_q,))                            # [N*Q, N]
    support = task_loss(model, params, x_s, y_s).item()
    return (F.cross_entropy(logits, y_q).item(), (logits.argmax(-1) == y_q).float().mean().item(),
            support, logits.argmax(-1))


def adaptation_trace(model: nn.Module, params: Params, episode: Episode,
                     inner_lr: float | Params, steps: int,
                     adapted: Collection[str] | None = None) -> AdaptationTrace:
    """Adapt every task of ``episode`` for ``steps`` plain-SGD steps (first order: nothing is
    meta-learned here), recording query loss/accuracy at θ^(0) = θ and after each step."""
    theta = {n: p.detach() for n, p in params.items()}
    start = AdaptationTrace(*(torch.empty(episode.n_tasks, 0) for _ in range(3)),
                            torch.empty(episode.n_tasks, 0, episode.query_y.shape[1],
                                        dtype=torch.long),
                            [theta] * episode.n_tasks)
    return extend_trace(model, start, episode, inner_lr, steps, adapted, record_start=True)


def extend_trace(model: nn.Module, trace: AdaptationTrace, episode: Episode,
                 inner_lr: float | Params, more_steps: int,
                 adapted: Collection[str] | None = None,
                 record_start: bool = False) -> AdaptationTrace:
    """``more_steps`` further inner steps from each task's θ^(k): a trace k + more_steps long."""
    if more_steps < 0:
        raise ValueError(f"more_steps must be >= 0, got {more_steps}")
    inner = InnerLoop(inner_lr, 1, first_order=True, adapted=adapted)
    rows, new_params = [], []
    for i, (x_s, y_s, x_q, y_q) in enumerate(zip(*episode)):
        theta = {n: p.detach().requires_grad_() for n, p in trace.params[i].items()}
        row = [_query_stats(model, theta, x_s, y_s, x_q, y_q)] if record_start else []
        for _ in range(more_steps):
            theta = inner_loop(lambda p, x=x_s, y=y_s: task_loss(model, p, x, y), theta, inner)
            theta = {n: p.detach().requires_grad_() for n, p in theta.items()}
            row.append(_query_stats(model, theta, x_s, y_s, x_q, y_q))
        rows.append(row)
        new_params.append(theta)
    if not rows[0]:
        return AdaptationTrace(trace.loss, trace.accuracy, trace.support_loss, trace.predictions,
                               new_params)
    cat = lambda old, j: torch.cat([old, torch.tensor([[r[j] for r in row]  # noqa: E731
                                                        for row in rows])], dim=1)
    preds = torch.stack([torch.stack([r[3] for r in row]) for row in rows])   # [T, steps, N*Q]
    return AdaptationTrace(cat(trace.loss, 0), cat(trace.accuracy, 1),
                           cat(trace.support_loss, 2), torch.cat([trace.predictions, preds], 1),
                           new_params)


def scale_inner_lr(inner_lr: float | Params, scale: float) -> float | Params:
    """α·s for a scalar α; each learned α tensor times s for Meta-SGD."""
    if isinstance(inner_lr, dict):
        return {n: a.detach() * scale for n, a in inner_lr.items()}
    return inner_lr * scale


def alpha_sweep(model: nn.Module, params: Params, episode: Episode,
                inner_lrs: list[float | Params], steps: int,
                adapted: Collection[str] | None = None) -> list[dict[str, float]]:
    """Mean query accuracy and loss after ``steps`` steps for each α: the too-large-α table."""
    rows = []
    for alpha in inner_lrs:
        t = adaptation_trace(model, params, episode, alpha, steps, adapted)
        rows.append({"accuracy": t.accuracy[:, -1].mean().item(),
                     "loss": t.loss[:, -1].mean().item()})
    return rows
