"""A learned λ in L + λR: the TV weight follows its hypergradient on the validation loss.

The inner loop adapts θ on the support pairs with the regularised loss L + λR; the *query* loss
is data fidelity alone (the validation loss: how close the restored query images are to the
clean ones). Differentiating it through the k inner steps w.r.t. log λ says whether a larger λ
would have helped; Adam on log λ (λ = exp(log λ) stays > 0) follows that signal in the outer
loop, alongside θ's usual meta-update.

paper symbol                                        code name
λ = exp(ℓ), ℓ = log λ                               tv_weight_of(log_lambda)
L_support(θ; λ) = L(F_θ(y_s), x_s) + λ R(F_θ(y_s))  LambdaTask.support_loss
θ'(λ): k SGD steps on L_support(·; λ)               adapt_task(LambdaTask, θ, inner) (2nd order)
L_val(λ) = L(F_θ'(λ)(y_q), x_q)                     validation_loss(...)
∂L_val / ∂ℓ (through the inner steps)               hypergradient(...)
ℓ ← Adam(ℓ, ∂L_val/∂ℓ)                              learn_tv_weight(...), history["lambda"]

The derivative exists because the inner steps depend on λ: θ'_1 = θ − α(∇L + λ∇R), so
∂θ'_1/∂λ = −α ∇R, and ∂L_val/∂ℓ = λ ∂L_val/∂λ (chain rule through λ = exp ℓ).
References: hypergradients through unrolled inner steps, Maclaurin et al. (2015); the
restoration version is in ``notebooks/08_meta_restoration.ipynb``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ..checks import finite_loss, positive_int, positive_number
from ..meta.functional import InnerLoop
from ..meta.task import adapt_task
from ..training import LoopSpec, StepResult, run_loop
from ..types import Params
from .data import RestorationTask
from .degradations import TaskFamily
from .meta import RestoreMetaConfig, sample_tasks
from .objectives import data_fidelity, total_variation


def tv_weight_of(log_lambda: Tensor) -> Tensor:
    """λ = exp(ℓ): always > 0, and Adam on ℓ moves λ by a factor, not by a fixed amount."""
    return log_lambda.exp()


@dataclass(frozen=True)
class LambdaTask:
    """A restoration task whose support loss has a differentiable λ (a ``meta.task.Task``):
    support_loss(θ) = L(F_θ(y_s), x_s) + exp(ℓ) R(F_θ(y_s));  query_loss(θ) = L(F_θ(y_q), x_q)."""

    model: nn.Module
    task: RestorationTask
    log_lambda: Tensor                        # ℓ, a scalar tensor (requires_grad to learn it)

    def support_loss(self, params: Params) -> Tensor:
        out = functional_call(self.model, params, (self.task.support_x,))   # [K, C, H, W]
        return (data_fidelity(out, self.task.support_y)
                + tv_weight_of(self.log_lambda) * total_variation(out))

    def query_loss(self, params: Params) -> Tensor:
        out = functional_call(self.model, params, (self.task.query_x,))     # [Q, C, H, W]
        return data_fidelity(out, self.task.query_y)


def second_order(cfg: RestoreMetaConfig) -> InnerLoop:
    """SGD inner steps with the graph kept (λ acts only through the steps; first order would
    make ∂L_val/∂λ zero, and Adam's √v has no second derivative where a gradient is 0)."""
    return InnerLoop(lr=cfg.inner_lr, steps=cfg.inner_steps, first_order=False)


def validation_loss(model: nn.Module, theta: Params, task: RestorationTask, log_lambda: Tensor,
                    inner: InnerLoop) -> Tensor:
    """L_val(λ) = L(F_θ'(λ)(y_q), x_q), θ'(λ) adapted on L + λR; differentiable w.r.t. ℓ, θ."""
    if inner.first_order:
        raise ValueError("validation_loss needs first_order=False: with first-order inner steps "
                         "the query loss does not depend on λ (its hypergradient would be 0)")
    problem = LambdaTask(model, task, log_lambda)
    return problem.query_loss(adapt_task(problem, theta, inner))


def hypergradient(model: nn.Module, theta: Params, task: RestorationTask, log_lambda: Tensor,
                  inner: InnerLoop) -> Tensor:
    """∂L_val / ∂ℓ through the k inner steps (a scalar tensor)."""
    ell = log_lambda.detach().requires_grad_()
    return torch.autograd.grad(validation_loss(model, theta, task, ell, inner), ell)[0]


def learn_tv_weight(model: nn.Module, theta: Params, images: Tensor, family: TaskFamily,
                    cfg: RestoreMetaConfig, iterations: int, init_lambda: float | None = None,
                    lambda_lr: float = 0.05, train_theta: bool = True, seed: int = 0,
                    progress: bool = True) -> dict:
    """Meta-train ℓ = log λ (and θ, MAML-style, unless ``train_theta`` is False) on the mean
    validation loss (1/T) Σ_i L_val,i of each meta-batch; Adam on ℓ with step ``lambda_lr``,
    Adam on θ with cfg.meta_lr; inner steps: cfg.inner_lr, cfg.inner_steps, second order.

    Returns {"lambda": [λ_0, λ_1, …] (iterations + 1 values, for a plot of λ as it learns),
    "loss": [mean validation loss per step], "theta": θ}; ``theta`` (the caller's dict) holds
    the trained weights afterwards when ``train_theta``.
    """
    positive_int("iterations", iterations, minimum=0)
    positive_number("lambda_lr", lambda_lr, "try 0.05 (Adam on log λ)")
    lambda_0 = cfg.tv_weight if init_lambda is None else init_lambda
    positive_number("init_lambda (λ_0)", lambda_0, "λ is learned as exp(log λ); try 1e-3")
    device = next(iter(theta.values())).device
    ell = torch.tensor(math.log(lambda_0), dtype=next(iter(theta.values())).dtype, device=device,
                       requires_grad=True)
    opt_lambda = torch.optim.Adam([ell], lr=lambda_lr)
    opt_theta = torch.optim.Adam(list(theta.values()), lr=cfg.meta_lr) if train_theta else None
    generator, inner = torch.Generator().manual_seed(seed), second_order(cfg)
    lambdas = [lambda_0]

    def step(it: int) -> StepResult:
        tasks = sample_tasks(images, family, cfg, generator, device)
        start = theta if train_theta else {n: p.detach().requires_grad_() for n, p in theta.items()}
        loss = torch.stack([validation_loss(model, start, t, ell, inner) for t in tasks]).mean()
        value = finite_loss("the validation loss", loss.item(),
                            f"try a smaller inner_lr (now {cfg.inner_lr:g}) or lambda_lr")
        wrt = [ell] + (list(theta.values()) if train_theta else [])
        grads = torch.autograd.grad(loss, wrt)
        for p, g in zip(wrt, grads):
            p.grad = g
        opt_lambda.step()
        if opt_theta is not None:
            opt_theta.step()
        lambdas.append(tv_weight_of(ell).item())
        return StepResult(value, {"lambda": lambdas[-1]})

    spec = LoopSpec(iterations=iterations, params=lambda: {**theta, "log_lambda": ell},
                    desc="learn λ (hypergradient)", progress=progress,
                    fix=f"try a smaller inner_lr (now {cfg.inner_lr:g}) or lambda_lr")
    history = run_loop(step, spec)
    return {"lambda": lambdas, "loss": history["loss"], "theta": theta}
