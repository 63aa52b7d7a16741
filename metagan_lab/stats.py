"""Summary statistics reported by every evaluation."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor


def mean_ci95(values: Sequence[float] | Tensor) -> tuple[float, float]:
    """Mean and half-width of the normal 95% confidence interval, 1.96·s/√n (n ≥ 2)."""
    v = torch.as_tensor(values, dtype=torch.float64).flatten()
    if v.numel() < 2:
        raise ValueError(f"need at least 2 values for a confidence interval, got {v.numel()}")
    return v.mean().item(), 1.96 * v.std(unbiased=True).item() / math.sqrt(v.numel())
