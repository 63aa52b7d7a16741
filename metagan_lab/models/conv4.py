"""Conv-4 (Vinyals et al. 2016; Snell et al. 2017; Finn et al. 2017).

Four blocks of [3×3 conv, 64 filters → BatchNorm → ReLU → 2×2 max-pool]; on 28×28 input the
output is 64 × 1 × 1, flattened to a 64-d embedding. With ``n_classes`` set, a linear head follows
(the MAML classifier). ``activation='tanh'`` and ``pool='avg'`` give a smooth network whose
meta-gradients can be checked by finite differences.

Used with explicit parameter dicts: ``torch.func.functional_call(model, params, (x,))``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..types import Params

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
_POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


def conv_block(c_in: int, c_out: int, activation: str, pool: str,
               track_running_stats: bool) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1),
        nn.BatchNorm2d(c_out, track_running_stats=track_running_stats),
        _ACTIVATIONS[activation](),
        _POOLS[pool](2),
    )


class Conv4(nn.Module):
    """x [B, C, 28, 28] → embedding [B, hidden] (or logits [B, n_classes] with a head)."""

    def __init__(self, in_channels: int = 1, hidden: int = 64, n_classes: int | None = None,
                 activation: str = "relu", pool: str = "max",
                 track_running_stats: bool = True):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation={activation!r}; choose from {sorted(_ACTIVATIONS)}")
        if pool not in _POOLS:
            raise ValueError(f"pool={pool!r}; choose from {sorted(_POOLS)}")
        chans = [in_channels, hidden, hidden, hidden, hidden]
        self.encoder = nn.Sequential(*(
            conv_block(chans[i], chans[i + 1], activation, pool, track_running_stats)
            for i in range(4)
        ))
        self.head = nn.Linear(hidden, n_classes) if n_classes else None

    def forward(self, x: Tensor) -> Tensor:
        z = self.encoder(x).flatten(1)                       # [B, hidden] on 28×28 input
        return self.head(z) if self.head is not None else z


def params_of(model: nn.Module, requires_grad: bool = True) -> Params:
    """θ as an explicit dict (detached copies of the module's parameters)."""
    return {n: p.detach().clone().requires_grad_(requires_grad)
            for n, p in model.named_parameters()}


def seeded(fn, seed: int):
    """Build a model under a fixed seed without touching the global RNG stream afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return fn()
