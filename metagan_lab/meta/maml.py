"""MAML and first-order MAML (Finn, Abbeel & Levine 2017, Eq. 1 and Alg. 2).

paper symbol                         code name
θ                                    params
α, k                                 inner_lr, inner_steps
θ'_i = θ − α ∇θ L_support_i(θ)       adapted parameters of task i (``functional.inner_loop``)
(1/T) Σ_i L_query_i(θ'_i)            maml_outer_loss(...)
∇θ of the above                      meta_gradient(...)
first order (FOMAML)                 first_order=True: the inner gradients are constants
ANIL (Raghu et al. 2020)             adapted=("head.weight", "head.bias"): only the head adapts

Three exact paths compute the same numbers: ``path="loop"`` adapts one task at a time (any model);
``path="batched"`` runs all tasks at once (``meta/batched.py``); ``path="compiled"`` is the batched
path under ``torch.compile`` (``meta/compiled.py``; CUDA graphs on GPUs). ``path="auto"`` takes the
batched path on GPUs and the loop on CPUs, where it measured faster (see ``choose_path``).

Explained in ``notebooks/02_maml_from_the_equations.ipynb``.
"""

from __future__ import annotations

from collections.abc import Collection

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from ..types import Episode, Params
from .batched import batched_adapt, batched_forward, per_task_losses, supports_batched
from .compiled import compiled_predictions
from .functional import LossFn, inner_loop, task_loss

PATHS = ("auto", "batched", "compiled", "loop")


def choose_path(model: nn.Module, device: torch.device | str, path: str = "auto") -> str:
    """'batched', 'compiled' or 'loop'. 'auto': batched on GPUs when the model supports it, else
    loop ('compiled' is opted into: its first call spends time compiling).

    On a 2-core CPU (Conv-4, 5-way 1-shot, meta-batch 32) the per-task loop measured faster than
    the grouped-convolution path; on GPUs one batched launch replaces T small ones.
    """
    if path not in PATHS:
        raise ValueError(f"path={path!r}; choose from {PATHS}")
    if path in ("batched", "compiled") and not supports_batched(model):
        raise ValueError(f"path={path!r} does not support {type(model).__name__} "
                         "(Conv4 needs track_running_stats=False); use path='loop'")
    if path != "auto":
        return path
    on_gpu = torch.device(device).type == "cuda"
    return "batched" if on_gpu and supports_batched(model) else "loop"


def adapted_predictions(model: nn.Module, params: Params, episode: Episode,
                        inner_lr: float | Params, inner_steps: int = 1,
                        first_order: bool = False, loss_fn: LossFn = F.cross_entropy,
                        adapted: Collection[str] | None = None, path: str = "auto",
                        inner_optimizer: str = "sgd") -> Tensor:
    """f_{θ'_i}(query_x_i) for every task i: [T, N*Q, out], with θ'_i adapted on support_i
    (by SGD steps, or Adam steps with ``inner_optimizer="adam"``)."""
    path = choose_path(model, episode.support_x.device, path)
    if path == "compiled":
        return compiled_predictions(model, params, episode, inner_lr, inner_steps, first_order,
                                    loss_fn, adapted, inner_optimizer=inner_optimizer)
    if path == "batched":
        params_t = batched_adapt(model, params, episode.support_x, episode.support_y, inner_lr,
                                 inner_steps, first_order, loss_fn, adapted,
                                 inner_optimizer=inner_optimizer)
        return batched_forward(model, params_t, episode.query_x)
    predictions = []
    for x_s, y_s, x_q in zip(episode.support_x, episode.support_y, episode.query_x):
        theta_i = inner_loop(lambda p, x_s=x_s, y_s=y_s: task_loss(model, p, x_s, y_s, loss_fn),
                             params, inner_lr, inner_steps, first_order, adapted,
                             inner_optimizer=inner_optimizer)
        predictions.append(functional_call(model, theta_i, (x_q,)))
    return torch.stack(predictions)


def maml_outer_loss(model: nn.Module, params: Params, episode: Episode,
                    inner_lr: float | Params, inner_steps: int = 1, first_order: bool = False,
                    loss_fn: LossFn = F.cross_entropy, adapted: Collection[str] | None = None,
                    path: str = "auto", inner_optimizer: str = "sgd") -> Tensor:
    """(1/T) Σ_i L_query_i(θ'_i), θ'_i = θ after k steps of θ ← θ − α∇L_support_i(θ).

    Differentiable with respect to θ (and a Meta-SGD α) through the inner steps; with
    ``first_order=True`` the inner gradients are constants, so ∇θ = (1/T) Σ_i ∇L_query_i(θ'_i).
    """
    predictions = adapted_predictions(model, params, episode, inner_lr, inner_steps, first_order,
                                      loss_fn, adapted, path, inner_optimizer)
    return per_task_losses(predictions, episode.query_y, loss_fn).mean()


def meta_gradient(outer_loss: Tensor, params: Params) -> Params:
    """∇θ of an outer loss, as a dict shaped like θ."""
    grads = torch.autograd.grad(outer_loss, list(params.values()))
    return dict(zip(params, grads))


def head_names(params: Params) -> tuple[str, ...]:
    """The parameters ANIL adapts: those of the classifier head."""
    names = tuple(n for n in params if n.startswith("head."))
    if not names:
        raise ValueError("ANIL adapts the head only, but the model has no 'head.*' parameters; "
                         "build Conv4 with n_classes set")
    return names
