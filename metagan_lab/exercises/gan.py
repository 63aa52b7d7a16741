"""Exercises for notebook 06: the non-saturating generator loss and the R1 penalty.

exercise                       learner writes                          library reference
generator_loss_nonsaturating   L_G = −E_z[log D(G(z))], D = σ(ℓ)       gan.losses (same name)
r1_penalty                     (γ/2) E_x[‖∇_x D(x)‖²], the norm over    gan.losses.r1_penalty
                               all of a sample's channels and pixels
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..gan import losses as ref
from .checking import Case, Exercise, Mistake, randint, randn, run_check, uniform
from .checking import value_and_gradient as scalar_with_gradient


def _ns_cases(g: torch.Generator) -> list[Case]:
    cases = [Case(f"random {i + 1}: {b} fake logits", (3 * randn(g, b),))
             for i, b in enumerate(randint(g, 2, 64) for _ in range(4))]
    cases.append(Case("edge: D confidently rejects the fakes (very negative logits)",
                      (torch.tensor([-1000.0, -50.0, -5.0], dtype=torch.float64),)))
    cases.append(Case("edge: a single sample", (randn(g, 1),)))
    return cases


def _ref_ns(fake_logits: Tensor) -> Tensor:
    return ref.generator_loss_nonsaturating(fake_logits)


GENERATOR_LOSS_NONSATURATING = Exercise(
    name="generator_loss_nonsaturating",
    notebook="ex06_gan_losses",
    signature="generator_loss_nonsaturating(fake_logits) -> scalar   (fake_logits [B])",
    reference=_ref_ns,
    cases=_ns_cases,
    hint="D(G(z)) = σ(ℓ), so −log D(G(z)) = −log σ(ℓ) = softplus(−ℓ); average over the batch.",
    mistakes=(
        Mistake(lambda lo: -F.softplus(lo).mean(),
                "that is the saturating loss E[log(1 − D(G(z)))]; the non-saturating one "
                "maximises log D(G(z)), i.e. minimises −log σ(ℓ)."),
        Mistake(lambda lo: -torch.log(torch.sigmoid(lo)).mean(),
                "log(sigmoid(ℓ)) overflows to −inf for very negative ℓ; use the stable identity "
                "−log σ(ℓ) = softplus(−ℓ) (torch.nn.functional.softplus)."),
        Mistake(lambda lo: F.softplus(-lo).sum(),
                "E_z is a mean over the batch, not a sum."),
    ),
)


class SmallCritic:
    """a small random critic D(x) = tanh(flatten(x) @ W) @ v, x [B, C, H, W] → [B]"""

    def __init__(self, W: Tensor, v: Tensor):
        self.W, self.v = W, v                                            # [C*H*W, hidden], [hidden]

    def __call__(self, x: Tensor) -> Tensor:
        return torch.tanh(x.flatten(1) @ self.W) @ self.v                # [B]


def _ref_r1(critic, real: Tensor, r1_gamma: float) -> Tensor:
    return ref.r1_penalty(critic, real, r1_gamma)


def _evaluate_r1(fn, case: Case) -> dict[str, Tensor]:
    """The penalty and its gradient with respect to the critic's weights W (D is trained on it)."""
    critic, real, gamma = case.args
    W = critic.W.detach().clone().requires_grad_(True)
    return scalar_with_gradient(
        fn(SmallCritic(W, critic.v), real, gamma), W, "penalty", "d penalty / d W",
        "the penalty is not differentiable with respect to D's weights, so the D step cannot "
        "minimise it: compute ∇_x D(x) with torch.autograd.grad(..., create_graph=True)")


def _r1_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for i in range(4):
        b, c, s, hidden = randint(g, 2, 6), randint(g, 1, 3), randint(g, 2, 5), randint(g, 2, 8)
        critic = SmallCritic(randn(g, c * s * s, hidden) / s, randn(g, hidden))
        cases.append(Case(f"random {i + 1}: {b} images [{c}, {s}, {s}]",
                          (critic, randn(g, b, c, s, s), uniform(g, 0.5, 10.0))))
    critic = SmallCritic(randn(g, 3 * 4 * 4, 5) / 4, randn(g, 5))
    cases.append(Case("edge: RGB images (the norm must cover channels *and* pixels)",
                      (critic, randn(g, 3, 3, 4, 4), 1.0)))
    cases.append(Case("edge: γ = 0 switches the penalty off", (critic, randn(g, 2, 3, 4, 4), 0.0)))
    return cases


def _channel_norm_bug(critic, real, gamma):
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return 0.5 * gamma * grad.norm(dim=1).pow(2).mean()                  # norm over C only


def _no_half(critic, real, gamma):
    return 2 * ref.r1_penalty(critic, real, gamma)


def _not_squared(critic, real, gamma):
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return 0.5 * gamma * grad.flatten(1).norm(dim=1).mean()


R1_PENALTY = Exercise(
    name="r1_penalty",
    notebook="ex06_gan_losses",
    signature="r1_penalty(critic, real, r1_gamma) -> scalar   (real [B, C, H, W]; critic(x) → [B])",
    reference=_ref_r1,
    cases=_r1_cases,
    evaluate=_evaluate_r1,
    hint="x = real.detach().requires_grad_(True); grad = torch.autograd.grad(critic(x).sum(), x, "
         "create_graph=True)[0]; per sample ‖grad‖² summed over channels and pixels; "
         "(γ/2) × the batch mean.",
    mistakes=(
        Mistake(_channel_norm_bug,
                "the norm is over *all* of a sample's entries (flatten(1) then norm over dim 1), "
                "not over the channel axis only."),
        Mistake(_no_half, "R1 is (γ/2)·E‖∇D‖²: multiply by γ/2, not γ."),
        Mistake(_not_squared, "square the gradient norm: E‖∇_x D(x)‖²."),
    ),
)


def check_generator_loss_nonsaturating(fn, seed: int | None = None) -> bool:
    """Check your ``generator_loss_nonsaturating(fake_logits)`` against the library's."""
    return run_check(GENERATOR_LOSS_NONSATURATING, fn, seed)


def check_r1_penalty(fn, seed: int | None = None) -> bool:
    """Check your ``r1_penalty(critic, real, r1_gamma)``: value and gradient w.r.t. D's weights."""
    return run_check(R1_PENALTY, fn, seed)
