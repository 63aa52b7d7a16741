"""The one training loop: sample → step → log → validate → checkpoint.

Every trainer of the library (meta-learning on images or sinusoids, few-shot GANs, restorers)
states only what one step does; this loop runs the steps, logs what they report, validates every
``val_every`` steps, and writes a checkpoint only when the loss *and the weights* are finite, so
"the last good checkpoint" always is one. A loss or weight that turns NaN, infinite or absurdly
large stops the run with ``checks.TrainingDiverged`` saying which step, what is kept and what to
try. A wall-time budget (``max_seconds``) stops it after a final validation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from torch import Tensor

from .checks import TrainingDiverged, bad_tensors, finite_loss
from .io import atomic_save


@dataclass
class StepResult:
    """What one step reports: its loss (None when this step did not measure one) and metrics."""

    loss: float | None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class LoopSpec:
    """How to run the loop. ``params`` returns the weights to check before each checkpoint;
    ``state(it)`` the checkpoint dict; ``validate()`` one number (higher is better)."""

    iterations: int
    params: Callable[[], Mapping[str, Tensor]]
    state: Callable[[int], dict] | None = None
    validate: Callable[[], float] | None = None
    val_every: int = 100
    checkpoint: Path | None = None
    max_seconds: float | None = None
    desc: str = "train"
    fix: str = "try a smaller learning rate"
    loss_limit: float = 1e8       # |loss| above this counts as diverged (cross-entropy ~ 1)
    weight_limit: float = 1e6     # |weight| above this counts as diverged
    progress: bool = True
    is_writer: bool = True        # False on distributed ranks other than 0: they never write
    callback: Callable[[int, StepResult], None] | None = None
    start: int = 1                # the first iteration: > 1 when a run resumes from a checkpoint


def resume_start(state: dict, iterations: int) -> int:
    """The first iteration of a run resumed from checkpoint ``state`` (which must hold the
    ``resume`` entry its training loop writes) that stops at ``iterations``."""
    if "resume" not in state:
        raise ValueError(f"this checkpoint (iteration {state.get('iteration')}) holds no "
                         "optimiser state (written before resuming existed, or packaged as a "
                         "shipped model); it cannot be resumed: start a new run (MAML and its kin: "
                         "--init-from starts one from its weights)")
    if state["iteration"] >= iterations:
        raise ValueError(f"the checkpoint is at iteration {state['iteration']}, and this run "
                         f"stops at --iterations {iterations}; pass a larger --iterations "
                         "to train more")
    return state["iteration"] + 1


def _kept(last_good: int | None, checkpoint: Path | None) -> str:
    if last_good is None or checkpoint is None:
        return "no checkpoint was written"
    return f"the last good checkpoint (iteration {last_good}) is kept at {checkpoint}"


def run_loop(step: Callable[[int], StepResult], spec: LoopSpec) -> dict:
    """Call ``step(it)`` for it = start … iterations (or until ``max_seconds``); returns the
    history: ``loss`` and ``step`` (the iterations whose loss was measured), each metric, ``val`` as
    (iteration, value) pairs, ``iterations`` run and ``seconds``."""
    from tqdm.auto import tqdm

    history: dict = {"loss": [], "step": [], "val": [], "iterations": spec.start - 1}
    last_good: int | None = None
    start = time.perf_counter()
    past = lambda: spec.max_seconds is not None and time.perf_counter() - start >= spec.max_seconds  # noqa: E731
    bar = tqdm(range(spec.start, spec.iterations + 1), desc=spec.desc, disable=not spec.progress,
               initial=spec.start - 1, total=spec.iterations)
    for it in bar:
        try:
            result = step(it)
        except TrainingDiverged as exc:
            raise TrainingDiverged(f"{spec.desc}, iteration {it}: {exc}; "
                                   f"{_kept(last_good, spec.checkpoint)}") from None
        if result.loss is not None:
            finite_loss(f"{spec.desc}, iteration {it}", result.loss,
                        f"{_kept(last_good, spec.checkpoint)}. {spec.fix}", spec.loss_limit)
            history["loss"].append(result.loss)
            history["step"].append(it)
        for name, value in result.metrics.items():
            history.setdefault(name, []).append(value)
        history["iterations"] = it
        if spec.callback is not None:
            spec.callback(it, result)
        if it % 10 == 0 and history["loss"]:
            bar.set_postfix(loss=f"{history['loss'][-1]:.3f}")
        out_of_time = past()
        if it % spec.val_every == 0 or it == spec.iterations or out_of_time:
            _check_weights(spec, it, last_good)
            if spec.validate is not None:
                value = spec.validate()
                history["val"].append((it, value))
                bar.set_postfix(val=f"{value:.3f}")
            if spec.checkpoint is not None and spec.state is not None and spec.is_writer:
                atomic_save(spec.state(it), spec.checkpoint)
                last_good = it
        if out_of_time or past():
            break
    _check_weights(spec, history["iterations"], last_good)
    history["seconds"] = time.perf_counter() - start
    return history


def _check_weights(spec: LoopSpec, it: int, last_good: int | None) -> None:
    bad = bad_tensors(spec.params(), spec.weight_limit)
    if bad:
        more = " …" if len(bad) > 3 else ""
        raise TrainingDiverged(
            f"{spec.desc}, iteration {it}: weights {bad[:3]}{more} are NaN, "
            f"infinite or larger than {spec.weight_limit:g}; {_kept(last_good, spec.checkpoint)}. "
            f"{spec.fix}")
