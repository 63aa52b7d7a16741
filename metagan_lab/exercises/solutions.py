"""Reference solutions, written the way a learner would write them (plain torch, one function each).

Instructor mode uses these (``metagan_lab.exercises.solution(name)``); the tests check that every
one passes its ``check_…``. They are deliberately independent of the library functions the checks
compare against, so a passing check means two implementations agree.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..types import Params

# -- ex01: Prototypical Networks -----------------------------------------------------------------

def prototypes(support_emb: Tensor, support_y: Tensor, n_way: int) -> Tensor:
    return torch.stack([support_emb[support_y == k].mean(dim=0) for k in range(n_way)])


def squared_distances(z: Tensor, c: Tensor) -> Tensor:
    return (z[:, None, :] - c[None, :, :]).pow(2).sum(dim=-1)


# -- ex02: the inner update and MAML -------------------------------------------------------------

def inner_update(params: Params, grads: Params, inner_lr: float) -> Params:
    return {name: params[name] - inner_lr * grads[name] for name in params}


def maml_query_loss(w: Tensor, support_x: Tensor, support_y: Tensor, query_x: Tensor,
                    query_y: Tensor, inner_lr: float) -> Tensor:
    support_loss = ((support_x @ w - support_y) ** 2).mean()
    (grad,) = torch.autograd.grad(support_loss, w, create_graph=True)
    w_adapted = w - inner_lr * grad
    return ((query_x @ w_adapted - query_y) ** 2).mean()


# -- ex03: Reptile -------------------------------------------------------------------------------

def sgd_steps(loss_fn, params: Params, inner_lr: float, steps: int) -> Params:
    phi = {name: p.detach().clone().requires_grad_(True) for name, p in params.items()}
    for _ in range(steps):
        grads = torch.autograd.grad(loss_fn(phi), list(phi.values()))
        phi = {name: (p - inner_lr * g).detach().requires_grad_(True)
               for (name, p), g in zip(phi.items(), grads)}
    return {name: p.detach() for name, p in phi.items()}


def reptile_update(theta: Params, task_phis: list[Params], epsilon: float) -> Params:
    new = {}
    for name in theta:
        phi_mean = sum(phi[name] for phi in task_phis) / len(task_phis)
        new[name] = theta[name] + epsilon * (phi_mean - theta[name])
    return new


# -- ex04: Meta-SGD ------------------------------------------------------------------------------

def meta_sgd_update(params: Params, grads: Params, alphas: Params) -> Params:
    return {name: params[name] - alphas[name] * grads[name] for name in params}


# -- ex05: reporting results ---------------------------------------------------------------------

def accuracy(logits: Tensor, y: Tensor) -> float:
    return (logits.argmax(dim=-1) == y).float().mean().item()


def mean_ci95(values) -> tuple[float, float]:
    n = len(values)
    if n < 2:
        raise ValueError(f"need at least 2 values, got {n}")
    mean = sum(values) / n
    sample_var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, 1.96 * math.sqrt(sample_var) / math.sqrt(n)


# -- ex06: GAN losses ----------------------------------------------------------------------------

def generator_loss_nonsaturating(fake_logits: Tensor) -> Tensor:
    return F.softplus(-fake_logits).mean()


def r1_penalty(critic, real: Tensor, r1_gamma: float) -> Tensor:
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return r1_gamma / 2 * grad.flatten(start_dim=1).pow(2).sum(dim=1).mean()


# -- ex07: the VAE's terms -----------------------------------------------------------------------

def reparameterize(mu: Tensor, logvar: Tensor, eps: Tensor) -> Tensor:
    return mu + torch.exp(logvar / 2) * eps


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    return (0.5 * (mu ** 2 + logvar.exp() - 1 - logvar)).sum(dim=1).mean()


# -- ex08: restoration ---------------------------------------------------------------------------

def total_variation(output: Tensor) -> Tensor:
    vertical = (output[:, :, 1:, :] - output[:, :, :-1, :]).abs().sum()
    horizontal = (output[:, :, :, 1:] - output[:, :, :, :-1]).abs().sum()
    return (vertical + horizontal) / output.numel()


def psnr(output: Tensor, target: Tensor) -> Tensor:
    mse = (output.clamp(0, 1) - target).pow(2).mean(dim=(1, 2, 3))
    return 10 * torch.log10(1 / mse)
