"""A small cycle-consistent GAN (Zhu et al. 2017) for 28×28 images between two unpaired domains.

paper symbol                         code name
G: A → B, F: B → A                   model.g_ab, model.f_ba
D_A, D_B                             model.d_a, model.d_b
λ_cyc                                cfg.lambda_cyc
L_cyc = E‖F(G(x)) − x‖₁ + E‖G(F(y)) − y‖₁   cycle_consistency_loss

The offline domains are thin-stroke characters (A) and the same kind of characters with strokes
thickened by a morphological dilation (B), drawn from disjoint classes so that no pair is ever seen.
Adversarial terms use least squares, as in the paper. Explained in
``notebooks/07_few_shot_generation.ipynb``, last section.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import finite_loss, positive_int
from ..training import LoopSpec, StepResult, run_loop
from .hypergrad import check_lr
from .losses import (
    check_weight,
    discriminator_loss_least_squares,
    generator_loss_least_squares,
)
from .models import DCDiscriminator


@dataclass(frozen=True)
class CycleGANConfig:
    lambda_cyc: float = 10.0      # λ_cyc, weight of the cycle loss (paper: 10)
    lr: float = 2e-4              # Adam learning rate of all four networks
    batch_size: int = 32
    width: int = 32
    seed: int = 0


def thicken(images: Tensor, radius: int = 1) -> Tensor:
    """Morphological dilation of strokes: max over a (2r+1)×(2r+1) window. [B, 1, H, W] → same."""
    return F.max_pool2d(images, kernel_size=2 * radius + 1, stride=1, padding=radius)


def cycle_consistency_loss(x: Tensor, x_cycled: Tensor, y: Tensor, y_cycled: Tensor,
                           lambda_cyc: float) -> Tensor:
    """λ_cyc (E‖F(G(x)) − x‖₁ + E‖G(F(y)) − y‖₁), each ‖·‖₁ averaged over pixels (as the
    reference implementation's L1Loss, for which λ_cyc = 10 was tuned)."""
    lambda_cyc = check_weight("lambda_cyc", lambda_cyc)
    return lambda_cyc * ((x_cycled - x).abs().mean() + (y_cycled - y).abs().mean())


class Translator(nn.Module):
    """Image-to-image network [B, 1, 28, 28] → [B, 1, 28, 28] in [0, 1]: down, residual, up.

    The output is σ(s·(2x − 1) + Δ(x)) with the last layer of Δ zero-initialised, so training
    starts from (almost) the identity map: the cycle holds from step 0 and the adversarial loss
    only has to learn the change of style (here: the stroke width).
    """

    def __init__(self, width: int = 32, identity_scale: float = 4.0):
        super().__init__()
        self.identity_scale = identity_scale
        self.down = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.ReLU())          # 28 → 14
        self.res = nn.Sequential(
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1))
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1), nn.ReLU(),  # 14 → 28
            nn.Conv2d(width, 1, 3, padding=1))
        nn.init.zeros_(self.up[-1].weight)
        nn.init.zeros_(self.up[-1].bias)

    def forward(self, x: Tensor) -> Tensor:
        h = self.down(x)                                                          # [B, 2w, 14, 14]
        delta = self.up(F.relu(h + self.res(h)))                                  # [B, 1, 28, 28]
        return torch.sigmoid(self.identity_scale * (2 * x - 1) + delta)


class CycleGAN(nn.Module):
    def __init__(self, width: int = 32):
        super().__init__()
        self.g_ab, self.f_ba = Translator(width), Translator(width)
        self.d_a, self.d_b = DCDiscriminator(width), DCDiscriminator(width)


@dataclass
class CycleGANState:
    model: CycleGAN
    cfg: CycleGANConfig
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    step: int = 0


def make_cyclegan(cfg: CycleGANConfig, device: str | torch.device = "cpu") -> CycleGANState:
    check_weight("lambda_cyc", cfg.lambda_cyc)
    check_lr("lr", cfg.lr)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = CycleGAN(cfg.width).to(device)
    opt_g = torch.optim.Adam([*model.g_ab.parameters(), *model.f_ba.parameters()], cfg.lr,
                             betas=(0.5, 0.999))
    opt_d = torch.optim.Adam([*model.d_a.parameters(), *model.d_b.parameters()], cfg.lr,
                             betas=(0.5, 0.999))
    return CycleGANState(model, cfg, opt_g, opt_d)


