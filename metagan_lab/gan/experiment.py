"""The few-shot generation comparison, end to end: the one copy that the CLI
(``metagan-lab train fewshot-gan``) and ``notebooks/07_few_shot_generation.ipynb`` both call.

Methods compared on unseen classes, each given the same K shots and k adaptation steps:
  <method>_adapted       the meta-initialisation (cfg.method: reptile, maml or fomaml), adapted
                         (the few-shot GAN; "reptile_adapted" by default)
  meta_init              (a) the meta-initialisation before adaptation
  scratch                (b) a freshly initialised GAN trained on the K shots for the same k steps
  pretrained_finetuned   (c) a DCGAN pre-trained on all training classes pooled, then fine-tuned

The meta-learned VAE (``gan.meta_vae``) is measured the same way (``run_meta_vae_experiment``:
the same feature network, classes and shots) against a fresh VAE and a VAE trained on the pooled
training images, each adapted on the shots.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from ..data.images import ClassImages
from ..meta.functional import InnerLoop
from ..models import params_of
from ..stats import mean_ci95
from ..types import Params
from .fewshot import METHODS, Adapter, FewShotGANConfig, make_gan, meta_train_gan
from .fewshot_eval import evaluate_fewshot, fd_per_class, pretrain_gan, select_inner_lr
from .meta_vae import MetaVAEConfig, make_vae, meta_train_vae, vae_adapter
from .metrics import FeatureNet, feature_net, train_feature_classifier
from .vae import train_vae


def adapted_name(method: str) -> str:
    """The result name of a meta-initialisation adapted on the shots: "<method>_adapted"."""
    return f"{method}_adapted"


ADAPTED = (*(adapted_name(m) for m in METHODS), "scratch", "pretrained_finetuned")


def train_feature(train: ClassImages, steps: int, seed: int = 0,
                  device: str | torch.device = "cpu", progress: bool = False) -> FeatureNet:
    """φ of the Fréchet distance: a Conv-4 classifier of the training classes (``steps`` Adam
    steps, batch 64, seeded), so every method of a run is measured in the same feature space."""
    return feature_net(train_feature_classifier(train, steps, batch_size=64, seed=seed,
                                                device=device, progress=progress))


def summarise_fd(fd: dict[str, list[float]]) -> dict[str, tuple[float, float]]:
    """method → (mean FD, 95% CI half-width) over the evaluated classes (NaN for one class)."""
    return {k: mean_ci95(v) if len(v) > 1 else (v[0], float("nan")) for k, v in fd.items()}


@dataclass
class FewShotExperiment:
    generator: nn.Module
    discriminator: nn.Module
    inits: dict[str, tuple[Params, Params]]
    feature: FeatureNet
    fd: dict[str, list[float]]                      # method → FD per evaluated class
    inner_lrs: dict[str, float]                     # method → adaptation α (chosen on val)
    seconds: dict[str, float] = field(default_factory=dict)
    iterations: int | None = None                   # meta-iterations run (max_seconds may stop)

    def summary(self) -> dict[str, tuple[float, float]]:
        """method → (mean FD, 95% CI half-width) over the evaluated classes."""
        return summarise_fd(self.fd)


def run_fewshot_experiment(train: ClassImages, val: ClassImages | None, test: ClassImages,
                           cfg: FewShotGANConfig,
                           iterations: int, pretrain_steps: int, classifier_steps: int,
                           k_shot: int = 4, adapt_steps: int = 10, n_eval_classes: int = 20,
                           n_fake: int = 100, n_val_classes: int = 5,
                           device: str | torch.device = "cpu",
                           progress: bool = False,
                           feature: FeatureNet | None = None,
                           max_seconds: float | None = None,
                           checkpoint: str | Path | None = None) -> FewShotExperiment:
    """Meta-train (cfg.method; at most ``max_seconds`` of it when given), pre-train the
    baseline, train the feature network, choose each method's adaptation α on ``val`` (when
    given; else cfg.inner_lr for all), evaluate on ``test``."""
    seconds = {}
    t = time.perf_counter()
    ran: dict = {}
    G, D, tg, td = meta_train_gan(train.images, cfg, iterations, device, progress,
                                  checkpoint=checkpoint, max_seconds=max_seconds, history=ran)
    seconds["meta_train"] = time.perf_counter() - t
    t = time.perf_counter()
    pg, pd = pretrain_gan(train.images, cfg, pretrain_steps, device=device, progress=progress)
    seconds["pretrain"] = time.perf_counter() - t
    if feature is None:
        t = time.perf_counter()
        feature = train_feature(train, classifier_steps, cfg.seed, device, progress)
        seconds["feature_classifier"] = time.perf_counter() - t
    G0, D0 = make_gan(cfg, device, seed=cfg.seed + 1)
    inits = {adapted_name(cfg.method): (tg, td), "meta_init": (tg, td),
             "scratch": (params_of(G0, False), params_of(D0, False)),
             "pretrained_finetuned": (pg, pd)}
    t = time.perf_counter()
    adapted = {k: v for k, v in inits.items() if k in ADAPTED}
    lrs = (select_inner_lr(G, D, adapted, val.images, feature, k_shot, adapt_steps,
                           n_classes=n_val_classes, n_fake=n_fake, seed=cfg.seed + 3,
                           loss=cfg.loss, gp_lambda=cfg.gp_lambda)
           if val is not None else dict.fromkeys(adapted, cfg.inner_lr))
    seconds["select_lr"] = time.perf_counter() - t
    t = time.perf_counter()
    fd = evaluate_fewshot(G, D, inits, test.images, feature, k_shot, adapt_steps, lrs,
                          n_eval_classes, n_fake, seed=cfg.seed + 2, loss=cfg.loss,
                          adapt_methods=ADAPTED, gp_lambda=cfg.gp_lambda)
    seconds["evaluate"] = time.perf_counter() - t
    return FewShotExperiment(G, D, inits, feature, fd, lrs, seconds, ran["iterations"])


VAE_ADAPTED = ("meta_vae_adapted", "scratch_vae", "pooled_vae_finetuned")
VAE_ADAPT_LRS = (1e-3, 3e-3, 1e-2)        # Adam α candidates, chosen on validation classes


@dataclass
class MetaVAEExperiment:
    model: nn.Module
    inits: dict[str, Params]                        # method → θ of the VAE
    feature: FeatureNet
    fd: dict[str, list[float]]                      # method → FD per evaluated class
    adapt_lrs: dict[str, float]                     # method → adaptation α (chosen on val)
    seconds: dict[str, float] = field(default_factory=dict)
    iterations: int | None = None

    def summary(self) -> dict[str, tuple[float, float]]:
        """method → (mean FD, 95% CI half-width) over the evaluated classes."""
        return summarise_fd(self.fd)


def vae_adapters(model: nn.Module, inits: dict[str, Params], inner: InnerLoop,
                 lrs: dict[str, float] | float) -> dict[str, Adapter]:
    """method → adapt_and_generate: methods in ``VAE_ADAPTED`` take ``inner.steps`` steps at their
    α (``lrs``), the others are sampled as they are."""
    out = {}
    for name, theta in inits.items():
        lr = lrs[name] if isinstance(lrs, dict) and name in lrs else lrs
        steps = inner.steps if name in VAE_ADAPTED else 0
        out[name] = vae_adapter(model, theta, replace(inner, lr=lr if steps else 1.0, steps=steps))
    return out


def select_vae_adapt_lr(model: nn.Module, inits: dict[str, Params], inner: InnerLoop,
                        val_images, feature: nn.Module, k_shot: int, n_classes: int = 5,
                        n_fake: int = 100, seed: int = 0,
                        candidates: tuple[float, ...] = VAE_ADAPT_LRS) -> dict[str, float]:
    """Each adapted method's α by mean FD on validation classes (never test classes)."""
    adapted = {k: v for k, v in inits.items() if k in VAE_ADAPTED}
    best: dict[str, tuple[float, float]] = {}
    for lr in candidates:
        fd = fd_per_class(vae_adapters(model, adapted, inner, lr), val_images, feature, k_shot,
                          n_classes, n_fake, seed, next(model.parameters()).device)
        for name, values in fd.items():
            score = sum(values) / len(values)
            if name not in best or score < best[name][1]:
                best[name] = (lr, score)
    return {name: lr for name, (lr, _) in best.items()}


