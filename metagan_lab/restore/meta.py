"""Meta-learned restoration: an initialisation θ that adapts to a new degradation in a few steps.

A restoration task only says what its two losses are (``RestorerTask``, a ``meta.task.Task``);
the algorithms are the core's: ``meta.task.adapt_task`` (k inner steps), ``maml_task_loss``
(MAML / FOMAML outer loss) and ``meta.reptile.reptile_update`` (Reptile), and meta-training runs
on the library's one loop (``training.run_loop``).

paper symbol                                   code name
θ (restorer initialisation)                    theta
task i = one degradation setting s_i           RestorationTask (data.py: the pairs)
L_support_i(θ) = [L + λR](F_θ(y_s), x_s)       RestorerTask.support_loss (restorer_task(...))
L_query_i(θ) = [L + λR](F_θ(y_q), x_q)         RestorerTask.query_loss
θ'_i (k steps, α = inner_lr)                   adapt_task(task, θ, cfg.inner()); adapt_restorer(...)
(1/T) Σ_i L_query_i(θ'_i)                      maml_meta_loss(...)   (MAML; FOMAML: first order)
θ ← θ + ε (mean_i φ̃_i − θ)                     reptile_update, in meta_step(method="reptile")
self-supervised pairs (MZSR, Soh et al. 2020)  self_supervised_pairs(y, s): (A_s(y), y)

Supervised adaptation uses K degraded/clean pairs of the new degradation; the self-supervised
variant needs only the degraded images y: it degrades them *further* with the (estimated) setting,
A_s(y), and learns to undo that, y ≈ F_θ(A_s(y)), before restoring y itself.
Explained in ``notebooks/08_meta_restoration.ipynb``, §3.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ..checks import (
    choice,
    finite_loss,
    finite_params,
    non_negative_number,
    positive_int,
    positive_number,
    unit_interval,
)
from ..meta.functional import INNER_OPTIMIZERS, InnerLoop
from ..meta.reptile import EPSILON_HINT, reptile_update
from ..meta.task import adapt_task, maml_task_loss
from ..training import LoopSpec, StepResult, run_loop
from ..types import Params
from .data import RestorationTask, sample_task
from .degradations import Setting, TaskFamily, degrade
from .objectives import relative_scale, restoration_loss

METHODS = ("maml", "fomaml", "reptile")


@dataclass(frozen=True)
class RestoreMetaConfig:
    """Meta-training and adaptation settings (one place for every constant a learner may change)."""

    method: str = "fomaml"       # maml (second order) | fomaml | reptile
    inner_lr: float = 0.05       # α, SGD step of the inner loop and of test-time adaptation
    inner_steps: int = 3         # k during meta-training
    meta_lr: float = 1e-3        # β, Adam on θ (MAML / FOMAML)
    epsilon: float = 0.1         # ε, Reptile's outer step size, in (0, 1]
    meta_batch: int = 4          # tasks (degradation settings) per meta-step
    k_shot: int = 5              # K support pairs per task
    n_query: int = 5             # Q query pairs per task
    tv_weight: float = 1e-3      # λ in L(F) + λ R(F)
    self_supervised: bool = False  # inner loop on (A_s(y), y) pairs, as MZSR
    inner_optimizer: str = "sgd"   # sgd | adam (first order only: fomaml, reptile)
    adapt_optimizer: str | None = None  # test-time adaptation; None: the inner_optimizer
    adapt_lr: float | None = None       # test-time step size; None: inner_lr
    normalize: bool = False      # each task's loss ÷ its degraded input's MSE (equal weight per
    #                              task: a 70 % mask's MSE ~0.1 would drown a blur's ~0.001)

    def __post_init__(self) -> None:
        choice("method", self.method, METHODS)
        positive_number("inner_lr", self.inner_lr, "try 0.05 (the restorer's default α)")
        positive_number("meta_lr", self.meta_lr, "try 1e-3 (Adam on θ)")
        unit_interval("epsilon", self.epsilon, EPSILON_HINT)
        non_negative_number("tv_weight (λ)", self.tv_weight, "use 0 to switch the TV term off")
        for name in ("inner_steps", "meta_batch", "k_shot", "n_query"):
            positive_int(name, getattr(self, name))
        choice("inner_optimizer", self.inner_optimizer, INNER_OPTIMIZERS)
        if self.adapt_optimizer is not None:
            choice("adapt_optimizer", self.adapt_optimizer, INNER_OPTIMIZERS)
        if self.adapt_lr is not None:
            positive_number("adapt_lr", self.adapt_lr, "or None to adapt with inner_lr")
        if self.inner_optimizer == "adam" and self.method == "maml":
            raise ValueError("inner_optimizer='adam' needs a first-order method (fomaml or "
                             "reptile); second-order MAML differentiates through SGD steps only")

    @property
    def test_optimizer(self) -> str:
        """The optimiser of test-time adaptation: adapt_optimizer, else the inner one."""
        return self.adapt_optimizer or self.inner_optimizer

    @property
    def test_lr(self) -> float:
        """The step size of test-time adaptation: adapt_lr, else α = inner_lr."""
        return self.inner_lr if self.adapt_lr is None else self.adapt_lr

    def inner(self, steps: int | None = None, first_order: bool | None = None) -> InnerLoop:
        """The inner loop: α = inner_lr, k = inner_steps, first order unless method is 'maml'."""
        return InnerLoop(lr=self.inner_lr, steps=self.inner_steps if steps is None else steps,
                         first_order=self.method != "maml" if first_order is None else first_order,
                         optimizer=self.inner_optimizer)


def self_supervised_pairs(degraded: Tensor, known: Tensor, setting: Setting,
                          generator: torch.Generator | None = None
                          ) -> tuple[Tensor, Tensor, Tensor]:
    """(A_s(y), y, w): degrade the observation y again with setting s; the target is y itself,
    counted only where y was observed (w = known; all ones except for inpainting)."""
    further = degrade(degraded, setting, generator)
    return further.degraded, degraded, known


def adaptation_pairs(task: RestorationTask, self_supervised: bool,
                     generator: torch.Generator | None = None
                     ) -> tuple[Tensor, Tensor, Tensor | None]:
    """The pairs the inner loop fits: supervised (y_s, x_s) or self-supervised (A_s(y_s), y_s)."""
    if self_supervised:
        return self_supervised_pairs(task.support_x, task.support_known, task.setting, generator)
    return task.support_x, task.support_y, None


@dataclass(frozen=True)
class RestorerTask:
    """A restoration task's two losses for the restorer F_θ (a ``meta.task.Task``):

    support_loss(θ) = [L + λR](F_θ(inputs), targets), counted where ``weight`` (None: everywhere)
    query_loss(θ)   = [L + λR](F_θ(query_x), query_y)

    ``RestorationTask`` (data.py) holds a task's pairs; this says what F_θ is scored on.
    """

    model: nn.Module
    inputs: Tensor                       # [K, C, H, W]: y_s, or A_s(y_s) (self-supervised)
    targets: Tensor                      # [K, C, H, W]: x_s, or y_s (self-supervised)
    weight: Tensor | None = None         # [K, 1, H, W] known pixels (self-supervised inpainting)
    query_x: Tensor | None = None        # [Q, C, H, W] degraded
    query_y: Tensor | None = None        # [Q, C, H, W] clean
    tv_weight: float = 0.0               # λ
    support_scale: float = 1.0           # c_s: 1 / L(y_s, x_s) when normalised (else 1)
    query_scale: float = 1.0             # c_q: 1 / L(y_q, x_q) when normalised (else 1)

    def support_loss(self, params: Params) -> Tensor:
        return self.support_scale * restoration_loss(
            functional_call(self.model, params, (self.inputs,)), self.targets, self.tv_weight,
            self.weight)

    def query_loss(self, params: Params) -> Tensor:
        if self.query_x is None or self.query_y is None:
            raise ValueError("this RestorerTask has no query pairs; build it with "
                             "restorer_task(model, task, …) to score F_θ on a task's queries")
        return self.query_scale * restoration_loss(
            functional_call(self.model, params, (self.query_x,)), self.query_y, self.tv_weight)


def restorer_task(model: nn.Module, task: RestorationTask, tv_weight: float = 0.0,
                  self_supervised: bool = False,
                  generator: torch.Generator | None = None,
                  normalize: bool = False) -> RestorerTask:
    """The ``Task`` of a restoration task: supervised or self-supervised support pairs (drawn now,
    from ``generator``), the query pairs, λ; ``normalize``: both losses relative to doing
    nothing (``objectives.relative_scale``), so every degradation weighs the same."""
    inputs, targets, weight = adaptation_pairs(task, self_supervised, generator)
    c_s = relative_scale(inputs, targets, weight) if normalize else 1.0
    c_q = relative_scale(task.query_x, task.query_y) if normalize else 1.0
    return RestorerTask(model, inputs, targets, weight, task.query_x, task.query_y, tv_weight,
                        c_s, c_q)


def restorer_tasks(model: nn.Module, tasks: list[RestorationTask], cfg: RestoreMetaConfig,
                   generator: torch.Generator | None = None) -> list[RestorerTask]:
    """``restorer_task`` for each task of a meta-batch, in order (the generator's draws too)."""
    return [restorer_task(model, t, cfg.tv_weight, cfg.self_supervised, generator, cfg.normalize)
            for t in tasks]


def adapt_restorer(model: nn.Module, theta: Params, inputs: Tensor, targets: Tensor,
                   inner_lr: float, inner_steps: int, tv_weight: float = 0.0,
                   weight: Tensor | None = None, first_order: bool = False) -> Params:
    """θ' after k steps of θ ← θ − α ∇θ [L + λR](F_θ(inputs), targets): ``adapt_task`` on the
    support loss of a ``RestorerTask`` (θ is not mutated)."""
    task = RestorerTask(model, inputs, targets, weight, tv_weight=tv_weight)
    return adapt_task(task, theta, InnerLoop(lr=inner_lr, steps=inner_steps,
                                             first_order=first_order))


def maml_meta_loss(model: nn.Module, theta: Params, tasks: list[RestorationTask],
                   cfg: RestoreMetaConfig, generator: torch.Generator | None = None) -> Tensor:
    """(1/T) Σ_i [L + λR](F_θ'_i(y_q,i), x_q,i): the core's ``maml_task_loss`` on the tasks'
    ``RestorerTask``s; second order unless cfg.method is 'fomaml' (or 'reptile')."""
    return maml_task_loss(restorer_tasks(model, tasks, cfg, generator), theta, cfg.inner())


def sample_tasks(images: Tensor, family: TaskFamily, cfg: RestoreMetaConfig,
                 generator: torch.Generator, device: torch.device | str = "cpu"
                 ) -> list[RestorationTask]:
    """A meta-batch: one training setting per task, drawn on the CPU, then moved to ``device``."""
    return [sample_task(images, family.sample(generator), cfg.k_shot, cfg.n_query,
                        generator).to(device) for _ in range(cfg.meta_batch)]


def _fix(cfg: RestoreMetaConfig) -> str:
    outer = (f"epsilon (now {cfg.epsilon:g})" if cfg.method == "reptile"
             else f"meta_lr (now {cfg.meta_lr:g})")
    return f"try a smaller inner_lr (now {cfg.inner_lr:g}) or {outer}"


def meta_step(model: nn.Module, theta: Params, tasks: list[RestorationTask],
              cfg: RestoreMetaConfig, optimizer: torch.optim.Optimizer | None = None,
              generator: torch.Generator | None = None) -> tuple[Params, float]:
    """One meta-update: returns (the new θ, the meta-batch's mean query loss after adaptation).

    MAML / FOMAML: ∇θ of ``maml_meta_loss`` into Adam (``optimizer`` over θ's tensors; the new θ
    is then θ's own tensors, stepped by Adam). Reptile: φ̃_i = k first-order steps on task i
    (``adapt_task``), θ ← θ + ε (mean_i φ̃_i − θ) (``reptile_update``): new tensors, θ untouched.
    A non-finite loss or new θ raises ``checks.TrainingDiverged`` before anything is updated.
    """
    restorers = restorer_tasks(model, tasks, cfg, generator)
    if cfg.method == "reptile":
        start = {n: p.detach().requires_grad_() for n, p in theta.items()}
        phis = [adapt_task(t, start, cfg.inner(first_order=True)) for t in restorers]
        with torch.no_grad():
            loss = torch.stack([t.query_loss(phi) for t, phi in zip(restorers, phis)]).mean()
            new = reptile_update(start, phis, cfg.epsilon)
        value = finite_loss("the Reptile query loss", loss.item(), _fix(cfg))
        finite_params("the Reptile step", new, _fix(cfg))
        return {n: p.detach().requires_grad_(theta[n].requires_grad) for n, p in new.items()}, value
    if optimizer is None:
        raise ValueError(f"method={cfg.method!r} needs an optimizer over θ (e.g. Adam)")
    loss = maml_task_loss(restorers, theta, cfg.inner())
    value = finite_loss(f"the {cfg.method.upper()} meta-loss", loss.item(), _fix(cfg))
    grads = torch.autograd.grad(loss, list(theta.values()))
    for p, g in zip(theta.values(), grads):
        p.grad = g
    optimizer.step()
    return theta, value


def meta_train(model: nn.Module, theta: Params, images: Tensor, family: TaskFamily,
               cfg: RestoreMetaConfig, iterations: int, seed: int = 0, progress: bool = True,
               callback=None, *, checkpoint: str | Path | None = None,
               max_seconds: float | None = None, val_every: int = 50) -> list[float]:
    """Meta-train θ for ``iterations`` meta-steps; ``theta`` (the caller's dict) holds the trained
    weights afterwards. Returns the loss history (the mean query loss after adaptation per step).

    Runs on the library's one loop (``training.run_loop``): a loss or weight that becomes NaN,
    infinite or exploded stops training with ``checks.TrainingDiverged`` naming the iteration and
    what to try, before the bad update reaches θ. With ``checkpoint`` set, a checkpoint with
    finite weights is written there every ``val_every`` steps; ``max_seconds`` stops it early.
    ``callback(iteration, loss)`` (iterations from 0) is called after every step (notebook plots).
    """
    positive_int("iterations", iterations, minimum=0)
    if max_seconds is not None:
        non_negative_number("max_seconds", max_seconds)
    device = next(iter(theta.values())).device
    generator = torch.Generator().manual_seed(seed)
    optimizer = (torch.optim.Adam(list(theta.values()), lr=cfg.meta_lr)
                 if cfg.method != "reptile" else None)

    def step(it: int) -> StepResult:
        tasks = sample_tasks(images, family, cfg, generator, device)
        new, loss = meta_step(model, theta, tasks, cfg, optimizer, generator)
        theta.update(new)
        if callback is not None:
            callback(it - 1, loss)
        return StepResult(loss)

    def state(it: int) -> dict:
        return {"kind": "restorer_meta", "config": dataclasses.asdict(cfg), "iteration": it,
                "theta": {n: p.detach().cpu() for n, p in theta.items()}}

    spec = LoopSpec(iterations=iterations, params=lambda: theta, state=state, val_every=val_every,
                    checkpoint=Path(checkpoint) if checkpoint is not None else None,
                    max_seconds=max_seconds, desc=f"meta-train restore ({cfg.method})",
                    fix=_fix(cfg), progress=progress)
    return run_loop(step, spec)["loss"]
