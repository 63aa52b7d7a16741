"""Exercises for notebook 07 (few-shot generation): the VAE's reparameterisation and KL term.

exercise          learner writes                                     library reference
reparameterize    z = μ + σ ⊙ ε, σ = exp(½ log σ²)                   gan.vae.reparameterize
kl_divergence     KL(N(μ, σ²) ‖ N(0, I)) = ½ Σ_j (μ² + σ² − 1 − log σ²),  gan.vae.kl_divergence
                  summed over latent dimensions, averaged over the batch
"""

from __future__ import annotations

import torch

from ..gan import vae as ref
from .checking import Case, Exercise, Mistake, randint, randn, run_check


def _latent_cases(g: torch.Generator, with_eps: bool) -> list[Case]:
    cases = []
    for i in range(4):
        b, z = randint(g, 1, 8), randint(g, 1, 16)
        args = (randn(g, b, z), randn(g, b, z)) + ((randn(g, b, z),) if with_eps else ())
        cases.append(Case(f"random {i + 1}: batch {b}, {z} latent dimensions", args))
    zeros = torch.zeros(3, 4, dtype=torch.float64)
    cases.append(Case("edge: μ = 0, log σ² = 0 (the prior itself)",
                      (zeros, zeros.clone()) + ((randn(g, 3, 4),) if with_eps else ())))
    cases.append(Case("edge: large variances (log σ² = 4)",
                      (randn(g, 2, 3), torch.full((2, 3), 4.0, dtype=torch.float64))
                      + ((randn(g, 2, 3),) if with_eps else ())))
    return cases


REPARAMETERIZE = Exercise(
    name="reparameterize",
    notebook="ex07_vae_terms",
    signature="reparameterize(mu, logvar, eps) -> z   (all [B, z_dim])",
    reference=ref.reparameterize,
    cases=lambda g: _latent_cases(g, with_eps=True),
    hint="logvar is log σ², so σ = exp(logvar / 2); z = μ + σ ⊙ ε.",
    mistakes=(
        Mistake(lambda mu, lv, eps: mu + torch.exp(lv) * eps,
                "exp(logvar) is the variance σ²; the noise is scaled by the standard deviation "
                "σ = exp(logvar / 2)."),
        Mistake(lambda mu, lv, eps: mu + lv * eps,
                "logvar is a logarithm: take exp(logvar / 2) to get σ."),
    ),
)

KL_DIVERGENCE = Exercise(
    name="kl_divergence",
    notebook="ex07_vae_terms",
    signature="kl_divergence(mu, logvar) -> scalar   (mu, logvar [B, z_dim])",
    reference=ref.kl_divergence,
    cases=lambda g: _latent_cases(g, with_eps=False),
    hint="per sample ½ Σ_j (μ_j² + exp(logvar_j) − 1 − logvar_j), summed over the latent "
         "dimensions j, then the mean over the batch.",
    mistakes=(
        Mistake(lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() - 1 - lv).mean(),
                "sum over the latent dimensions (the KL of independent dimensions adds up); "
                "average only over the batch."),
        Mistake(lambda mu, lv: (mu.pow(2) + lv.exp() - 1 - lv).sum(dim=1).mean(),
                "do not forget the factor ½."),
        Mistake(lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp().pow(2) - 1 - 2 * lv).sum(dim=1)
                .mean(),
                "logvar is already log σ² (not log σ): σ² = exp(logvar)."),
    ),
)


def check_reparameterize(fn, seed: int | None = None) -> bool:
    """Check your ``reparameterize(mu, logvar, eps)`` against the library's."""
    return run_check(REPARAMETERIZE, fn, seed)


def check_kl_divergence(fn, seed: int | None = None) -> bool:
    """Check your ``kl_divergence(mu, logvar)`` against the library's."""
    return run_check(KL_DIVERGENCE, fn, seed)
