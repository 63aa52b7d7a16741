"""MAML versus a pre-trained network on sinusoid regression (Finn et al. 2017, §5.1, Fig. 2).

Tasks y = A sin(x − φ) (``tasks.sinusoid``); the regressor is the 1-40-40-1 ReLU ``MLP``; the
loss is mean squared error. MAML meta-trains θ so that a few SGD steps from K points fit a new
sine; the baseline is pre-trained to regress all tasks' points at once (it learns the mean
function ``mean_sine``, ≈ −1.62 cos x, not 0: phases only cover [0, π]) and is fine-tuned the
same way. Explained in
``notebooks/02_maml_from_the_equations.ipynb``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..models import MLP, params_of, seeded
from ..stats import mean_ci95
from ..tasks.sinusoid import AMPLITUDE, PHASE, X_RANGE, SinusoidTasks, sample_sinusoid_tasks
from ..training import LoopSpec, StepResult, run_loop
from ..types import Episode, Params
from .engines.batched import BatchedEngine, batched_adapt, batched_forward
from .functional import InnerLoop, check_inner_lr
from .maml import maml_outer_loss


@dataclass(frozen=True)
class SinusoidConfig:
    k_shot: int = 10           # K points per task while meta-training (paper: 10)
    n_query: int = 10          # query points per task while meta-training
    meta_batch: int = 25       # tasks per outer step (paper: 25)
    inner_lr: float = 0.01     # α (paper: 0.01)
    inner_steps: int = 1       # k while meta-training (paper: 1)
    meta_lr: float = 1e-3      # Adam's β for MAML and for pre-training
    iterations: int = 5000     # outer steps (paper: 70 000)
    hidden: tuple[int, ...] = (40, 40)
    seed: int = 0

    def __post_init__(self) -> None:
        check_inner_lr(self.inner_lr)
        for name in ("k_shot", "n_query", "meta_batch", "iterations"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


def mean_sine(x: Tensor) -> Tensor:
    """E[A sin(x − φ)] over the task distribution: the best single answer to every task at once.

    A and φ are independent and uniform, so the mean is E[A] · E[sin(x − φ)] with
    E[A] = (a₀ + a₁)/2 and E[sin(x − φ)] = (cos(x − φ₁) − cos(x − φ₀)) / (φ₁ − φ₀).
    For A ~ U[0.1, 5], φ ~ U[0, π]: 2.55 · (−(2/π) cos x) ≈ −1.62 cos x. Shapes: x [P] → [P].
    """
    mean_amplitude = (AMPLITUDE[0] + AMPLITUDE[1]) / 2
    (phi0, phi1) = PHASE
    return mean_amplitude * (torch.cos(x - phi1) - torch.cos(x - phi0)) / (phi1 - phi0)


def as_episode(tasks: SinusoidTasks) -> Episode:
    """Sine tasks as an Episode: support/query x and y are [T, K, 1] / [T, Q, 1]."""
    return Episode(tasks.support_x, tasks.support_y, tasks.query_x, tasks.query_y)


def _fit(cfg: SinusoidConfig, objective: Callable[[MLP, Params, SinusoidTasks], Tensor],
         progress: bool, desc: str, callback) -> tuple[MLP, Params, list[float]]:
    """Adam on ``objective`` over fresh sinusoid tasks, run by the library's one training loop
    (``training.run_loop``: a NaN or exploded loss stops it with ``TrainingDiverged``)."""
    model = seeded(lambda: MLP(hidden=cfg.hidden), cfg.seed)
    params = params_of(model)
    optimizer = torch.optim.Adam(list(params.values()), lr=cfg.meta_lr)
    gen = torch.Generator().manual_seed(cfg.seed)

    def step(it: int) -> StepResult:
        tasks = sample_sinusoid_tasks(cfg.meta_batch, cfg.k_shot, cfg.n_query, gen)
        loss = objective(model, params, tasks)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if torch.isfinite(loss):
            optimizer.step()
        if callback is not None:
            callback(it, loss.item())
        return StepResult(loss.item())

    spec = LoopSpec(iterations=cfg.iterations, params=lambda: params, val_every=cfg.iterations,
                    desc=desc, progress=progress,
                    fix=f"try a smaller inner learning rate (now {cfg.inner_lr}) or meta "
                        f"learning rate (now {cfg.meta_lr})")
    return model, params, run_loop(step, spec)["loss"]


def train_sinusoid_maml(cfg: SinusoidConfig = SinusoidConfig(), progress: bool = True,
                        callback=None) -> tuple[MLP, Params, list[float]]:
    """Meta-train θ on (1/T) Σ_i MSE_query_i(θ'_i). Returns (model, θ, outer losses)."""
    inner = InnerLoop(cfg.inner_lr, cfg.inner_steps, loss=F.mse_loss)

    def objective(model: MLP, params: Params, tasks: SinusoidTasks) -> Tensor:
        return maml_outer_loss(model, params, as_episode(tasks), inner, BatchedEngine())
    return _fit(cfg, objective, progress, "MAML sinusoid", callback)


def train_sinusoid_pretrained(cfg: SinusoidConfig = SinusoidConfig(), progress: bool = True,
                              callback=None) -> tuple[MLP, Params, list[float]]:
    """The baseline: one network regressing every task's points, MSE over all of them."""
    def objective(model: MLP, params: Params, tasks: SinusoidTasks) -> Tensor:
        x = torch.cat([tasks.support_x, tasks.query_x], dim=1)          # [T, K+Q, 1]
        y = torch.cat([tasks.support_y, tasks.query_y], dim=1)
        return F.mse_loss(torch.func.functional_call(model, params, (x,)), y)
    return _fit(cfg, objective, progress, "pre-training", callback)


def adapted_curves(model: MLP, params: Params, tasks: SinusoidTasks, inner_lr: float,
                   steps: Sequence[int], x_grid: Tensor) -> dict[int, Tensor]:
    """Predictions on x_grid [P] after k SGD steps on each task's support set: {k: [T, P]}."""
    out = {}
    grid = x_grid.reshape(1, -1, 1).expand(tasks.support_x.shape[0], -1, 1)   # [T, P, 1]
    for k in steps:
        start = {n: p.detach().requires_grad_() for n, p in params.items()}
        theta_t = batched_adapt(model, start, tasks.support_x, tasks.support_y,
                                InnerLoop(inner_lr, k, first_order=True, loss=F.mse_loss))
        out[k] = batched_forward(model, theta_t, grid).detach()[..., 0]
    return out


# A task's error above this means its SGD steps blew up. Predicting 0 everywhere scores at most
# A² ≤ 5² = 25 on any task of the family, so 1000 (40× that) is no fit, only divergence.
DIVERGED_MSE = 1000.0


class SineScore(tuple):
    """``(mean, ci95)`` over the tasks that did not diverge, plus ``median`` (over all tasks,
    a diverged one counting as +inf), ``diverged`` (how many tasks diverged) and ``n_tasks``.

    A 2-tuple, so ``mean, ci95 = score`` keeps working.
    """

    mean: float
    ci95: float
    median: float
    diverged: int
    n_tasks: int

    def __new__(cls, mean: float, ci95: float, median: float, diverged: int,
                n_tasks: int) -> SineScore:
        obj = super().__new__(cls, (mean, ci95))
        obj.mean, obj.ci95, obj.median = mean, ci95, median
        obj.diverged, obj.n_tasks = diverged, n_tasks
        return obj

    def __getnewargs__(self) -> tuple:   # pickle and copy rebuild all five fields
        return self.mean, self.ci95, self.median, self.diverged, self.n_tasks

    def __repr__(self) -> str:
        return (f"SineScore(mean={self.mean:.4g}, ci95={self.ci95:.3g}, median={self.median:.4g},"
                f" diverged={self.diverged}/{self.n_tasks})")


def score_tasks(losses: Tensor, limit: float = DIVERGED_MSE) -> SineScore:
    """Per-task errors [T] → mean ± 95% CI over the finite ones ≤ ``limit``, median, diverged.

    Diverged: NaN, infinite or > ``limit``. The mean of 600 tasks is otherwise ruled by the 2 or 3
    that blew up (a mean of 5e21 says nothing about the other 597).
    """
    losses = losses.detach().double().flatten().cpu()
    ok = torch.isfinite(losses) & (losses <= limit)
    kept = losses[ok]
    if kept.numel() >= 2:
        mean, ci = mean_ci95(kept)
    else:
        mean, ci = (kept.item() if kept.numel() else math.nan), math.nan
    median = losses.nan_to_num(nan=math.inf).median().item() if losses.numel() else math.nan
    return SineScore(mean, ci, median, int((~ok).sum()), losses.numel())


def evaluate_sinusoid(model: MLP, params: Params, k_shot: int, inner_lr: float,
                      steps: Sequence[int] = (0, 1, 10), n_tasks: int = 600,
                      n_points: int = 100, seed: int = 1) -> dict[int, SineScore]:
    """Mean squared error ± 95% CI on ``n_points`` evenly spaced x per task, after k steps.

    Each value is a ``SineScore``: ``(mean, ci95)`` over the tasks that did not diverge (error
    NaN, infinite or above ``DIVERGED_MSE``), with ``.median`` and ``.diverged`` besides; a
    warning says how many diverged and what to try.
    """
    gen = torch.Generator().manual_seed(seed)
    tasks = sample_sinusoid_tasks(n_tasks, k_shot, 1, gen)
    grid = torch.linspace(*X_RANGE, n_points)
    truth = tasks.curve(grid)                                                  # [T, P]
    curves = adapted_curves(model, params, tasks, inner_lr, steps, grid)
    scores = {k: score_tasks((c - truth).pow(2).mean(dim=1)) for k, c in curves.items()}
    for k, sc in scores.items():
        if sc.diverged:
            warnings.warn(f"evaluate_sinusoid: {sc.diverged} of {sc.n_tasks} tasks diverged after "
                          f"{k} steps at inner_lr={inner_lr:g} (error NaN, infinite or > "
                          f"{DIVERGED_MSE:g}); the mean {sc.mean:.4g} is over the other "
                          f"{sc.n_tasks - sc.diverged}, the median over all is {sc.median:.4g}; "
                          "lower inner_lr or the number of steps", stacklevel=2)
    return scores


def compare_maml_pretrained(maml: tuple[MLP, Params], pretrained: tuple[MLP, Params],
                            inner_lr: float, shots: Sequence[int] = (5, 10),
                            steps: Sequence[int] = (0, 1, 10), n_tasks: int = 600
                            ) -> list[dict]:
    """Rows {method, k_shot, steps, mse, ci95, median, diverged}: the MAML paper's Figure 2.

    ``mse`` ± ``ci95`` is over the tasks that did not diverge; ``diverged`` counts the others.
    """
    rows = []
    for name, (model, params) in (("MAML", maml), ("pretrained", pretrained)):
        for k_shot in shots:
            scores = evaluate_sinusoid(model, params, k_shot, inner_lr, steps, n_tasks)
            rows += [{"method": name, "k_shot": k_shot, "steps": k, "mse": s.mean,
                      "ci95": s.ci95, "median": s.median, "diverged": s.diverged}
                     for k, s in scores.items()]
    return rows
