"""The few-shot generation comparison, end to end: the one copy that the CLI
(``metagan-lab train fewshot-gan``) and ``notebooks/07_few_shot_generation.ipynb`` both call.

Methods compared on unseen classes, each given the same K shots and k adaptation steps:
  <method>_adapted       the meta-initialisation (cfg.method: reptile, maml or fomaml), adapted
                         (the few-shot GAN; "reptile_adapted" by default)
  meta_init              (a) the meta-initialisation before adaptation
  scratch                (b) a freshly initialised GAN trained on the K shots for the same k steps
  pretrained_finetuned   (c) a DCGAN pre-trained on all training classes pooled, then fine-tuned
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..data.images import ClassImages
from ..models import params_of
from ..stats import mean_ci95
from ..types import Params
from .fewshot import (
    METHODS,
    FewShotGANConfig,
    evaluate_fewshot,
    make_gan,
    meta_train_gan,
    pretrain_gan,
    select_inner_lr,
)
from .metrics import FeatureNet, feature_net, train_feature_classifier


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
        return {k: mean_ci95(v) if len(v) > 1 else (v[0], float("nan"))
                for k, v in self.fd.items()}


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
