"""The result that matters: PSNR / SSIM on unseen degradations after 0, 1, 5, 10 adaptation steps.

Every method sees the *same* test tasks (same images, noise and masks): for each unseen setting,
``n_tasks`` tasks of K support and Q query pairs drawn from the held-out images. A learned method
starts from its θ, takes k steps (SGD or Adam, step inner_lr; all weights, the gains or the head:
``adaptation.MODES``) on the support pairs — or, self-supervised, on (A_s(y), y) built from the
degraded support images alone — and is scored on the query images.
The classical method does not adapt; its score is the same at every k.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ..checks import positive_int
from ..meta.functional import InnerLoop
from ..stats import mean_ci95
from ..types import Params
from .adaptation import adapt_mode
from .baselines import classical_task
from .data import RestorationTask, sample_task
from .degradations import Setting
from .meta import restorer_task
from .metrics import psnr, ssim

STEPS = (0, 1, 5, 10)


class Method(NamedTuple):
    """A row of the table: a name, an initialisation θ and how it adapts (``mode``: what takes
    the steps, ``adaptation.MODES``; None: compare_methods' mode)."""

    name: str
    theta: Params | None          # None: the classical (non-learned) method
    self_supervised: bool = False
    mode: str | None = None


def adaptation_curve(model: nn.Module, theta: Params, task: RestorationTask, inner_lr: float,
                     tv_weight: float = 0.0, steps: Sequence[int] = STEPS,
                     self_supervised: bool = False, generator: torch.Generator | None = None,
                     return_outputs: bool = False, optimizer: str = "sgd",
                     mode: str = "all") -> dict:
    """Query PSNR / SSIM (means over the Q images) after each k in ``steps`` adaptation steps
    (first-order steps, SGD or Adam with step ``inner_lr``, on the task's support loss, in one
    adaptation ``mode``: all weights, the gains only, or the head only; ``adaptation.adapt_mode``).
    With Adam or gains each k starts again from θ (Adam's moments, γ = 1 are those of a k-step
    run); SGD on θ continues from the previous k (the same numbers, fewer steps).

    Returns {"steps": [...], "psnr": [...], "ssim": [...]} (+ "outputs": [Q, C, H, W] per k).
    """
    problem = restorer_task(model, task, tv_weight, self_supervised, generator)
    params = {n: p.detach().requires_grad_() for n, p in theta.items()}
    resume = optimizer == "sgd" and mode != "gains"  # SGD on θ is memoryless: continue from θ'_k
    start, done = params, 0
    result = {"steps": sorted(steps), "psnr": [], "ssim": [], "outputs": []}
    for k in result["steps"]:
        if k > done:
            inner = InnerLoop(lr=inner_lr, steps=k - done if resume else k, first_order=True,
                              optimizer=optimizer)
            params = adapt_mode(problem, params if resume else start, inner, mode)
            params = {n: p.detach().requires_grad_() for n, p in params.items()}
            done = k if resume else 0
        with torch.no_grad():
            out = functional_call(model, params, (task.query_x,))       # [Q, C, H, W]
        result["psnr"].append(psnr(out, task.query_y).mean().item())
        result["ssim"].append(ssim(out, task.query_y).mean().item())
        if return_outputs:
            result["outputs"].append(out.clamp(0, 1).cpu())
    if not return_outputs:
        del result["outputs"]
    return result


def test_tasks(images: Tensor, setting: Setting, n_tasks: int, k_shot: int, n_query: int,
               seed: int = 0, n_shots: int = 1) -> list[RestorationTask]:
    """The fixed test tasks of one unseen setting (the same for every method); ``n_shots`` > 1:
    each degraded image is a fused burst (``degradations.fuse_burst``)."""
    generator = torch.Generator().manual_seed(seed)
    return [sample_task(images, setting, k_shot, n_query, generator, n_shots)
            for _ in range(n_tasks)]


def compare_methods(model: nn.Module, methods: Sequence[Method], images: Tensor,
                    settings: Sequence[Setting], inner_lr: float, tv_weight: float = 0.0,
                    n_tasks: int = 10, k_shot: int = 5, n_query: int = 5,
                    steps: Sequence[int] = STEPS, seed: int = 0,
                    progress: bool = True, optimizer: str = "sgd",
                    mode: str = "all", n_shots: int = 1) -> list[dict]:
    """One row per (setting, method, k): mean PSNR/SSIM over tasks with 95% CI half-widths.

    Learned methods adapt with ``optimizer`` (sgd | adam), step ``inner_lr``, in ``mode`` (all
    weights, gains, head) unless their ``Method.mode`` says otherwise. ``n_shots`` > 1 makes
    every test image a fused burst of that many shots."""
    from tqdm.auto import tqdm

    positive_int("n_tasks (test tasks, for a confidence interval)", n_tasks, minimum=2)
    device = next((p.device for m in methods if m.theta for p in m.theta.values()),
                  torch.device("cpu"))
    rows = []
    bar = tqdm(total=len(settings) * len(methods) * n_tasks, desc="evaluate",
               disable=not progress)
    for s_idx, setting in enumerate(settings):
        tasks = [t.to(device) for t in test_tasks(images, setting, n_tasks, k_shot, n_query,
                                                  seed + 1000 * s_idx, n_shots)]
        for method in methods:
            per_task = []
            for t_idx, task in enumerate(tasks):
                if method.theta is None:
                    out = classical_task(task)
                    p, s = psnr(out, task.query_y).mean().item(), ssim(out, task.query_y).mean()
                    per_task.append({"psnr": [p] * len(steps), "ssim": [s.item()] * len(steps)})
                else:
                    gen = torch.Generator().manual_seed(seed + t_idx)
                    per_task.append(adaptation_curve(model, method.theta, task, inner_lr,
                                                     tv_weight, steps, method.self_supervised,
                                                     gen, optimizer=optimizer,
                                                     mode=method.mode or mode))
                bar.update()
            for j, k in enumerate(sorted(steps)):
                p_mean, p_ci = mean_ci95([c["psnr"][j] for c in per_task])
                s_mean, s_ci = mean_ci95([c["ssim"][j] for c in per_task])
                rows.append({"setting": setting.label(), "method": method.name, "steps": k,
                             "psnr": p_mean, "psnr_ci95": p_ci, "ssim": s_mean,
                             "ssim_ci95": s_ci})
    bar.close()
    return rows


def format_table(rows: list[dict]) -> str:
    """A Markdown table: one line per (setting, method), PSNR / SSIM per number of steps."""
    steps = sorted({r["steps"] for r in rows})
    head = "| setting | method | " + " | ".join(f"{k} steps PSNR / SSIM" for k in steps) + " |"
    lines = [head, "|" + "---|" * (2 + len(steps))]
    keys = list(dict.fromkeys((r["setting"], r["method"]) for r in rows))
    for setting, method in keys:
        cells = []
        for k in steps:
            r = next(r for r in rows
                     if (r["setting"], r["method"], r["steps"]) == (setting, method, k))
            cells.append(f"{r['psnr']:.2f} ± {r['psnr_ci95']:.2f} / {r['ssim']:.3f}")
        lines.append(f"| {setting} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compare_on_task(model: nn.Module, methods: Sequence[Method], task: RestorationTask,
                    inner_lr: float, tv_weight: float = 0.0, steps: Sequence[int] = STEPS,
                    seed: int = 0, optimizer: str = "sgd", mode: str = "all") -> dict[str, dict]:
    """Every method on one task: {name: adaptation_curve dict with "outputs"} (the notebook's
    side-by-side view); the classical method's curve is flat."""
    curves = {}
    for method in methods:
        if method.theta is None:
            out = classical_task(task)
            p, s = psnr(out, task.query_y).mean().item(), ssim(out, task.query_y).mean().item()
            curves[method.name] = {"steps": sorted(steps), "psnr": [p] * len(steps),
                                   "ssim": [s] * len(steps), "outputs": [out] * len(steps)}
        else:
            curves[method.name] = adaptation_curve(
                model, method.theta, task, inner_lr, tv_weight, steps, method.self_supervised,
                torch.Generator().manual_seed(seed), return_outputs=True, optimizer=optimizer,
                mode=method.mode or mode)
    return curves


def rows_to_curves(rows: list[dict], setting: str) -> dict[str, dict]:
    """The table rows of one setting as {method: {"steps", "psnr", "ssim"}} (for plotting)."""
    curves: dict[str, dict] = {}
    for r in sorted((r for r in rows if r["setting"] == setting), key=lambda r: r["steps"]):
        c = curves.setdefault(r["method"], {"steps": [], "psnr": [], "ssim": []})
        for key in c:
            c[key].append(r[key])
    if not curves:
        known = sorted({r["setting"] for r in rows})
        raise ValueError(f"no rows for setting {setting!r}; the table has {known}")
    return curves
