"""GAN objectives, one function per equation; D always returns logits (no sigmoid inside).

paper symbol                     code name
D(x) = σ(ℓ(x))                   ``real_logits`` ℓ(x), ``fake_logits`` ℓ(G(z))
V(G, D) (Goodfellow et al. 2014)  minimax_value
λ (WGAN-GP), γ (R1)              gp_lambda, r1_gamma

Every loss is a number to *minimise* by the player it names: the discriminator minimises −V, the
generator minimises V (saturating) or −E log D(G(z)) (non-saturating). Explained in
``notebooks/06_gan_lab.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..checks import non_negative_number

CriticFn = Callable[[Tensor], Tensor]


def check_weight(name: str, value: float) -> float:
    """Raise ValueError unless a penalty weight (λ, γ, λ_cyc) is finite and ≥ 0."""
    return non_negative_number(name, value, "use 0 to switch the term off")


def minimax_value(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """V(G, D) = E_x[log D(x)] + E_z[log(1 − D(G(z)))], with log σ(ℓ) = −softplus(−ℓ)."""
    return -F.softplus(-real_logits).mean() - F.softplus(fake_logits).mean()


def discriminator_loss_minimax(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """L_D = −V(G, D) = −E[log D(x)] − E[log(1 − D(G(z)))] (binary cross-entropy, real = 1)."""
    return -minimax_value(real_logits, fake_logits)


def generator_loss_saturating(fake_logits: Tensor) -> Tensor:
    """L_G = E_z[log(1 − D(G(z)))]: minimax generator loss; its gradient vanishes when D wins."""
    return -F.softplus(fake_logits).mean()


def generator_loss_nonsaturating(fake_logits: Tensor) -> Tensor:
    """L_G = −E_z[log D(G(z))] (Goodfellow et al. 2014, §3): same fixed point, strong early grad."""
    return F.softplus(-fake_logits).mean()


def discriminator_loss_least_squares(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """LSGAN (Mao et al. 2017): L_D = ½ E[(D(x) − 1)²] + ½ E[D(G(z))²], D the raw output."""
    return 0.5 * (real_logits - 1).pow(2).mean() + 0.5 * fake_logits.pow(2).mean()


def generator_loss_least_squares(fake_logits: Tensor) -> Tensor:
    """LSGAN: L_G = ½ E[(D(G(z)) − 1)²]."""
    return 0.5 * (fake_logits - 1).pow(2).mean()


def critic_loss_wasserstein(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """WGAN critic (Arjovsky et al. 2017): L_D = E[D(G(z))] − E[D(x)] (add the gradient penalty)."""
    return fake_scores.mean() - real_scores.mean()


def generator_loss_wasserstein(fake_scores: Tensor) -> Tensor:
    """WGAN (and hinge) generator: L_G = −E[D(G(z))]."""
    return -fake_scores.mean()


def discriminator_loss_hinge(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Hinge loss (Lim & Ye 2017): E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))]."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def input_gradient_norms(critic: CriticFn, x: Tensor, create_graph: bool = True) -> Tensor:
    """‖∇_x D(x)‖₂ per sample, the norm over ALL of a sample's channels and pixels.

    x [B, ...] → [B]. (A classic bug takes the norm over the channel axis only, giving one norm
    per pixel; ``tests/gan/test_gan_losses.py`` pins the difference.)
    """
    if not x.requires_grad:
        x = x.detach().requires_grad_(True)
    scores = critic(x)                                                   # [B] or [B, 1]
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=create_graph)
    return grad.flatten(1).norm(dim=1)                                   # [B]


def interpolate(real: Tensor, fake: Tensor, eps: Tensor) -> Tensor:
    """x̂ = ε x + (1 − ε) x̃, ε ~ U[0, 1] per sample (eps [B]); the WGAN-GP sampling points."""
    eps = eps.reshape(-1, *([1] * (real.dim() - 1)))                     # [B, 1, 1, 1]
    return eps * real + (1 - eps) * fake


def gradient_penalty(critic: CriticFn, real: Tensor, fake: Tensor, gp_lambda: float,
                     generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): λ E_x̂[(‖∇_x̂ D(x̂)‖₂ − 1)²] on interpolates x̂."""
    gp_lambda = check_weight("gp_lambda", gp_lambda)
    eps = torch.rand(real.shape[0], generator=generator, device=real.device, dtype=real.dtype)
    x_hat = interpolate(real.detach(), fake.detach(), eps)
    return gp_lambda * (input_gradient_norms(critic, x_hat) - 1).pow(2).mean()


def r1_penalty(critic: CriticFn, real: Tensor, r1_gamma: float) -> Tensor:
    """R1 (Mescheder et al. 2018): (γ/2) E_x[‖∇_x D(x)‖²] on real data only."""
    r1_gamma = check_weight("r1_gamma", r1_gamma)
    return 0.5 * r1_gamma * input_gradient_norms(critic, real.detach()).pow(2).mean()


def optimal_discriminator(p_data: Tensor, p_g: Tensor) -> Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)) (Goodfellow et al. 2014, Prop. 1)."""
    return p_data / (p_data + p_g)


def generator_logit_gradients(fake_logits: Tensor) -> dict[str, Tensor]:
    """∂L_G/∂ℓ for each generator loss at logits ℓ = logit D(G(z)) (per sample, autograd).

    saturating:     ∂/∂ℓ log(1 − σ(ℓ)) = −σ(ℓ)       → 0 when D confidently rejects (ℓ ≪ 0)
    non-saturating: ∂/∂ℓ −log σ(ℓ)    = σ(ℓ) − 1    → −1 there: G still learns early on
    """
    out = {}
    for name, fn in (("saturating", generator_loss_saturating),
                     ("nonsaturating", generator_loss_nonsaturating)):
        logits = fake_logits.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(logits) * logits.numel(), logits)  # undo the mean
        out[name] = grad
    return out


DiscriminatorLoss = Callable[[Tensor, Tensor], Tensor]
GeneratorLoss = Callable[[Tensor], Tensor]

# loss name → (discriminator loss, generator loss); WGAN-GP adds gradient_penalty in the D step.
LOSSES: dict[str, tuple[DiscriminatorLoss, GeneratorLoss]] = {
    "minimax": (discriminator_loss_minimax, generator_loss_saturating),
    "nonsaturating": (discriminator_loss_minimax, generator_loss_nonsaturating),
    "least_squares": (discriminator_loss_least_squares, generator_loss_least_squares),
    "wgan_gp": (critic_loss_wasserstein, generator_loss_wasserstein),
    "hinge": (discriminator_loss_hinge, generator_loss_wasserstein),
}


def get_losses(name: str) -> tuple[DiscriminatorLoss, GeneratorLoss]:
    """(L_D, L_G) for a loss name; ValueError lists the choices."""
    if name not in LOSSES:
        raise ValueError(f"unknown GAN loss {name!r}; choose one of {sorted(LOSSES)}")
    return LOSSES[name]
