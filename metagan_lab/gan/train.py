"""GAN training: one D step, one G step, and ``train_steps(state, n)``, the pure loop every widget,
notebook and CLI command calls.

paper symbol            code name
k (D steps per G step)  cfg.d_steps
α_G, α_D                cfg.lr_g, cfg.lr_d
λ (WGAN-GP), γ (R1)     cfg.gp_lambda, cfg.r1_gamma

Failure is loud: a non-finite loss raises ``checks.TrainingDiverged`` (the library's one divergence
exception) naming the step and a fix, before the step is applied; a
generator whose samples lose their diversity is reported (``state.collapse_step`` and a warning, or
``ModeCollapseError`` with ``cfg.stop_on_collapse``).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..checks import TrainingDiverged, positive_int
from ..types import Params
from .hypergrad import HypergradState, check_lr, hypergradient_sgd_step
from .losses import check_weight, get_losses, gradient_penalty, r1_penalty

RealSampler = Callable[[int, torch.Generator], tuple[Tensor, "Tensor | None"]]
OPTIMIZERS = ("adam", "sgd", "hypergradient")


@dataclass(frozen=True)
class GANConfig:
    loss: str = "nonsaturating"     # minimax | nonsaturating | least_squares | wgan_gp | hinge
    lr_g: float = 1e-3              # α_G (initial α_G with optimizer='hypergradient')
    lr_d: float = 1e-3              # α_D
    d_steps: int = 1                # D updates per G update
    r1_gamma: float = 0.0           # γ of the R1 penalty (0 = off; 1–10 stabilises)
    gp_lambda: float = 10.0         # λ of WGAN-GP (only for loss='wgan_gp')
    batch_size: int = 128
    optimizer: str = "adam"         # adam | sgd | hypergradient (SGD-HD, Baydin et al. 2018)
    hyper_lr: float = 1e-4          # β, the learning rate of the learning rates (hypergradient)
    betas: tuple[float, float] = (0.5, 0.999)   # Adam's β1, β2 (DCGAN setting)
    collapse_threshold: float = 0.1  # relative sample diversity below this = collapse
    check_every: int = 50           # steps between diversity checks
    collapse_after: int = 200       # no collapse verdict before this step (G starts narrow)
    stop_on_collapse: bool = False  # raise ModeCollapseError instead of warning
    seed: int = 0


NonFiniteLossError = TrainingDiverged   # the old name (notebook 06 imports it); same class


class ModeCollapseError(RuntimeError):
    """Generated samples became near-identical (see ``relative_diversity``)."""


def validate_config(cfg: GANConfig) -> GANConfig:
    """Raise ValueError naming the first bad value."""
    get_losses(cfg.loss)
    check_lr("lr_g", cfg.lr_g)
    check_lr("lr_d", cfg.lr_d)
    check_weight("r1_gamma", cfg.r1_gamma)
    check_weight("gp_lambda", cfg.gp_lambda)
    check_weight("hyper_lr", cfg.hyper_lr)
    for name in ("d_steps", "batch_size", "check_every"):
        positive_int(name, getattr(cfg, name))
    if cfg.optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer={cfg.optimizer!r}; choose one of {OPTIMIZERS}")
    if not 0 <= cfg.collapse_threshold < 1:
        raise ValueError(f"collapse_threshold must be in [0, 1), got {cfg.collapse_threshold!r}")
    return cfg


def sample_diversity(x: Tensor) -> Tensor:
    """Mean pairwise Euclidean distance between samples: (2 / n(n−1)) Σ_{i<j} ‖x_i − x_j‖₂."""
    return torch.pdist(x.flatten(1).double()).mean()


def relative_diversity(fake: Tensor, real: Tensor) -> float:
    """diversity(G(z)) / diversity(x): ≈ 1 for a healthy G, → 0 when G collapses to one output."""
    return (sample_diversity(fake) / sample_diversity(real).clamp_min(1e-12)).item()


def _optimizer(module: nn.Module, cfg: GANConfig, lr: float):
    if cfg.optimizer == "adam":
        return torch.optim.Adam(module.parameters(), lr=lr, betas=cfg.betas)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(module.parameters(), lr=lr)
    return HypergradState(lr, None)


@dataclass
class GANState:
    """Everything a training run carries; ``train_steps`` advances it in place and returns it."""

    generator: nn.Module
    discriminator: nn.Module
    sample_real: RealSampler
    cfg: GANConfig
    opt_g: object = None
    opt_d: object = None
    rng: torch.Generator = field(default_factory=torch.Generator)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    step: int = 0
    collapse_step: int | None = None
    history: dict[str, list[float]] = field(default_factory=lambda: {
        "step": [], "d_loss": [], "g_loss": [], "lr_g": [], "lr_d": [],
        "diversity_step": [], "diversity": []})


def make_gan_state(generator: nn.Module, discriminator: nn.Module, sample_real: RealSampler,
                   cfg: GANConfig, device: str | torch.device = "cpu") -> GANState:
    """Validate ``cfg``, move the models, build the optimisers and a seeded noise generator."""
    validate_config(cfg)
    device = torch.device(device)
    generator.to(device).train()
    discriminator.to(device).train()
    return GANState(generator, discriminator, sample_real, cfg,
                    opt_g=_optimizer(generator, cfg, cfg.lr_g),
                    opt_d=_optimizer(discriminator, cfg, cfg.lr_d),
                    rng=torch.Generator().manual_seed(cfg.seed), device=device)


def reconfigure(state: GANState, **changes) -> GANState:
    """Change hyper-parameters mid-run (the lab's sliders); learning rates reach the optimisers."""
    cfg = validate_config(dataclasses.replace(state.cfg, **changes))
    if cfg.optimizer != state.cfg.optimizer:
        state.opt_g = _optimizer(state.generator, cfg, cfg.lr_g)
        state.opt_d = _optimizer(state.discriminator, cfg, cfg.lr_d)
    for opt, lr in ((state.opt_g, cfg.lr_g), (state.opt_d, cfg.lr_d)):
        if isinstance(opt, torch.optim.Optimizer):
            for group in opt.param_groups:
                group["lr"] = lr
    if cfg.optimizer == "hypergradient":                 # a slider move resets α to its value
        if "lr_g" in changes:
            state.opt_g = state.opt_g._replace(lr=cfg.lr_g)
        if "lr_d" in changes:
            state.opt_d = state.opt_d._replace(lr=cfg.lr_d)
    state.cfg = cfg
    return state


def sample_noise(state: GANState, n: int) -> Tensor:
    """z ~ N(0, I): [n, z_dim] from the run's own generator (reproducible)."""
    return torch.randn(n, state.generator.z_dim, generator=state.rng).to(state.device)


def _real_batch(state: GANState, n: int) -> tuple[Tensor, Tensor | None]:
    x, y = state.sample_real(n, state.rng)
    return x.to(state.device), (None if y is None else y.to(state.device))


def _check_finite(loss: Tensor, who: str, state: GANState) -> None:
    if torch.isfinite(loss).item():
        return
    lr = state.cfg.lr_d if who == "discriminator" else state.cfg.lr_g
    name = "lr_d" if who == "discriminator" else "lr_g"
    hint = ("switch the R1 penalty on (r1_gamma=10)" if state.cfg.r1_gamma == 0
            else f"raise r1_gamma (now {state.cfg.r1_gamma})")
    raise TrainingDiverged(
        f"step {state.step}: the {who} loss became {loss.item()} (loss={state.cfg.loss!r}); "
        f"lower {name} (now {lr:g}, try {lr / 10:g}) or {hint}. Training stopped; the models "
        f"hold the weights of step {state.step - 1}.")


def _apply(module: nn.Module, loss: Tensor, opt, hyper_lr: float):
    """One optimiser step on ``module``; returns the (possibly new) optimiser state."""
    if isinstance(opt, torch.optim.Optimizer):
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return opt
    params: Params = dict(module.named_parameters())
    grads = torch.autograd.grad(loss, list(params.values()))
    new, opt = hypergradient_sgd_step({k: p.detach() for k, p in params.items()},
                                      dict(zip(params, grads)), opt, hyper_lr)
    with torch.no_grad():
        for k, p in params.items():
            p.copy_(new[k])
    return opt


def current_lr(opt) -> float:
    return opt.lr if isinstance(opt, HypergradState) else opt.param_groups[0]["lr"]


def discriminator_step(state: GANState) -> float:
    """min_D L_D(real, G(z).detach()) (+ λ·GP or γ/2·R1); returns the loss."""
    cfg, D = state.cfg, state.discriminator
    d_loss_fn, _ = get_losses(cfg.loss)
    x, y = _real_batch(state, cfg.batch_size)
    with torch.no_grad():
        fake = state.generator(sample_noise(state, cfg.batch_size), y)    # D step: no grad into G
    loss = d_loss_fn(D(x, y), D(fake, y))

    def critic(v: Tensor) -> Tensor:
        return D(v, y)

    if cfg.loss == "wgan_gp" and cfg.gp_lambda > 0:
        loss = loss + gradient_penalty(critic, x, fake, cfg.gp_lambda,
                                       generator=state.rng if x.device.type == "cpu" else None)
    if cfg.r1_gamma > 0:
        loss = loss + r1_penalty(critic, x, cfg.r1_gamma)
    _check_finite(loss, "discriminator", state)
    state.opt_d = _apply(D, loss, state.opt_d, cfg.hyper_lr)
    return loss.item()


def generator_step(state: GANState) -> float:
    """min_G L_G(D(G(z))); D's weights receive gradients but are not stepped here."""
    cfg = state.cfg
    _, g_loss_fn = get_losses(cfg.loss)
    _, y = _real_batch(state, cfg.batch_size) if state.generator.n_classes else (None, None)
    fake = state.generator(sample_noise(state, cfg.batch_size), y)
    loss = g_loss_fn(state.discriminator(fake, y))
    _check_finite(loss, "generator", state)
    state.opt_g = _apply(state.generator, loss, state.opt_g, cfg.hyper_lr)
    state.discriminator.zero_grad(set_to_none=True)
    return loss.item()


def check_collapse(state: GANState, n: int = 256) -> float:
    """Record the relative diversity; report collapse (warning or ModeCollapseError)."""
    x, y = _real_batch(state, n)
    with torch.no_grad():
        fake = state.generator(sample_noise(state, n), y)
    div = relative_diversity(fake, x)
    state.history["diversity_step"].append(state.step)
    state.history["diversity"].append(div)
    if state.step >= state.cfg.collapse_after and div < state.cfg.collapse_threshold:
        message = (f"step {state.step}: mode collapse — generated samples are {div:.3f}× as "
                   f"diverse as real ones (threshold {state.cfg.collapse_threshold}); try the "
                   "non-saturating or WGAN-GP loss, a lower lr_g, more d_steps, or R1 on")
        if state.cfg.stop_on_collapse:
            raise ModeCollapseError(message)
        if state.collapse_step is None:
            warnings.warn(message, RuntimeWarning, stacklevel=3)
            state.collapse_step = state.step
    return div


def train_steps(state: GANState, n: int, progress: bool = False) -> GANState:
    """Advance training by ``n`` generator steps (each after ``cfg.d_steps`` D steps).

    This is the GAN lab's stepper: widgets call it a few steps at a time and read
    ``state.history``; it writes no checkpoint (trainers that do run on ``training.run_loop``).
    """
    positive_int("n (steps)", n, minimum=0)
    steps = range(n)
    if progress:
        from tqdm.auto import tqdm
        steps = tqdm(steps, desc="GAN", leave=False)
    for _ in steps:
        state.step += 1
        d_loss = math.fsum(discriminator_step(state) for _ in range(state.cfg.d_steps))
        g_loss = generator_step(state)
        h = state.history
        h["step"].append(state.step)
        h["d_loss"].append(d_loss / state.cfg.d_steps)
        h["g_loss"].append(g_loss)
        h["lr_g"].append(current_lr(state.opt_g))
        h["lr_d"].append(current_lr(state.opt_d))
        if state.step % state.cfg.check_every == 0:
            check_collapse(state)
    return state


def image_sampler(images: Tensor, conditional: bool = False) -> RealSampler:
    """Sampler over uint8 images [classes, samples, H, W] → (x [n, 1, H, W] in [0, 1], y | None)."""
    n_classes, n_samples = images.shape[:2]

    def sample(n: int, rng: torch.Generator) -> tuple[Tensor, Tensor | None]:
        c = torch.randint(0, n_classes, (n,), generator=rng)
        s = torch.randint(0, n_samples, (n,), generator=rng)
        x = images[c, s].unsqueeze(1).float() / 255.0                           # [n, 1, H, W]
        return x, (c if conditional else None)

    return sample


def toy_real_sampler(sampler: Callable[[int, torch.Generator], Tensor]) -> RealSampler:
    """Wrap a 2-D toy sampler (``gan.toy2d``) as an unconditional ``RealSampler``."""
    return lambda n, rng: (sampler(n, rng), None)


def generator_gradient_norms(state: GANState, n: int = 256) -> dict[str, float]:
    """‖∇_θG L_G‖ for the saturating and the non-saturating generator loss at the current weights.

    At the start of training D rejects G(z) easily (D(G(z)) ≈ 0), where the saturating loss
    log(1 − D(G(z))) is flat: its gradient is orders of magnitude smaller than the non-saturating
    one (Goodfellow et al. 2014, §3).
    """
    from .losses import generator_loss_nonsaturating, generator_loss_saturating

    params = [p for p in state.generator.parameters() if p.requires_grad]
    _, y = _real_batch(state, n) if state.generator.n_classes else (None, None)
    z = sample_noise(state, n)
    out = {}
    for name, fn in (("saturating", generator_loss_saturating),
                     ("nonsaturating", generator_loss_nonsaturating)):
        loss = fn(state.discriminator(state.generator(z, y), y))
        grads = torch.autograd.grad(loss, params)
        out[name] = torch.sqrt(sum(g.pow(2).sum() for g in grads)).item()
    return out
