"""The per-task loop engine: one task at a time, any model.

``outer_backward`` back-propagates each task's share scale · L_query_i(θ'_i) as soon as it is
computed, so only one task's graph is alive at a time (the gradients add up in ``.grad``): the
same meta-gradient as differentiating the mean at the end, with the memory of one task.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ...types import Episode, Params
from ..functional import InnerLoop, adapt, per_task_losses
from ..maml import adapted_predictions


class LoopEngine:
    name = "loop"

    def predictions(self, model: nn.Module, params: Params, episode: Episode,
                    inner: InnerLoop) -> Tensor:
        return adapted_predictions(model, params, episode, inner)       # [T, N*Q, out]

    def adapt(self, model: nn.Module, params: Params, support_x: Tensor, support_y: Tensor,
              inner: InnerLoop) -> list[Params]:
        return [adapt(model, params, x, y, inner) for x, y in zip(support_x, support_y)]

    def outer_backward(self, model: nn.Module, params: Params, episode: Episode,
                       inner: InnerLoop, scale: float) -> tuple[Tensor, Tensor]:
        losses, accs = [], []
        for x_s, y_s, x_q, y_q in zip(*episode):
            theta_i = adapt(model, params, x_s, y_s, inner)
            pred = functional_call(model, theta_i, (x_q,))                 # [N*Q, out]
            loss = per_task_losses(pred[None], y_q[None], inner.loss)[0]
            (scale * loss).backward()                                      # frees task i's graph
            losses.append(loss.detach())
            accs.append((pred.argmax(-1) == y_q).float().mean().detach())
        return scale * torch.stack(losses).sum(), torch.stack(accs)
