"""Few-shot generation by meta-learning: a Reptile-trained GAN in the spirit of FIGR
(Clouâtre & Demers 2019), and the baselines it must beat.

paper symbol                         code name
θ = (θ_G, θ_D)                       theta_g, theta_d  (explicit Params dicts)
task τ = one character class         the images of one class
k inner steps (1 D + 1 G step each)  inner_steps; α = inner_lr
φ̃ = weights after k steps on τ       gan_inner_loop(...) → (phi_g, phi_d)
θ ← θ + ε (mean_τ φ̃_τ − θ)            ``meta.reptile.reptile_update`` for G and for D
K shots of an unseen class           shots [K, 1, 28, 28]; adapt_gan(...)

Each inner step is ``meta.functional.adapt`` with one step and ``first_order=True`` (Reptile never
differentiates through the inner loop), first on D with the discriminator loss as a closure, then
on G with the generator loss through the just-updated D. Explained in
``notebooks/07_few_shot_generation.ipynb``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ..meta.functional import adapt
from ..meta.reptile import reptile_update
from ..models import params_of
from ..types import Params
from .hypergrad import check_lr
from .losses import get_losses
from .models import DCDiscriminator, DCGenerator
from .train import NonFiniteLossError


@dataclass(frozen=True)
class FewShotGANConfig:
    loss: str = "nonsaturating"   # see gan.losses.LOSSES (WGAN-GP's penalty is not used here)
    inner_lr: float = 0.05        # α of the inner SGD steps (meta-training and adaptation)
    inner_steps: int = 5          # k: (D step, G step) pairs per task
    epsilon: float = 0.1          # ε, Reptile's outer step size
    meta_batch: int = 4           # classes (tasks) per meta-iteration
    task_batch: int = 10          # images of the class used in each inner step
    z_dim: int = 32
    width: int = 32
    seed: int = 0


def check_k_shot(k_shot: int, n_available: int) -> int:
    """Raise ValueError unless 1 ≤ K ≤ the images available for the class."""
    if not isinstance(k_shot, int) or not 1 <= k_shot <= n_available:
        raise ValueError(f"k_shot must be an integer in [1, {n_available}], got {k_shot!r}")
    return k_shot


def make_gan(cfg: FewShotGANConfig, device: str | torch.device = "cpu",
             seed: int | None = None) -> tuple[DCGenerator, DCDiscriminator]:
    """A fresh unconditional DCGAN pair, initialised from ``seed`` (default cfg.seed)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed if seed is None else seed)
        return (DCGenerator(cfg.z_dim, cfg.width).to(device),
                DCDiscriminator(cfg.width).to(device))


def _leaf(params: Params) -> Params:
    return {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}


def gan_inner_loop(G: nn.Module, D: nn.Module, theta_g: Params, theta_d: Params, images: Tensor,
                   inner_steps: int, inner_lr: float, loss: str = "nonsaturating",
                   batch_size: int | None = None,
                   rng: torch.Generator | None = None) -> tuple[Params, Params]:
    """k alternating SGD steps of D then G on one class's images [N, 1, 28, 28] → (φ_G, φ_D).

    Each step: φ_D ← φ_D − α ∇L_D(x, G_φG(z)),  then  φ_G ← φ_G − α ∇L_G(D_φD(G_φG(z))).
    ``batch_size`` images are drawn (with replacement) per step; None uses all N every step.
    """
    d_loss_fn, g_loss_fn = get_losses(loss)
    check_lr("inner_lr", inner_lr)
    device = images.device
    phi_g, phi_d = _leaf(theta_g), _leaf(theta_d)
    n = images.shape[0]
    for _ in range(inner_steps):
        if batch_size is None:
            x, b = images, n
        else:
            x, b = images[torch.randint(0, n, (batch_size,), generator=rng).to(device)], batch_size
        z = torch.randn(b, G.z_dim, generator=rng, dtype=images.dtype).to(device)
        with torch.no_grad():
            fake = functional_call(G, phi_g, (z,))                           # [b, 1, 28, 28]
        phi_d = _leaf(adapt(D, phi_d, torch.cat([x, fake]), b, inner_lr, 1, first_order=True,
                            loss_fn=lambda logits, nb: d_loss_fn(logits[:nb], logits[nb:])))
        z = torch.randn(b, G.z_dim, generator=rng, dtype=images.dtype).to(device)
        phi_g = _leaf(adapt(G, phi_g, z, phi_d, inner_lr, 1, first_order=True,
                            loss_fn=lambda img, pd: g_loss_fn(functional_call(D, pd, (img,)))))
    return ({k: v.detach() for k, v in phi_g.items()}, {k: v.detach() for k, v in phi_d.items()})


