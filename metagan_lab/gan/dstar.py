"""The optimal discriminator, measured: fit D to convergence on two 1-D distributions and compare
with D*(x) = p_data(x) / (p_data(x) + p_g(x)) (Goodfellow et al. 2014, Prop. 1).

For two Gaussians log p_data/p_g is quadratic in x, so a discriminator with logit
ℓ(x) = a + b x + c x² can represent D* exactly; what remains is optimisation and sampling error.
Explained in ``notebooks/06_gan_lab.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .losses import discriminator_loss_minimax, optimal_discriminator
from .toy2d import gaussian_pdf


def fit_quadratic_discriminator(real: Tensor, fake: Tensor,
                                max_iter: int = 500) -> Callable[[Tensor], Tensor]:
    """Minimise L_D = −E[log D(x)] − E[log(1 − D(x̃))] over ℓ(x) = a + b x + c x² with L-BFGS
    (float64) on 1-D samples real [n], fake [m]; returns the fitted logit function."""
    real, fake = real.double(), fake.double()
    coef = torch.zeros(3, dtype=torch.float64, requires_grad=True)

    def logit(x: Tensor) -> Tensor:
        return coef[0] + coef[1] * x + coef[2] * x * x

    opt = torch.optim.LBFGS([coef], lr=1, max_iter=max_iter, tolerance_grad=1e-12,
                            tolerance_change=1e-15, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = discriminator_loss_minimax(logit(real), logit(fake))
        loss.backward()
        return loss

    opt.step(closure)
    return lambda x: logit(x.double()).detach()


def dstar_comparison(logit: Callable[[Tensor], Tensor], grid: Tensor, mu_data: float,
                     sd_data: float, mu_g: float, sd_g: float) -> tuple[Tensor, Tensor, float]:
    """(σ(ℓ(grid)), D*(grid), max |D − D*|) for p_data = N(μ_d, σ_d²), p_g = N(μ_g, σ_g²)."""
    d_fit = torch.sigmoid(logit(grid))
    d_star = optimal_discriminator(gaussian_pdf(grid, mu_data, sd_data),
                                   gaussian_pdf(grid, mu_g, sd_g))
    return d_fit, d_star, (d_fit - d_star).abs().max().item()
