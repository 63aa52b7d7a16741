"""Engines: how the per-task computations of a meta-batch are run. Same numbers, other speed.

An engine answers three questions for a meta-batch (an ``Episode`` of T tasks) and an
``InnerLoop``; the algorithms (``maml.py``, ``reptile.py``, ``meta_sgd.py``) take one as an
argument and never import one:

* ``predictions(model, θ, episode, inner)``: f_{θ'_i}(query_i) for every task, [T, N*Q, out],
  differentiable back to θ (and a Meta-SGD α) through the inner steps;
* ``adapt(model, θ, support_x, support_y, inner)``: the adapted θ'_i of every task (Reptile);
* ``outer_backward(model, θ, episode, inner, scale)``: accumulate ∇ of scale · Σ_i L_query_i(θ'_i)
  into ``.grad`` and return the (detached) loss and per-task query accuracies.

``loop``      one task at a time, any model; back-propagates each task's share at once, so only
              one task's graph is alive (``loop.py``)
``batched``   all tasks in one pass: grouped convolutions, per-task batch norm (``batched.py``)
``compiled``  the batched pass under ``torch.compile`` (``compiled.py``)
``fused``     the per-task loop with Conv-4's BatchNorm/ReLU/max-pool fused by hand and its first
              layer folded into one GEMM (``fused.py``); ReLU/max-pool Conv-4 with batch
              statistics only; nothing compiled. On one CPU core (5-way 1-shot, meta-batch 32)
              ~1.4-1.6× faster than ``loop`` and ``higher`` (``scripts/bench_vs_higher.py``)
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor, nn

from ...types import Episode, Params
from ..config import PATHS
from ..functional import InnerLoop


class Engine(Protocol):
    name: str

    def predictions(self, model: nn.Module, params: Params, episode: Episode,
                    inner: InnerLoop) -> Tensor: ...

    def adapt(self, model: nn.Module, params: Params, support_x: Tensor, support_y: Tensor,
              inner: InnerLoop) -> list[Params]: ...

    def outer_backward(self, model: nn.Module, params: Params, episode: Episode,
                       inner: InnerLoop, scale: float) -> tuple[Tensor, Tensor]: ...


def choose_path(model: nn.Module, device: torch.device | str, path: str = "auto") -> str:
    """'batched', 'compiled', 'fused' or 'loop'. 'auto': batched on GPUs when the model supports
    it; on CPUs 'fused' (the per-task loop with Conv-4's BatchNorm/ReLU/max-pool fused by hand,
    nothing compiled: 1.55× faster than ``higher`` and 1.47× than the plain loop on one core,
    scripts/bench_vs_higher.py) for Conv-4, else the loop. 'compiled' is opted into (its first
    call spends time compiling).

    On a 2-core CPU (Conv-4, 5-way 1-shot, meta-batch 32) the per-task loops measured faster than
    the grouped-convolution path; on GPUs one batched launch replaces T small ones.
    """
    from .batched import supports_batched

    if path not in PATHS:
        raise ValueError(f"path={path!r}; choose from {PATHS}")
    if path in ("batched", "compiled") and not supports_batched(model):
        raise ValueError(f"path={path!r} does not support {type(model).__name__} "
                         "(Conv4 needs track_running_stats=False); use path='loop'")
    if path == "fused":
        from .fused import supports_fused

        if not supports_fused(model):
            raise ValueError(f"path='fused' does not support this {type(model).__name__} (Conv4 "
                             "with ReLU, 2×2 max-pools and track_running_stats=False only); "
                             "use path='loop'")
    if path != "auto":
        return path
    from .fused import supports_fused

    if torch.device(device).type == "cuda":
        return "batched" if supports_batched(model) else "loop"
    return "fused" if supports_fused(model) else "loop"


def get_engine(path: str, model: nn.Module, device: torch.device | str) -> Engine:
    """The engine for ``path`` ('auto' resolved by ``choose_path``)."""
    from .batched import BatchedEngine
    from .compiled import CompiledEngine
    from .fused import FusedEngine
    from .loop import LoopEngine

    name = choose_path(model, device, path)
    return {"loop": LoopEngine, "batched": BatchedEngine, "compiled": CompiledEngine,
            "fused": FusedEngine}[name]()


__all__ = ["PATHS", "Engine", "choose_path", "get_engine"]