def _check_finite_params(params: Params, where: str, hint: str) -> None:
    bad = [k for k, v in params.items() if not torch.isfinite(v).all()]
    if bad:
        raise NonFiniteLossError(f"{where}: non-finite weights in {bad[:3]}; {hint}")


def reptile_gan_step(G: nn.Module, D: nn.Module, theta_g: Params, theta_d: Params,
                     class_images: Tensor, cfg: FewShotGANConfig,
                     rng: torch.Generator) -> tuple[Params, Params]:
    """One meta-iteration: meta_batch random classes, k inner steps each, Reptile on G and D.

    class_images: float [C, S, 1, 28, 28] on the models' device.
    """
    classes = torch.randperm(class_images.shape[0], generator=rng)[:cfg.meta_batch]
    phis = [gan_inner_loop(G, D, theta_g, theta_d, class_images[c], cfg.inner_steps,
                           cfg.inner_lr, cfg.loss, cfg.task_batch, rng) for c in classes.tolist()]
    return (reptile_update(theta_g, [p[0] for p in phis], cfg.epsilon),
            reptile_update(theta_d, [p[1] for p in phis], cfg.epsilon))


def meta_train_gan(class_images: Tensor, cfg: FewShotGANConfig, iterations: int,
                   device: str | torch.device = "cpu", progress: bool = False,
                   init: tuple[Params, Params] | None = None
                   ) -> tuple[DCGenerator, DCDiscriminator, Params, Params]:
    """Reptile meta-training over classes: uint8 [C, S, 28, 28] → (G, D, θ_G, θ_D)."""
    if not 0 < cfg.epsilon <= 1 or not math.isfinite(cfg.epsilon):
        raise ValueError(f"epsilon must be in (0, 1], got {cfg.epsilon!r}")
    if cfg.meta_batch < 1:
        raise ValueError(f"meta_batch must be >= 1, got {cfg.meta_batch!r}")
    G, D = make_gan(cfg, device)
    theta_g, theta_d = init if init is not None else (params_of(G, False), params_of(D, False))
    images = (class_images.unsqueeze(2).float() / 255.0).to(device)          # [C, S, 1, 28, 28]
    rng = torch.Generator().manual_seed(cfg.seed)
    it = range(iterations)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="Reptile GAN", leave=False)
    for i in it:
        theta_g, theta_d = reptile_gan_step(G, D, theta_g, theta_d, images, cfg, rng)
        _check_finite_params({**theta_g, **theta_d}, f"meta-iteration {i + 1}",
                             f"lower inner_lr (now {cfg.inner_lr:g}) or epsilon "
                             f"(now {cfg.epsilon:g})")
    return G, D, theta_g, theta_d


def adapt_gan(G: nn.Module, D: nn.Module, theta_g: Params, theta_d: Params, shots: Tensor,
              inner_steps: int, inner_lr: float, loss: str = "nonsaturating",
              seed: int = 0) -> tuple[Params, Params]:
    """Adapt (θ_G, θ_D) to an unseen class from its K shots [K, 1, 28, 28] in k steps."""
    check_k_shot(shots.shape[0], shots.shape[0])
    if not isinstance(inner_steps, int) or inner_steps < 0:
        raise ValueError(f"inner_steps must be a non-negative integer, got {inner_steps!r}")
    rng = torch.Generator().manual_seed(seed)
    return gan_inner_loop(G, D, theta_g, theta_d, shots, inner_steps, inner_lr, loss, None, rng)


def generate(G: nn.Module, theta_g: Params, n: int, seed: int = 0) -> Tensor:
    """n samples G_θ(z) [n, 1, 28, 28] from fixed noise (same z for every method compared)."""
    ref = next(iter(theta_g.values()))
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed), dtype=ref.dtype)
    with torch.no_grad():
        return functional_call(G, theta_g, (z.to(ref.device),))


