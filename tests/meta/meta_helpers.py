"""Shared tiny float64 set-ups and the plain per-task reference for tests/meta (imported by
the test files; a unique module name, since tests/ folders have no __init__.py)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.func import functional_call

from metagan_lab.models import Conv4, params_of, seeded
from metagan_lab.types import Episode

DT = torch.float64


def tiny_episode(n_tasks=3, n_way=2, k_shot=1, n_query=2, size=16, seed=0) -> Episode:
    g = torch.Generator().manual_seed(seed)
    sy = torch.arange(n_way).repeat_interleave(k_shot).expand(n_tasks, -1)
    qy = torch.arange(n_way).repeat_interleave(n_query).expand(n_tasks, -1)
    return Episode(torch.rand(n_tasks, n_way * k_shot, 1, size, size, generator=g, dtype=DT), sy,
                   torch.rand(n_tasks, n_way * n_query, 1, size, size, generator=g, dtype=DT), qy)


def tiny_conv4(n_way=2, smooth=False, seed=0):
    """Conv-4 with 8 filters and batch statistics; smooth=True: tanh and average pooling."""
    kw = dict(activation="tanh", pool="avg") if smooth else {}
    model = seeded(lambda: Conv4(hidden=8, n_classes=n_way, track_running_stats=False, **kw),
                   seed).to(DT)
    return model, params_of(model)


def flat(grads) -> torch.Tensor:
    values = grads.values() if isinstance(grads, dict) else grads
    return torch.cat([g.reshape(-1) for g in values])


def rel_err(a, b) -> float:
    a, b = flat(a), flat(b)
    return ((a - b).norm() / b.norm()).item()


def plain_meta_gradient(model, params, episode, inner_lr, steps, first_order=False,
                        adapted=None, leaves=None):
    """The textbook reference: one task at a time, torch.autograd.grad(create_graph=True)."""
    leaves = params if leaves is None else leaves
    total = 0.0
    for sx, sy, qx, qy in zip(*episode):
        theta = dict(params)
        names = [n for n in theta if adapted is None or n in adapted]
        for _ in range(steps):
            loss = F.cross_entropy(functional_call(model, theta, (sx,)), sy)
            grads = torch.autograd.grad(loss, [theta[n] for n in names],
                                        create_graph=not first_order)
            for n, g in zip(names, grads):
                a = inner_lr[n] if isinstance(inner_lr, dict) else inner_lr
                theta[n] = theta[n] - a * g
        total = total + F.cross_entropy(functional_call(model, theta, (qx,)), qy)
    return torch.autograd.grad(total / episode.n_tasks, list(leaves.values()))


def noise_classes(n_classes=12, n_samples=6, seed=0):
    """A tiny learnable image set: each class is a random 28×28 pattern plus per-sample noise."""
    from metagan_lab.data import ClassImages

    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n_classes, 1, 28, 28, generator=g) * 200
    x = base + 55 * torch.rand(n_classes, n_samples, 28, 28, generator=g)
    return ClassImages(x.round().to(torch.uint8), tuple(f"c{i}" for i in range(n_classes)))
