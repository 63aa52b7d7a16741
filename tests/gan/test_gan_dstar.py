"""D*(x) = p_data / (p_data + p_g): train D on the minimax loss to convergence, compare on a grid.

Two 1-D Gaussians with different variances: the log density ratio is quadratic in x, so a
discriminator with logit a + b·x + c·x² can represent D* exactly and any remaining error is the
identity's (or the loss's) fault. 'Samples' are Gaussian quantiles, so the sample mean of the loss
equals the population loss up to O(1/n²).
"""

import torch

from metagan_lab.gan.dstar import dstar_comparison, fit_quadratic_discriminator
from metagan_lab.gan.toy2d import gaussian_quantile_samples

MU_DATA, SD_DATA, MU_G, SD_G = 0.0, 1.0, 1.5, 0.7


def test_trained_discriminator_matches_optimal_discriminator():
    logit = fit_quadratic_discriminator(gaussian_quantile_samples(20000, MU_DATA, SD_DATA),
                                        gaussian_quantile_samples(20000, MU_G, SD_G))
    grid = torch.linspace(-2.0, 3.0, 201, dtype=torch.float64)
    _, _, err = dstar_comparison(logit, grid, MU_DATA, SD_DATA, MU_G, SD_G)
    assert err < 2e-4, f"max |D − D*| on the grid = {err:.2e}"


def test_swapping_the_roles_is_detected():
    """The comparison can fail: with p_data and p_g swapped the error is large."""
    logit = fit_quadratic_discriminator(gaussian_quantile_samples(4000, MU_DATA, SD_DATA),
                                        gaussian_quantile_samples(4000, MU_G, SD_G))
    grid = torch.linspace(-2.0, 3.0, 51, dtype=torch.float64)
    _, _, err = dstar_comparison(logit, grid, MU_G, SD_G, MU_DATA, SD_DATA)
    assert err > 0.5
