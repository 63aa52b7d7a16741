"""All tasks of a meta-batch in one batched pass, with exact per-task BatchNorm.

Each task t has its own copy θ_t of the parameters (``stack_params``: θ expanded to [T, …]), and
the batched network computes f_{θ_t}(x_t) for every t at once:

* Conv-4: tasks are folded into channels, x [T, B, C, H, W] → [B, T·C, H, W], and every conv is a
  grouped convolution with ``groups=T``. Batch norm over [B, T·C, H, W] then normalises each
  (task, channel) over that task's own batch and pixels: exactly the per-task batch statistics,
  with no ``vmap`` involved. (``torch.func.vmap`` over PyTorch's built-in batch norm gives
  second-order meta-gradients ~1e-3 off, pytorch/functorch#534; ``tests/meta/test_batched_meta.py``
  shows it and pins this path to the per-task loop at 1e-10 in float64.)
* MLP: batched matrix products (``torch.baddbmm``).

Because task t's loss depends only on θ_t, ∇ of Σ_t L_t with respect to the stacked θ_T is the
stack of the per-task gradients, so the one inner loop (``functional.inner_loop``) runs on the
sum of the task losses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...models import MLP, Conv4
from ...types import Episode, Params
from ..functional import GradsFn, InnerLoop, autograd_grads, inner_loop, per_task_losses


def stack_params(params: Params, n_tasks: int) -> Params:
    """θ → θ_T: every tensor expanded to [T, *shape] (a view; gradients flow back to θ)."""
    return {n: p.unsqueeze(0).expand(n_tasks, *p.shape) for n, p in params.items()}


def unstack_params(params_t: Params) -> list[Params]:
    """θ_T [T, …] → a list of T per-task dicts (views)."""
    n_tasks = next(iter(params_t.values())).shape[0]
    return [{n: p[t] for n, p in params_t.items()} for t in range(n_tasks)]


def supports_batched(model: nn.Module) -> bool:
    """Conv-4 whose batch norms use batch statistics only, or the MLP."""
    if isinstance(model, MLP):
        return True
    if isinstance(model, Conv4):
        return all(not m.track_running_stats for m in model.modules()
                   if isinstance(m, nn.BatchNorm2d))
    return False


def _conv4_batched(model: Conv4, params_t: Params, x: Tensor) -> Tensor:
    n_tasks, batch = x.shape[:2]
    h = x.transpose(0, 1).reshape(batch, -1, *x.shape[-2:])          # [B, T·C, H, W]
    for i, (conv, bn, act, pool) in enumerate(model.encoder):
        w = params_t[f"encoder.{i}.0.weight"]                          # [T, C_out, C_in, 3, 3]
        b = params_t[f"encoder.{i}.0.bias"]                            # [T, C_out]
        h = F.conv2d(h, w.reshape(-1, *w.shape[2:]), b.reshape(-1), stride=conv.stride,
                     padding=conv.padding, groups=n_tasks)             # [B, T·C_out, H, W]
        h = F.batch_norm(h, None, None, params_t[f"encoder.{i}.1.weight"].reshape(-1),
                         params_t[f"encoder.{i}.1.bias"].reshape(-1), training=True,
                         eps=bn.eps)                                   # stats per (task, channel)
        h = pool(act(h))
    z = h.reshape(batch, n_tasks, -1).transpose(0, 1)                 # [T, B, hidden·h·w]
    if model.head is None:
        return z
    w, b = params_t["head.weight"], params_t["head.bias"]             # [T, N, D], [T, N]
    return torch.baddbmm(b.unsqueeze(1), z, w.transpose(1, 2))        # [T, B, N]


def _mlp_batched(model: MLP, params_t: Params, x: Tensor) -> Tensor:
    h = x                                                              # [T, B, in]
    for i, layer in enumerate(model.net):
        if isinstance(layer, nn.Linear):
            w, b = params_t[f"net.{i}.weight"], params_t[f"net.{i}.bias"]
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))   # [T, B, out_i]
        else:
            h = layer(h)
    return h


def batched_forward(model: nn.Module, params_t: Params, x: Tensor) -> Tensor:
    """f_{θ_t}(x_t) for every task at once: x [T, B, …] → [T, B, out]."""
    if not supports_batched(model):
        raise ValueError(f"no batched forward for {type(model).__name__} (Conv4 without running "
                         "stats, or MLP); use path='loop'")
    if isinstance(model, MLP):
        return _mlp_batched(model, params_t, x)
    return _conv4_batched(model, params_t, x)


def batched_adapt(model: nn.Module, params: Params, x: Tensor, y: Tensor, inner: InnerLoop,
                  grads_fn: GradsFn = autograd_grads) -> Params:
    """θ'_t for every task t at once: x [T, B, …], y [T, B, …] → θ'_T (tensors [T, *shape]).

    Adam's update is elementwise, so ``inner.optimizer="adam"`` on θ_T is Adam per task.
    """
    params_t = stack_params(params, x.shape[0])
    return inner_loop(
        lambda p: per_task_losses(batched_forward(model, p, x), y, inner.loss).sum(),
        params_t, inner, grads_fn)


class BatchedEngine:
    name = "batched"

    def predictions(self, model: nn.Module, params: Params, episode: Episode,
                    inner: InnerLoop) -> Tensor:
        params_t = batched_adapt(model, params, episode.support_x, episode.support_y, inner)
        return batched_forward(model, params_t, episode.query_x)           # [T, N*Q, out]

    def adapt(self, model: nn.Module, params: Params, support_x: Tensor, support_y: Tensor,
              inner: InnerLoop) -> list[Params]:
        return unstack_params(batched_adapt(model, params, support_x, support_y, inner))

    def outer_backward(self, model: nn.Module, params: Params, episode: Episode,
                       inner: InnerLoop, scale: float) -> tuple[Tensor, Tensor]:
        return backward_of_predictions(self.predictions(model, params, episode, inner),
                                       episode, inner, scale)


def backward_of_predictions(predictions: Tensor, episode: Episode, inner: InnerLoop,
                            scale: float) -> tuple[Tensor, Tensor]:
    """Back-propagate scale · Σ_i L_query_i from [T, N*Q, out] predictions; (loss, accuracies)."""
    loss = scale * per_task_losses(predictions, episode.query_y, inner.loss).sum()
    loss.backward()
    return loss.detach(), (predictions.argmax(-1) == episode.query_y).float().mean(-1).detach()
