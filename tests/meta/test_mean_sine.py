"""The pre-trained baseline's target: the average sine over the task sampler is −1.62 cos x.

Notebook 02 states this number (E[A] = 2.55, (1/π)∫₀^π sin(x − φ) dφ = −(2/π) cos x); these tests
average the library's own task sampler, so a change to its amplitude or phase ranges fails here.
"""

import math

import torch

from metagan_lab.meta.sinusoid import mean_sine
from metagan_lab.tasks.sinusoid import sample_sinusoid_tasks

MEAN_COS_COEFFICIENT = -2.55 * 2 / math.pi          # ≈ −1.6234, the number notebook 02 quotes


def _many_tasks(n_tasks: int = 200_000, k_shot: int = 10):
    return sample_sinusoid_tasks(n_tasks, k_shot, 1, torch.Generator().manual_seed(0),
                                 dtype=torch.float64)


def test_notebook_number_is_minus_1_62():
    assert round(MEAN_COS_COEFFICIENT, 2) == -1.62


def test_sampler_average_curve_is_minus_1_62_cos_x():
    tasks = _many_tasks()
    grid = torch.linspace(-5, 5, 41, dtype=torch.float64)
    average = tasks.curve(grid).mean(dim=0)                              # [41], Monte Carlo
    # Standard error ≤ sqrt(E[A²] / T) ≈ 0.0065; 0.03 is > 4 standard errors.
    assert torch.allclose(average, MEAN_COS_COEFFICIENT * torch.cos(grid), atol=0.03)
    assert torch.allclose(mean_sine(grid), MEAN_COS_COEFFICIENT * torch.cos(grid), atol=1e-12)


def test_least_squares_on_sampled_points_finds_minus_1_62_cos_x():
    # The pre-trained net regresses the raw (x, y) points; fit y ≈ a cos x + b sin x + c to them.
    tasks = _many_tasks()
    x = tasks.support_x.reshape(-1)                                      # [T·K]
    y = tasks.support_y.reshape(-1)
    basis = torch.stack([torch.cos(x), torch.sin(x), torch.ones_like(x)], dim=1)   # [T·K, 3]
    a, b, c = torch.linalg.lstsq(basis, y[:, None]).solution[:, 0].tolist()
    assert abs(a - MEAN_COS_COEFFICIENT) < 0.02
    assert abs(b) < 0.02 and abs(c) < 0.02
