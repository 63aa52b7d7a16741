"""Sinusoid regression tasks of the MAML paper (Finn et al. 2017, §5.1).

y = A sin(x − φ), A ~ U[0.1, 5], φ ~ U[0, π], x ~ U[−5, 5]; loss is mean squared error.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

AMPLITUDE = (0.1, 5.0)
PHASE = (0.0, math.pi)
X_RANGE = (-5.0, 5.0)


class SinusoidTasks(NamedTuple):
    """amplitude, phase: [T]; support_x/y: [T, K, 1]; query_x/y: [T, Q, 1]."""

    amplitude: Tensor
    phase: Tensor
    support_x: Tensor
    support_y: Tensor
    query_x: Tensor
    query_y: Tensor

    def curve(self, x: Tensor) -> Tensor:
        """The true functions on x [P] → [T, P]."""
        return self.amplitude[:, None] * torch.sin(x[None, :] - self.phase[:, None])


def sample_sinusoid_tasks(n_tasks: int, k_shot: int, n_query: int = 10,
                          generator: torch.Generator | None = None,
                          device: str | torch.device = "cpu",
                          dtype: torch.dtype = torch.float32) -> SinusoidTasks:
    """Draw T sine tasks with K support and Q query points each."""
    for name, value in (("n_tasks", n_tasks), ("k_shot", k_shot), ("n_query", n_query)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    kw = dict(generator=generator, device=device, dtype=dtype)
    amp = AMPLITUDE[0] + (AMPLITUDE[1] - AMPLITUDE[0]) * torch.rand(n_tasks, **kw)
    phase = PHASE[0] + (PHASE[1] - PHASE[0]) * torch.rand(n_tasks, **kw)
    x = X_RANGE[0] + (X_RANGE[1] - X_RANGE[0]) * torch.rand(n_tasks, k_shot + n_query, 1, **kw)
    y = amp[:, None, None] * torch.sin(x - phase[:, None, None])
    return SinusoidTasks(amp, phase, x[:, :k_shot], y[:, :k_shot], x[:, k_shot:], y[:, k_shot:])