def evaluate_fewshot(G: nn.Module, D: nn.Module, inits: dict[str, tuple[Params, Params]],
                     test_images: Tensor, feature: nn.Module, k_shot: int, inner_steps: int,
                     inner_lr: float | dict[str, float], n_classes: int = 10, n_fake: int = 100,
                     seed: int = 0,
                     loss: str = "nonsaturating", adapt_methods: tuple[str, ...] | None = None,
                     ) -> dict[str, list[float]]:
    """Fréchet distance per unseen class for each initialisation in ``inits``.

    test_images: uint8 [C, S, 28, 28]. For each of ``n_classes`` classes, K shots are drawn; each
    init in ``adapt_methods`` (default: all) is adapted on them for k steps, the others are used
    as they are; ``n_fake`` samples are compared with the class's S − K remaining images.
    ``inner_lr`` may be one α for all, or a dict method → α. A method whose adaptation diverges
    (non-finite samples) scores FD = inf for that class.
    """
    check_k_shot(k_shot, test_images.shape[1] - 2)
    adapt_methods = tuple(inits) if adapt_methods is None else adapt_methods
    gen = torch.Generator().manual_seed(seed)
    device = next(iter(next(iter(inits.values()))[0].values())).device
    classes = torch.randperm(test_images.shape[0], generator=gen)[:n_classes]
    out: dict[str, list[float]] = {name: [] for name in inits}
    from .metrics import frechet_distance

    for c in classes.tolist():
        order = torch.randperm(test_images.shape[1], generator=gen)
        imgs = (test_images[c, order].unsqueeze(1).float() / 255.0).to(device)  # [S, 1, 28, 28]
        shots, held_out = imgs[:k_shot], imgs[k_shot:]
        for name, (tg, td) in inits.items():
            if name in adapt_methods:
                lr = inner_lr[name] if isinstance(inner_lr, dict) else inner_lr
                tg, _ = adapt_gan(G, D, tg, td, shots, inner_steps, lr, loss, seed=c)
            fake = generate(G, tg, n_fake, seed=c)
            out[name].append(frechet_distance(held_out, fake, feature)
                             if torch.isfinite(fake).all() else math.inf)
    return out


def pretrain_gan(class_images: Tensor, cfg: FewShotGANConfig, steps: int, batch_size: int = 64,
                 lr: float = 2e-4, device: str | torch.device = "cpu",
                 progress: bool = False) -> tuple[Params, Params]:
    """Baseline (c): one DCGAN trained with Adam on the images of all training classes pooled
    (uint8 [C, S, 28, 28]); its weights are then fine-tuned like the meta-initialisation."""
    from .train import GANConfig, image_sampler, make_gan_state, train_steps

    G, D = make_gan(cfg, device)
    gan_cfg = GANConfig(loss=cfg.loss, lr_g=lr, lr_d=lr, batch_size=batch_size, seed=cfg.seed,
                        check_every=max(steps, 1))
    state = make_gan_state(G, D, image_sampler(class_images), gan_cfg, device)
    train_steps(state, steps, progress=progress)
    return params_of(G, False), params_of(D, False)


def select_inner_lr(G: nn.Module, D: nn.Module, inits: dict[str, tuple[Params, Params]],
                    val_images: Tensor, feature: nn.Module, k_shot: int, inner_steps: int,
                    candidates: tuple[float, ...] = (0.05, 0.01, 0.002), n_classes: int = 5,
                    n_fake: int = 100, seed: int = 0, loss: str = "nonsaturating",
                    ) -> dict[str, float]:
    """Each method's adaptation α chosen by mean FD on validation classes (never test classes),
    so that every baseline gets its best learning rate."""
    best: dict[str, tuple[float, float]] = {}
    for lr in candidates:
        fd = evaluate_fewshot(G, D, inits, val_images, feature, k_shot, inner_steps, lr,
                              n_classes, n_fake, seed, loss)
        for name, values in fd.items():
            score = sum(values) / len(values)
            if name not in best or score < best[name][1]:
                best[name] = (lr, score)
    return {name: lr for name, (lr, _) in best.items()}
