"""Meta-learned restoration: an initialisation θ that adapts to a new degradation in a few steps.

Reuses the core inner loop (``metagan_lab.meta.functional.adapt``) and Reptile's update
(``metagan_lab.meta.reptile.reptile_update``); this module only says *what* the support pairs
and the losses of a restoration task are.

paper symbol                                   code name
θ (restorer initialisation)                    theta
task i = one degradation setting s_i           RestorationTask (data.py)
θ'_i = θ − α ∇θ [L + λR](F_θ(y_s), x_s)        adapt_restorer(...)  (k steps, α = inner_lr)
(1/T) Σ_i [L + λR](F_θ'_i(y_q), x_q)           maml_meta_loss(...)   (MAML; FOMAML: first order)
θ ← θ + ε (mean_i φ̃_i − θ)                     reptile_update, in meta_step(method="reptile")
self-supervised pairs (MZSR, Soh et al. 2020)  self_supervised_pairs(y, s): (A_s(y), y)

Supervised adaptation uses K degraded/clean pairs of the new degradation; the self-supervised
variant needs only the degraded images y: it degrades them *further* with the (estimated) setting,
A_s(y), and learns to undo that, y ≈ F_θ(A_s(y)), before restoring y itself.
Explained in ``notebooks/08_meta_restoration.ipynb``, §3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ..meta.functional import adapt
from ..meta.reptile import reptile_update
from ..types import Params
from .data import RestorationTask, sample_task
from .degradations import Setting, TaskFamily, degrade
from .objectives import restoration_loss, restoration_loss_fn

METHODS = ("maml", "fomaml", "reptile")


@dataclass(frozen=True)
class RestoreMetaConfig:
    """Meta-training and adaptation settings (one place for every constant a learner may change)."""

    method: str = "fomaml"       # maml (second order) | fomaml | reptile
    inner_lr: float = 0.05       # α, SGD step of the inner loop and of test-time adaptation
    inner_steps: int = 3         # k during meta-training
    meta_lr: float = 1e-3        # β, Adam on θ (MAML / FOMAML)
    epsilon: float = 0.1         # ε, Reptile's outer step size
    meta_batch: int = 4          # tasks (degradation settings) per meta-step
    k_shot: int = 5              # K support pairs per task
    n_query: int = 5             # Q query pairs per task
    tv_weight: float = 1e-3      # λ in L(F) + λ R(F)
    self_supervised: bool = False  # inner loop on (A_s(y), y) pairs, as MZSR

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method={self.method!r}; choose from {METHODS}")
        for name in ("inner_lr", "meta_lr", "epsilon"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name}={value} must be a finite number > 0")
        if self.tv_weight < 0 or not math.isfinite(self.tv_weight):
            raise ValueError(f"tv_weight (λ) = {self.tv_weight} must be a finite number >= 0")
        for name in ("inner_steps", "meta_batch", "k_shot", "n_query"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")


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


def adapt_restorer(model: nn.Module, theta: Params, inputs: Tensor, targets: Tensor,
                   inner_lr: float, inner_steps: int, tv_weight: float = 0.0,
                   weight: Tensor | None = None, first_order: bool = False) -> Params:
    """θ' after k steps of θ ← θ − α ∇θ [L + λR](F_θ(inputs), targets) (the core's ``adapt``)."""
    return adapt(model, theta, inputs, targets, inner_lr, inner_steps, first_order,
                 restoration_loss_fn(tv_weight, weight))


def task_query_loss(model: nn.Module, theta: Params, task: RestorationTask,
                    cfg: RestoreMetaConfig, first_order: bool,
                    generator: torch.Generator | None = None) -> Tensor:
    """[L + λR](F_θ'(y_q), x_q), θ' adapted on the task's support pairs."""
    inputs, targets, weight = adaptation_pairs(task, cfg.self_supervised, generator)
    theta_i = adapt_restorer(model, theta, inputs, targets, cfg.inner_lr, cfg.inner_steps,
                             cfg.tv_weight, weight, first_order)
    output = functional_call(model, theta_i, (task.query_x,))              # [Q, C, H, W]
    return restoration_loss(output, task.query_y, cfg.tv_weight)


def maml_meta_loss(model: nn.Module, theta: Params, tasks: list[RestorationTask],
                   cfg: RestoreMetaConfig, generator: torch.Generator | None = None) -> Tensor:
    """(1/T) Σ_i [L + λR](F_θ'_i(y_q,i), x_q,i); second order unless cfg.method == 'fomaml'."""
    first_order = cfg.method == "fomaml"
    losses = [task_query_loss(model, theta, t, cfg, first_order, generator) for t in tasks]
    return torch.stack(losses).mean()


def sample_tasks(images: Tensor, family: TaskFamily, cfg: RestoreMetaConfig,
                 generator: torch.Generator, device: torch.device | str = "cpu"
                 ) -> list[RestorationTask]:
    """A meta-batch: one training setting per task, drawn on the CPU, then moved to ``device``."""
    return [sample_task(images, family.sample(generator), cfg.k_shot, cfg.n_query,
                        generator).to(device) for _ in range(cfg.meta_batch)]


def meta_step(model: nn.Module, theta: Params, tasks: list[RestorationTask],
              cfg: RestoreMetaConfig, optimizer: torch.optim.Optimizer | None = None,
              generator: torch.Generator | None = None) -> float:
    """One meta-update of θ in place; returns the meta-batch's mean query loss before it.

    MAML / FOMAML: ∇θ of ``maml_meta_loss`` into Adam (``optimizer`` over θ's tensors).
    Reptile: φ̃_i = k first-order steps on task i, then θ ← θ + ε (mean_i φ̃_i − θ).
    """
    if cfg.method == "reptile":
        phis, losses = [], []
        for task in tasks:
            inputs, targets, weight = adaptation_pairs(task, cfg.self_supervised, generator)
            phi = adapt_restorer(model, theta, inputs, targets, cfg.inner_lr, cfg.inner_steps,
                                 cfg.tv_weight, weight, first_order=True)
            phis.append({n: p.detach() for n, p in phi.items()})
            with torch.no_grad():
                out = functional_call(model, phis[-1], (task.query_x,))
                losses.append(restoration_loss(out, task.query_y, cfg.tv_weight))
        with torch.no_grad():
            for name, value in reptile_update(theta, phis, cfg.epsilon).items():
                theta[name].copy_(value)
        return torch.stack(losses).mean().item()
    if optimizer is None:
        raise ValueError(f"method={cfg.method!r} needs an optimizer over θ (e.g. Adam)")
    loss = maml_meta_loss(model, theta, tasks, cfg, generator)
    grads = torch.autograd.grad(loss, list(theta.values()))
    for p, g in zip(theta.values(), grads):
        p.grad = g
    optimizer.step()
    return loss.item()


def meta_train(model: nn.Module, theta: Params, images: Tensor, family: TaskFamily,
               cfg: RestoreMetaConfig, iterations: int, seed: int = 0, progress: bool = True,
               callback=None) -> list[float]:
    """Meta-train θ (updated in place) for ``iterations`` meta-steps; returns the loss history.

    A loss that becomes NaN/inf stops training with a message naming the iteration.
    ``callback(iteration, loss)`` is called after every step (notebook plots).
    """
    from tqdm.auto import tqdm

    if iterations < 0:
        raise ValueError(f"iterations={iterations} must be >= 0")
    device = next(iter(theta.values())).device
    generator = torch.Generator().manual_seed(seed)
    optimizer = (torch.optim.Adam(list(theta.values()), lr=cfg.meta_lr)
                 if cfg.method != "reptile" else None)
    history: list[float] = []
    bar = tqdm(range(iterations), desc=f"meta-train restore ({cfg.method})",
               disable=not progress)
    for it in bar:
        tasks = sample_tasks(images, family, cfg, generator, device)
        loss = meta_step(model, theta, tasks, cfg, optimizer, generator)
        if not math.isfinite(loss):
            raise RuntimeError(f"meta-training loss became {loss} at iteration {it}; try a "
                               f"smaller inner_lr (now {cfg.inner_lr}) or meta_lr/epsilon")
        history.append(loss)
        bar.set_postfix(loss=f"{loss:.4f}")
        if callback is not None:
            callback(it, loss)
    return history
