"""D*(x) = p_data / (p_data + p_g): train D on the minimax loss to convergence, compare on a grid.

Two 1-D Gaussians with different variances: the log density ratio is quadratic in x, so a
discriminator with logit a + b·x + c·x² can represent D* exactly and any remaining error is the
identity's (or the loss's) fault. 'Samples' are Gaussian quantiles, so the sample mean of the loss
equals the population loss up to O(1/n²).
"""

import torch

from metagan_lab.gan.losses import discriminator_loss_minimax, optimal_discriminator
from metagan_lab.gan.toy2d import gaussian_pdf, gaussian_quantile_samples

MU_DATA, SD_DATA, MU_G, SD_G = 0.0, 1.0, 1.5, 0.7


def fit_quadratic_discriminator(n=20000):
    real = gaussian_quantile_samples(n, MU_DATA, SD_DATA)
    fake = gaussian_quantile_samples(n, MU_G, SD_G)
    coef = torch.zeros(3, dtype=torch.float64, requires_grad=True)

    def logit(x):
        return coef[0] + coef[1] * x + coef[2] * x * x

    opt = torch.optim.LBFGS([coef], lr=1, max_iter=500, tolerance_grad=1e-12,
                            tolerance_change=1e-15, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = discriminator_loss_minimax(logit(real), logit(fake))
        loss.backward()
        return loss

    opt.step(closure)
    return logit


def test_trained_discriminator_matches_optimal_discriminator():
    logit = fit_quadratic_discriminator()
    grid = torch.linspace(-2.0, 3.0, 201, dtype=torch.float64)
    d_star = optimal_discriminator(gaussian_pdf(grid, MU_DATA, SD_DATA),
                                   gaussian_pdf(grid, MU_G, SD_G))
    with torch.no_grad():
        err = (torch.sigmoid(logit(grid)) - d_star).abs().max().item()
    assert err < 2e-4, f"max |D − D*| on the grid = {err:.2e}"


def test_swapping_the_roles_is_detected():
    """Sanity: the fitted D is far from the wrong formula p_g / (p_data + p_g)."""
    logit = fit_quadratic_discriminator(4000)
    grid = torch.linspace(-2.0, 3.0, 51, dtype=torch.float64)
    wrong = optimal_discriminator(gaussian_pdf(grid, MU_G, SD_G),
                                  gaussian_pdf(grid, MU_DATA, SD_DATA))
    with torch.no_grad():
        assert (torch.sigmoid(logit(grid)) - wrong).abs().max().item() > 0.5
