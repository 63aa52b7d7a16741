"""The restoration objective L(F) + λ·R(F), with R the (anisotropic) total variation.

symbol                                   code name
F = F_θ(y), the restored image            output
x, the clean image                        target
L(F) = (1/N) Σ (F − x)²                   data_fidelity(output, target)
R(F) = (1/N) Σ |∂_h F| + |∂_v F|          total_variation(output)
λ                                         tv_weight
L(F) + λ R(F)                             restoration_loss(output, target, tv_weight)
c = 1 / L(y, x)  (y the degraded input)   relative_scale(degraded, target): c·L = 1 for F = id

N = B·C·H·W. Explained in ``notebooks/08_meta_restoration.ipynb``, §2.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import Tensor

from ..checks import non_negative_number

TV_HINT = "use 0 to switch the total-variation term off"


def data_fidelity(output: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
    """L(F) = (1/N) Σ w ⊙ (F − x)²; ``weight`` [B, 1, H, W] restricts it to known pixels."""
    err = (output - target).square()                                      # [B, C, H, W]
    if weight is None:
        return err.mean()
    w = weight.to(err.dtype).expand_as(err)
    return (w * err).sum() / w.sum().clamp_min(1.0)


def total_variation(output: Tensor) -> Tensor:
    """R(F) = (1/N) Σ_{b,c,i,j} |F[i+1, j] − F[i, j]| + |F[i, j+1] − F[i, j]|, N = B·C·H·W."""
    dv = (output[..., 1:, :] - output[..., :-1, :]).abs().sum()          # vertical differences
    dh = (output[..., :, 1:] - output[..., :, :-1]).abs().sum()          # horizontal differences
    return (dv + dh) / output.numel()


def restoration_loss(output: Tensor, target: Tensor, tv_weight: float = 0.0,
                     weight: Tensor | None = None) -> Tensor:
    """L(F) + λ R(F)."""
    non_negative_number("tv_weight (λ)", tv_weight, TV_HINT)
    loss = data_fidelity(output, target, weight)
    return loss + tv_weight * total_variation(output) if tv_weight else loss


def restoration_loss_fn(tv_weight: float = 0.0,
                        weight: Tensor | None = None) -> Callable[[Tensor, Tensor], Tensor]:
    """``loss_fn(output, target)`` for ``metagan_lab.meta.adapt``: L(F) + λ R(F)."""
    non_negative_number("tv_weight (λ)", tv_weight, TV_HINT)
    return partial(restoration_loss, tv_weight=tv_weight, weight=weight)


RELATIVE_FLOOR = 1e-6    # L(y, x) below this (a nearly clean input) counts as 1e-6


def relative_scale(degraded: Tensor, target: Tensor, weight: Tensor | None = None) -> float:
    """c = 1 / max(L(y, x), 1e-6): the loss of "do nothing" (F(y) = y) becomes 1, so tasks whose
    inputs differ 100× in MSE (a 70 % mask vs a mild blur) weigh the same in a mean over tasks."""
    return 1.0 / max(data_fidelity(degraded, target, weight).item(), RELATIVE_FLOOR)
