"""Checking a meta-gradient against central finite differences along random directions.

For a direction v, ⟨∇f(θ), v⟩ ≈ (f(θ + hv) − f(θ − hv)) / 2h with error O(h²) from the third
derivative plus O(ε_machine·|f|/h) from rounding, so in float64 h ≈ 1e-7 balances the two on a
smooth network. With ReLU and max-pooling f is only piecewise smooth: a difference that straddles a
kink measures a slope of neither piece, and MAML's second-order term misses the curvature that
sits on the kinks, so agreement there depends on luck and on h. Explained in
``notebooks/02_maml_from_the_equations.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..types import Params


def directional_fd_errors(f: Callable[[Params], Tensor], params: Params, grads: Params,
                          h: float = 1e-7, n_dirs: int = 2, seed: int = 0) -> list[float]:
    """Relative gaps |fd − ⟨g, v⟩| / |⟨g, v⟩| for ``n_dirs`` Gaussian directions v.

    ``f`` maps a parameter dict (detached tensors) to a scalar; ``grads`` is the claimed ∇f.
    """
    if not h > 0:
        raise ValueError(f"step h must be > 0, got {h!r}")
    g = torch.Generator().manual_seed(seed)
    base = {n: p.detach() for n, p in params.items()}
    errors = []
    for _ in range(n_dirs):
        v = {n: torch.randn(p.shape, generator=g, dtype=p.dtype).to(p.device)
             for n, p in base.items()}
        plus = f({n: base[n] + h * v[n] for n in base}).item()
        minus = f({n: base[n] - h * v[n] for n in base}).item()
        fd = (plus - minus) / (2 * h)
        analytic = sum((grads[n] * v[n]).sum() for n in base).item()
        errors.append(abs(fd - analytic) / max(abs(analytic), 1e-300))
    return errors
