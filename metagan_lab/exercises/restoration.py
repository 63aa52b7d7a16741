"""Exercises for notebook 08: the total-variation prior and PSNR, the y-axis of PSNR-vs-steps.

exercise          learner writes                                           library reference
total_variation   R(F) = (1/N) Σ |F[i+1, j] − F[i, j]| + |F[i, j+1] − F[i, j]|,  restore.objectives
                  N = B·C·H·W
psnr              10 log10(1 / MSE) per image, output clamped to [0, 1]       restore.metrics.psnr
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..restore.metrics import psnr as _psnr
from ..restore.objectives import total_variation as _total_variation
from .checking import Case, Exercise, Mistake, randint, randn, run_check, uniform


def _tv_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for i in range(4):
        b, c, h, w = randint(g, 1, 3), randint(g, 1, 3), randint(g, 2, 8), randint(g, 2, 8)
        cases.append(Case(f"random {i + 1}: images [{b}, {c}, {h}, {w}]", (randn(g, b, c, h, w),)))
    cases.append(Case("edge: a constant image has no variation",
                      (torch.full((2, 1, 5, 5), 0.7, dtype=torch.float64),)))
    cases.append(Case("edge: a single row (only horizontal differences)", (randn(g, 1, 1, 1, 6),)))
    cases.append(Case("edge: a non-square image [1, 1, 3, 7]", (randn(g, 1, 1, 3, 7),)))
    return cases


def _tv_parts(x: Tensor) -> tuple[Tensor, Tensor]:
    return x[..., 1:, :] - x[..., :-1, :], x[..., :, 1:] - x[..., :, :-1]


TOTAL_VARIATION = Exercise(
    name="total_variation",
    notebook="ex08_restoration_prior_and_psnr",
    signature="total_variation(output) -> scalar   (output [B, C, H, W])",
    reference=_total_variation,
    cases=_tv_cases,
    hint="vertical differences x[..., 1:, :] − x[..., :-1, :] and horizontal ones "
         "x[..., :, 1:] − x[..., :, :-1]; add the sums of their absolute values and divide by "
         "output.numel().",
    mistakes=(
        Mistake(lambda x: sum(d.abs().sum() for d in _tv_parts(x)),
                "the library's R(F) is normalised: divide the sum by N = B·C·H·W "
                "(output.numel()), so λ does not depend on the image size."),
        Mistake(lambda x: sum(d.pow(2).sum() for d in _tv_parts(x)) / x.numel(),
                "total variation uses absolute differences |∂F| (an L1 penalty, which keeps "
                "edges), not squared ones."),
        Mistake(lambda x: _tv_parts(x)[1].abs().sum() / x.numel(),
                "add both directions: vertical (along H) and horizontal (along W) differences."),
        Mistake(lambda x: sum(d.abs().mean() for d in _tv_parts(x)),
                "divide both sums by the same N = B·C·H·W; a mean of each difference tensor "
                "divides by fewer terms."),
    ),
)


def _psnr_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for i in range(4):
        b, c, s = randint(g, 1, 4), randint(g, 1, 3), randint(g, 4, 12)
        target = torch.rand(b, c, s, s, generator=g, dtype=torch.float64)
        sigma = uniform(g, 0.01, 0.2)
        cases.append(Case(f"random {i + 1}: {b} images [{c}, {s}, {s}], noise σ={sigma:.3f}",
                          (target + sigma * randn(g, b, c, s, s), target)))
    target = torch.rand(2, 1, 6, 6, generator=g, dtype=torch.float64)
    cases.append(Case("edge: an output far outside [0, 1] (clamp before comparing)",
                      (target + 3 * randn(g, 2, 1, 6, 6), target)))
    target = torch.rand(3, 1, 5, 5, generator=g, dtype=torch.float64)
    noisy = target.clone()
    noisy[0] += 0.3 * randn(g, 1, 5, 5)
    noisy[1:] += 0.01 * randn(g, 2, 1, 5, 5)
    cases.append(Case("edge: one bad image among good ones (PSNR is per image)",
                      (noisy.clamp(0, 1), target)))
    return cases


def _mse(output: Tensor, target: Tensor) -> Tensor:
    return (output.clamp(0, 1) - target).pow(2).flatten(1).mean(dim=1)  # [B]


PSNR = Exercise(
    name="psnr",
    notebook="ex08_restoration_prior_and_psnr",
    signature="psnr(output, target) -> Tensor [B] in dB   (images [B, C, H, W] in [0, 1])",
    reference=_psnr,
    cases=_psnr_cases,
    hint="clamp output to [0, 1]; MSE of each image = mean over (C, H, W); "
         "PSNR = 10·log10(1 / MSE), one value per image.",
    mistakes=(
        Mistake(lambda o, t: 10 * torch.log10(1 / _mse(o, t).mean()),
                "PSNR is reported per image: average the squared error over each image's "
                "(C, H, W) only and return B values."),
        Mistake(lambda o, t: 10 * torch.log10(1 / (o - t).pow(2).flatten(1).mean(dim=1)),
                "clamp the output to the valid range [0, 1] first: a restorer's raw output can "
                "overshoot."),
        Mistake(lambda o, t: 20 * torch.log10(1 / _mse(o, t)),
                "with the MSE (a squared error) the factor is 10: 10·log10(1/MSE) = "
                "20·log10(1/RMSE)."),
        Mistake(lambda o, t: 10 * torch.log(1 / _mse(o, t)),
                "decibels use log10, not the natural logarithm."),
    ),
)


def check_total_variation(fn, seed: int | None = None) -> bool:
    """Check your ``total_variation(output)`` against the library's."""
    return run_check(TOTAL_VARIATION, fn, seed)


def check_psnr(fn, seed: int | None = None) -> bool:
    """Check your ``psnr(output, target)`` against the library's (torchmetrics)."""
    return run_check(PSNR, fn, seed)
