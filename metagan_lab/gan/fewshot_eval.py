"""Baselines and the Fréchet evaluation of few-shot generators (``gan.fewshot``'s GANs and the
meta-VAE of ``gan.meta_vae`` are scored by the same functions).

paper / lesson step                              code name
baseline (c): one DCGAN on all training classes  pretrain_gan(class_images, cfg, steps)
FD per unseen class of each method's samples     fd_per_class(adapters, test_images, feature, K)
… for GAN initialisations (θ_G, θ_D)             evaluate_fewshot(G, D, inits, …)
each method's adaptation α, on validation        select_inner_lr(G, D, inits, val_images, …)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..models import params_of
from ..types import Params
from .fewshot import Adapter, FewShotGANConfig, check_k_shot, gan_adapter, make_gan


def fd_per_class(adapters: dict[str, Adapter], test_images: Tensor, feature: nn.Module,
                 k_shot: int, n_classes: int = 10, n_fake: int = 100, seed: int = 0,
                 device: str | torch.device = "cpu") -> dict[str, list[float]]:
    """Fréchet distance per unseen class for each method's ``adapt_and_generate``.

    test_images: uint8 [C, S, 28, 28]. ``n_classes`` classes and the order of each class's images
    come from ``seed`` (the same for every method, so methods see the same K shots); each method
    makes ``n_fake`` samples (seed = the class index) from the K shots, compared with the class's
    S − K other images. Non-finite samples (a diverged adaptation) score FD = inf.
    """
    from .metrics import frechet_distance

    check_k_shot(k_shot, test_images.shape[1] - 2)
    gen = torch.Generator().manual_seed(seed)
    classes = torch.randperm(test_images.shape[0], generator=gen)[:n_classes]
    out: dict[str, list[float]] = {name: [] for name in adapters}
    for c in classes.tolist():
        order = torch.randperm(test_images.shape[1], generator=gen)
        imgs = (test_images[c, order].unsqueeze(1).float() / 255.0).to(device)  # [S, 1, 28, 28]
        shots, held_out = imgs[:k_shot], imgs[k_shot:]
        for name, adapt_and_generate in adapters.items():
            fake = adapt_and_generate(shots, n_fake, c)                   # [n_fake, 1, 28, 28]
            out[name].append(frechet_distance(held_out, fake, feature)
                             if torch.isfinite(fake).all() else math.inf)
    return out


def evaluate_fewshot(G: nn.Module, D: nn.Module, inits: dict[str, tuple[Params, Params]],
                     test_images: Tensor, feature: nn.Module, k_shot: int, inner_steps: int,
                     inner_lr: float | dict[str, float], n_classes: int = 10, n_fake: int = 100,
                     seed: int = 0,
                     loss: str = "nonsaturating", adapt_methods: tuple[str, ...] | None = None,
                     gp_lambda: float = 10.0) -> dict[str, list[float]]:
    """Fréchet distance per unseen class for each initialisation in ``inits``.

    test_images: uint8 [C, S, 28, 28]. For each of ``n_classes`` classes, K shots are drawn; each
    init in ``adapt_methods`` (default: all) is adapted on them for k steps, the others are used
    as they are; ``n_fake`` samples are compared with the class's S − K remaining images
    (``fd_per_class`` over ``gan_adapter``s). ``inner_lr`` may be one α for all, or a dict
    method → α. A method whose adaptation diverges (non-finite samples) scores FD = inf.
    """
    adapt_methods = tuple(inits) if adapt_methods is None else adapt_methods
    device = next(iter(next(iter(inits.values()))[0].values())).device
    adapters = {}
    for name, (tg, td) in inits.items():
        adapted = name in adapt_methods
        lr = inner_lr[name] if adapted and isinstance(inner_lr, dict) else inner_lr
        adapters[name] = gan_adapter(G, D, tg, td, inner_steps if adapted else 0,
                                     lr if adapted else 1.0, loss, gp_lambda)
    return fd_per_class(adapters, test_images, feature, k_shot, n_classes, n_fake, seed, device)


def pretrain_gan(class_images: Tensor, cfg: FewShotGANConfig, steps: int, batch_size: int = 64,
                 lr: float = 2e-4, device: str | torch.device = "cpu",
                 progress: bool = False) -> tuple[Params, Params]:
    """Baseline (c): one DCGAN trained with Adam on the images of all training classes pooled
    (uint8 [C, S, 28, 28]), with the R1 penalty γ = ``cfg.pretrain_r1`` on D (notebook 06) so
    that it does not collapse; its weights are then fine-tuned like the meta-initialisation."""
    from .train import GANConfig, image_sampler, make_gan_state, train_steps

    G, D = make_gan(cfg, device)
    gan_cfg = GANConfig(loss=cfg.loss, lr_g=lr, lr_d=lr, batch_size=batch_size, seed=cfg.seed,
                        gp_lambda=cfg.gp_lambda, r1_gamma=cfg.pretrain_r1,
                        check_every=max(steps, 1))
    state = make_gan_state(G, D, image_sampler(class_images), gan_cfg, device)
    train_steps(state, steps, progress=progress)
    return params_of(G, False), params_of(D, False)


def select_inner_lr(G: nn.Module, D: nn.Module, inits: dict[str, tuple[Params, Params]],
                    val_images: Tensor, feature: nn.Module, k_shot: int, inner_steps: int,
                    candidates: tuple[float, ...] = (0.05, 0.01, 0.002), n_classes: int = 5,
                    n_fake: int = 100, seed: int = 0, loss: str = "nonsaturating",
                    gp_lambda: float = 10.0) -> dict[str, float]:
    """Each method's adaptation α chosen by mean FD on validation classes (never test classes),
    so that every baseline gets its best learning rate."""
    best: dict[str, tuple[float, float]] = {}
    for lr in candidates:
        fd = evaluate_fewshot(G, D, inits, val_images, feature, k_shot, inner_steps, lr,
                              n_classes, n_fake, seed, loss, gp_lambda=gp_lambda)
        for name, values in fd.items():
            score = sum(values) / len(values)
            if name not in best or score < best[name][1]:
                best[name] = (lr, score)
    return {name: lr for name, (lr, _) in best.items()}
