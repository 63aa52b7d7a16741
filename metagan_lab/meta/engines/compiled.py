"""The batched meta-objective under ``torch.compile`` (``path="compiled"``).

Same equation, same numbers as ``path="batched"``: f_{θ'_t}(query_t) for every task t, with
θ'_t = θ after k steps of θ ← θ − α ∇θ L_support_t(θ). Two things differ:

* The inner gradient is taken with ``torch.func.grad`` (``traceable_grads``).
  ``torch.compile`` cannot capture ``torch.autograd.grad(create_graph=True)`` and refuses to
  differentiate a compiled graph twice; with ``torch.func.grad`` the inner backward becomes
  ordinary operations of one forward graph, and the meta-gradient is a plain first-order backward
  of that graph, so second-order MAML compiles end to end.
* On CUDA the default mode is ``"reduce-overhead"`` (CUDA graphs: one replay instead of hundreds
  of kernel launches per meta-iteration); on CPU ``"default"``.

The first call compiles (tens of seconds to minutes); later calls with the same shapes reuse it.
``METAGAN_LAB_COMPILE_BACKEND`` picks another torch.compile backend than inductor (``aot_eager``:
the same graph capture without code generation, quick on CPUs, for tests and debugging).
``tests/meta/test_compiled_meta.py`` pins the compiled meta-gradient to the plain per-task loop
at 1e-10 in float64.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ...types import Episode, Params
from ..functional import InnerLoop
from .batched import BatchedEngine, batched_adapt, batched_forward

BACKEND_VAR = "METAGAN_LAB_COMPILE_BACKEND"
COMPILE_MODES = {"cuda": "reduce-overhead", "cpu": "default"}


def compile_mode(device: torch.device | str) -> str:
    """torch.compile's mode for a device: CUDA graphs on GPUs, inductor's default elsewhere."""
    return COMPILE_MODES.get(torch.device(device).type, "default")


def traceable_grads(support_loss: Callable[[Params], Tensor], params: Params, names: list[str],
                    first_order: bool) -> Params:
    """∇θ L_support(θ) by ``torch.func.grad``: the same numbers as ``autograd.grad``, written as
    forward operations that ``torch.compile`` can capture; detached for first-order MAML."""
    rest = {n: p for n, p in params.items() if n not in names}
    theta = {n: params[n] for n in names}
    grads = torch.func.grad(lambda t: support_loss({**rest, **t}))(theta)
    return {n: g.detach() for n, g in grads.items()} if first_order else grads


def _with_lr(inner: InnerLoop, inner_lr: float | Params) -> InnerLoop:
    """``inner`` with α = ``inner_lr``, built without ``InnerLoop``'s checks: inside the compiled
    graph a float α that changed between calls is symbolic, and ``math.isfinite`` on it breaks
    the graph (``fullgraph=True`` then fails). α was checked when the caller's ``InnerLoop`` was
    made."""
    new = object.__new__(InnerLoop)
    for name in ("steps", "first_order", "optimizer", "adapted", "loss"):
        object.__setattr__(new, name, getattr(inner, name))
    object.__setattr__(new, "lr", inner_lr)
    return new


def _predictions(model: nn.Module, inner: InnerLoop, params: Params, support_x: Tensor,
                 support_y: Tensor, query_x: Tensor, inner_lr: float | Params) -> Tensor:
    inner = _with_lr(inner, inner_lr)
    params_t = batched_adapt(model, params, support_x, support_y, inner, traceable_grads)   # θ'_T
    return batched_forward(model, params_t, query_x)                          # [T, N*Q, out]


@functools.lru_cache(maxsize=16)
def _compiled(model: nn.Module, inner: InnerLoop, mode: str, backend: str | Callable):
    fn = functools.partial(_predictions, model, inner)
    if backend == "inductor":
        return torch.compile(fn, mode=mode, fullgraph=True)
    return torch.compile(fn, backend=backend, fullgraph=True)


def compiled_predictions(model: nn.Module, params: Params, episode: Episode, inner: InnerLoop,
                         mode: str | None = None,
                         backend: str | Callable | None = None) -> Tensor:
    """f_{θ'_t}(query_x_t) for every task t, [T, N*Q, out], computed by a compiled graph.

    One compiled function is kept per (model, inner loop without α, mode, backend);
    ``backend="aot_eager"`` traces the same graph without generating code (quick, for tests).
    ``fullgraph=True``: the inner and outer passes form one graph, or compiling fails loudly.
    """
    mode = compile_mode(episode.support_x.device) if mode is None else mode
    backend = os.environ.get(BACKEND_VAR, "inductor") if backend is None else backend
    if mode == "reduce-overhead" and episode.support_x.is_cuda:
        torch.compiler.cudagraph_mark_step_begin()   # a new meta-iteration: earlier outputs go
    key = InnerLoop(1.0, inner.steps, inner.first_order, inner.optimizer, inner.adapted,
                    inner.loss)                      # α is an input of the graph, not a constant
    fn = _compiled(model, key, mode, backend)
    return fn(params, episode.support_x, episode.support_y, episode.query_x, inner.lr)


class CompiledEngine(BatchedEngine):
    """The batched engine with its predictions under ``torch.compile`` (``outer_backward`` uses
    them); Reptile (nothing to differentiate through) adapts on the eager batched path."""

    name = "compiled"

    def predictions(self, model: nn.Module, params: Params, episode: Episode,
                    inner: InnerLoop) -> Tensor:
        return compiled_predictions(model, params, episode, inner)