def run_meta_vae_experiment(train: ClassImages, val: ClassImages | None, test: ClassImages,
                            cfg: MetaVAEConfig, iterations: int, pooled_steps: int,
                            classifier_steps: int, k_shot: int = 4, adapt_steps: int = 10,
                            n_eval_classes: int = 20, n_fake: int = 100, n_val_classes: int = 5,
                            device: str | torch.device = "cpu", progress: bool = False,
                            feature: FeatureNet | None = None,
                            max_seconds: float | None = None) -> MetaVAEExperiment:
    """The meta-VAE measured like the few-shot GANs (same feature network, classes and shots):
    meta_vae_adapted (Reptile init, adapted), meta_vae_init (as it is), scratch_vae (a fresh
    VAE adapted), pooled_vae_finetuned (a VAE trained ``pooled_steps`` Adam steps on all training
    images, adapted). Adaptation: ``adapt_steps`` steps of cfg's inner optimiser, α per method
    chosen on ``val`` (else cfg.inner_lr)."""
    seconds, ran = {}, {}
    t = time.perf_counter()
    model, theta = meta_train_vae(train.images, cfg, iterations, device, progress,
                                  max_seconds=max_seconds, history=ran)
    seconds["meta_train"] = time.perf_counter() - t
    t = time.perf_counter()
    pooled = make_vae(cfg, device, seed=cfg.seed + 1)
    train_vae(pooled, train.images.flatten(0, 1).unsqueeze(1).float().div(255).to(device),
              pooled_steps, seed=cfg.seed, progress=progress)
    seconds["pretrain"] = time.perf_counter() - t
    if feature is None:
        t = time.perf_counter()
        feature = train_feature(train, classifier_steps, cfg.seed, device, progress)
        seconds["feature_classifier"] = time.perf_counter() - t
    inits = {"meta_vae_adapted": theta, "meta_vae_init": theta,
             "scratch_vae": params_of(make_vae(cfg, device, seed=cfg.seed + 1), False),
             "pooled_vae_finetuned": params_of(pooled, False)}
    inner = cfg.inner(steps=adapt_steps)
    t = time.perf_counter()
    lrs = (select_vae_adapt_lr(model, inits, inner, val.images, feature, k_shot, n_val_classes,
                               n_fake, seed=cfg.seed + 3)
           if val is not None else dict.fromkeys(VAE_ADAPTED, cfg.inner_lr))
    seconds["select_lr"] = time.perf_counter() - t
    t = time.perf_counter()
    fd = fd_per_class(vae_adapters(model, inits, inner, lrs), test.images, feature, k_shot,
                      n_eval_classes, n_fake, seed=cfg.seed + 2, device=device)
    seconds["evaluate"] = time.perf_counter() - t
    return MetaVAEExperiment(model, inits, feature, fd, lrs, seconds, ran.get("iterations"))
