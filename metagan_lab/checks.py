"""Validators shared by every module, and the one exception for a run that blew up.

Each check raises ``ValueError`` with one line naming the bad value and the fix, so a careless
argument fails in the first second instead of after an hour of training.
``TrainingDiverged`` is the single exception type for a loss or a weight that became NaN,
infinite or absurdly large; its message says where and what to try.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor


class TrainingDiverged(RuntimeError):
    """A loss or the weights became non-finite (or exploded); the message says what to try."""


def positive_number(name: str, value: object, hint: str = "") -> float:
    """``value`` must be a finite real number > 0 (bools are refused)."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or value <= 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}"
                         + (f"; {hint}" if hint else ""))
    return float(value)


def non_negative_number(name: str, value: object, hint: str = "") -> float:
    """``value`` must be a finite real number ≥ 0."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or value < 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}"
                         + (f"; {hint}" if hint else ""))
    return float(value)


def positive_int(name: str, value: object, minimum: int = 1) -> int:
    """``value`` must be an integer ≥ ``minimum`` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def unit_interval(name: str, value: object, hint: str = "") -> float:
    """``value`` must be a real number in (0, 1]."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or not 0 < value <= 1):
        raise ValueError(f"{name} must be in (0, 1], got {value!r}" + (f"; {hint}" if hint else ""))
    return float(value)


def choice(name: str, value: object, options: tuple) -> object:
    if value not in options:
        raise ValueError(f"{name}={value!r}; choose from {options}")
    return value


def same_shapes(what: str, a: Mapping[str, Tensor], b: Mapping[str, Tensor],
                a_name: str = "params", b_name: str = "grads") -> None:
    """Two parameter dicts must have the same names and shapes (``grads`` vs ``params``)."""
    if set(a) != set(b):
        missing, extra = sorted(set(a) - set(b)), sorted(set(b) - set(a))
        raise ValueError(f"{what}: {b_name} and {a_name} name different tensors "
                         f"(missing from {b_name}: {missing}, extra: {extra})")
    for n in a:
        if a[n].shape != b[n].shape:
            raise ValueError(f"{what}: {b_name}[{n!r}] has shape {tuple(b[n].shape)} but "
                             f"{a_name}[{n!r}] has {tuple(a[n].shape)}")


MAX_ABS_WEIGHT = 1e6   # a weight this large means the run has exploded (Conv-4 weights are ~0.1)


def bad_tensors(params: Mapping[str, Tensor], limit: float = MAX_ABS_WEIGHT) -> list[str]:
    """Names of tensors with a NaN, an infinity or an entry larger than ``limit`` in size."""
    with torch.no_grad():
        return [n for n, p in params.items()
                if p.numel() and not bool(torch.isfinite(p).all() and p.abs().max() <= limit)]


def finite_params(where: str, params: Mapping[str, Tensor], fix: str = "",
                  limit: float = MAX_ABS_WEIGHT) -> None:
    """Raise ``TrainingDiverged`` if any tensor is non-finite or has exploded past ``limit``."""
    bad = bad_tensors(params, limit)
    if bad:
        more = " …" if len(bad) > 4 else ""
        raise TrainingDiverged(f"{where}: weights {bad[:4]}{more} are NaN, infinite or larger "
                               f"than {limit:g}" + (f"; {fix}" if fix else ""))


def finite_loss(where: str, value: float, fix: str = "", limit: float = 1e8) -> float:
    """Raise ``TrainingDiverged`` if a loss is NaN, infinite or above ``limit``."""
    if not math.isfinite(value) or abs(value) > limit:
        raise TrainingDiverged(f"{where}: the loss became {value:g}" + (f"; {fix}" if fix else ""))
    return value