def cyclegan_generator_loss(model: CycleGAN, x: Tensor, y: Tensor,
                            lambda_cyc: float) -> tuple[Tensor, dict[str, float]]:
    """L_GAN(G, D_B) + L_GAN(F, D_A) + L_cyc for a batch x ∈ A, y ∈ B."""
    fake_b, fake_a = model.g_ab(x), model.f_ba(y)
    adv = (generator_loss_least_squares(model.d_b(fake_b))
           + generator_loss_least_squares(model.d_a(fake_a)))
    cyc = cycle_consistency_loss(x, model.f_ba(fake_b), y, model.g_ab(fake_a), lambda_cyc)
    return adv + cyc, {"adversarial": adv.item(), "cycle": cyc.item()}


def cyclegan_step(state: CycleGANState, x: Tensor, y: Tensor) -> dict[str, float]:
    """One generator step (both directions) then one step of both discriminators."""
    m = state.model
    state.step += 1
    g_loss, logs = cyclegan_generator_loss(m, x, y, state.cfg.lambda_cyc)
    with torch.no_grad():
        fake_b, fake_a = m.g_ab(x), m.f_ba(y)
    d_loss = (discriminator_loss_least_squares(m.d_b(y), m.d_b(fake_b))
              + discriminator_loss_least_squares(m.d_a(x), m.d_a(fake_a)))
    for name, loss in (("generator", g_loss), ("discriminator", d_loss)):   # before any update
        finite_loss(f"the CycleGAN {name} (step {state.step})", loss.item(),
                    f"lower lr (now {state.cfg.lr:g})")
    state.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    state.opt_g.step()
    state.opt_d.zero_grad(set_to_none=True)       # also clears the D grads left by the G step
    d_loss.backward()
    state.opt_d.step()
    return {**logs, "generator": g_loss.item(), "discriminator": d_loss.item()}


def stroke_domains(images: Tensor, radius: int = 1) -> tuple[Tensor, Tensor]:
    """uint8 [C, S, H, W] → (A: thin strokes of the first half of the classes, B: thickened
    strokes of the second half), float [N, 1, H, W] each: unpaired by construction."""
    x = images.float().div(255.0)
    half = images.shape[0] // 2
    a = x[:half].flatten(0, 1).unsqueeze(1)                                   # [N_A, 1, H, W]
    b = thicken(x[half:].flatten(0, 1).unsqueeze(1), radius)                  # [N_B, 1, H, W]
    return a, b


def train_cyclegan(state: CycleGANState, domain_a: Tensor, domain_b: Tensor, steps: int,
                   progress: bool = False) -> list[dict[str, float]]:
    """``steps`` CycleGAN steps on random unpaired batches of the two domains (on the library's
    one loop, ``training.run_loop``); returns each step's losses."""
    positive_int("steps", steps, minimum=0)
    device = next(state.model.parameters()).device
    rng = torch.Generator().manual_seed(state.cfg.seed + state.step)
    history: list[dict[str, float]] = []
    b = state.cfg.batch_size

    def step(it: int) -> StepResult:
        x = domain_a[torch.randint(0, len(domain_a), (b,), generator=rng)].to(device)
        y = domain_b[torch.randint(0, len(domain_b), (b,), generator=rng)].to(device)
        history.append(cyclegan_step(state, x, y))
        return StepResult(history[-1]["generator"], {"discriminator": history[-1]["discriminator"]})

    run_loop(step, LoopSpec(iterations=steps, params=lambda: dict(state.model.named_parameters()),
                            desc="CycleGAN", fix=f"lower lr (now {state.cfg.lr:g})",
                            progress=progress))
    return history


def translate_cycle(model: CycleGAN, x: Tensor) -> tuple[Tensor, Tensor]:
    """x → G(x) → F(G(x)) for display (no gradients)."""
    with torch.no_grad():
        fake_b = model.g_ab(x)
        return fake_b, model.f_ba(fake_b)
