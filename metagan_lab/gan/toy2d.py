"""2-D target distributions for the GAN lab (``notebooks/06_gan_lab.ipynb``), and two 1-D Gaussians
for the optimal-discriminator identity.

Every sampler has the signature ``sampler(n, generator) → Tensor [n, 2]`` and is reproducible from a
``torch.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

ToySampler = Callable[[int, "torch.Generator | None"], Tensor]


def ring_of_gaussians(n: int, generator: torch.Generator | None = None, modes: int = 8,
                      radius: float = 2.0, std: float = 0.05) -> Tensor:
    """``modes`` Gaussians (σ = std) evenly spaced on a circle: the mode-collapse test."""
    k = torch.randint(0, modes, (n,), generator=generator)
    angle = 2 * math.pi * k.double() / modes
    centres = radius * torch.stack([angle.cos(), angle.sin()], dim=1)          # [n, 2]
    return (centres + std * torch.randn(n, 2, generator=generator, dtype=torch.float64)).float()


def grid_of_gaussians(n: int, generator: torch.Generator | None = None, side: int = 5,
                      spacing: float = 1.0, std: float = 0.05) -> Tensor:
    """side × side Gaussians on a square grid centred at the origin."""
    k = torch.randint(0, side * side, (n, 2), generator=generator)[:, 0]
    centres = torch.stack([k // side, k % side], dim=1).double()
    centres = (centres - (side - 1) / 2) * spacing                             # [n, 2]
    return (centres + std * torch.randn(n, 2, generator=generator, dtype=torch.float64)).float()


def line(n: int, generator: torch.Generator | None = None, length: float = 4.0,
         std: float = 0.05) -> Tensor:
    """Points uniform on the segment y = x/2, |x| ≤ length/2, with Gaussian noise."""
    t = (torch.rand(n, generator=generator, dtype=torch.float64) - 0.5) * length
    pts = torch.stack([t, 0.5 * t], dim=1)
    return (pts + std * torch.randn(n, 2, generator=generator, dtype=torch.float64)).float()


def two_moons(n: int, generator: torch.Generator | None = None, std: float = 0.08) -> Tensor:
    """The classic two interleaving half-circles, centred and scaled to about [−2, 2]²."""
    upper = torch.rand(n, generator=generator) < 0.5
    t = torch.rand(n, generator=generator, dtype=torch.float64) * math.pi
    x = torch.where(upper, t.cos(), 1 - t.cos())
    y = torch.where(upper, t.sin(), 0.5 - t.sin())
    pts = torch.stack([x - 0.5, y - 0.25], dim=1) * 1.6
    return (pts + std * torch.randn(n, 2, generator=generator, dtype=torch.float64)).float()


TOY_DISTRIBUTIONS: dict[str, ToySampler] = {
    "ring": ring_of_gaussians,
    "grid": grid_of_gaussians,
    "line": line,
    "two_moons": two_moons,
}


def toy_sampler(name: str) -> ToySampler:
    """The sampler for a distribution name; ValueError lists the choices."""
    if name not in TOY_DISTRIBUTIONS:
        raise ValueError(f"unknown 2-D distribution {name!r}; choose one of "
                         f"{sorted(TOY_DISTRIBUTIONS)}")
    return TOY_DISTRIBUTIONS[name]


def gaussian_pdf(x: Tensor, mean: float, std: float) -> Tensor:
    """N(x; μ, σ²) = exp(−(x − μ)² / 2σ²) / (σ √(2π))."""
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def gaussian_quantile_samples(n: int, mean: float, std: float,
                              dtype: torch.dtype = torch.float64) -> Tensor:
    """n deterministic 'samples' x_i = μ + σ Φ⁻¹((i + ½)/n): sample means equal expectations
    up to O(1/n²), so a loss averaged over them is the population loss (used for the D* check)."""
    u = (torch.arange(n, dtype=dtype) + 0.5) / n
    return mean + std * torch.special.ndtri(u)                                 # [n]


def evaluate_on_grid(fn: Callable[[Tensor], Tensor], extent: float = 3.0,
                     resolution: int = 80) -> tuple[Tensor, Tensor, Tensor]:
    """fn on a resolution² grid of [−extent, extent]²: → (xs [r], ys [r], values [r, r]),
    values[i, j] = fn((xs[j], ys[i])) (row = y, as image plots expect)."""
    xs = torch.linspace(-extent, extent, resolution)
    gy, gx = torch.meshgrid(xs, xs, indexing="ij")                            # [r, r] each
    points = torch.stack([gx.flatten(), gy.flatten()], dim=1)                 # [r², 2]
    with torch.no_grad():
        values = fn(points).reshape(resolution, resolution)
    return xs, xs, values
