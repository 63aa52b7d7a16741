"""The few-shot generation comparison, end to end: the one copy that the CLI
(``metagan-lab train fewshot-gan``) and ``notebooks/07_few_shot_generation.ipynb`` both call.

Methods compared on unseen classes, each given the same K shots and k adaptation steps:
  reptile_adapted        Reptile meta-initialisation, adapted (the few-shot GAN)
  meta_init              (a) the meta-initialisation before adaptation
  scratch                (b) a freshly initialised GAN trained on the K shots for the same k steps
  pretrained_finetuned   (c) a DCGAN pre-trained on all training classes pooled, then fine-tuned
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import nn

from ..data.images import ClassImages
from ..models import params_of
from ..stats import mean_ci95
from ..types import Params
from .fewshot import (
    FewShotGANConfig,
    evaluate_fewshot,
    make_gan,
    meta_train_gan,
    pretrain_gan,
    select_inner_lr,
)
from .metrics import FeatureNet, feature_net, train_feature_classifier

ADAPTED = ("reptile_adapted", "scratch", "pretrained_finetuned")


@dataclass
class FewShotExperiment:
    generator: nn.Module
    discriminator: nn.Module
    inits: dict[str, tuple[Params, Params]]
    feature: FeatureNet
    fd: dict[str, list[float]]                      # method → FD per evaluated class
    inner_lrs: dict[str, float]                     # method → adaptation α (chosen on val)
    seconds: dict[str, float] = field(default_factory=dict)

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
                           feature: FeatureNet | None = None) -> FewShotExperiment:
    """Meta-train, pre-train the baseline, train the feature network, choose each method's
    adaptation α on ``val`` (when given; else cfg.inner_lr for all), evaluate on ``test``."""
    seconds = {}
    t = time.perf_counter()
    G, D, tg, td = meta_train_gan(train.images, cfg, iterations, device, progress)
    seconds["meta_train"] = time.perf_counter() - t
    t = time.perf_counter()
    pg, pd = pretrain_gan(train.images, cfg, pretrain_steps, device=device, progress=progress)
    seconds["pretrain"] = time.perf_counter() - t
    if feature is None:
        t = time.perf_counter()
        feature = feature_net(train_feature_classifier(train, classifier_steps, batch_size=64,
                                                       seed=cfg.seed, device=device,
                                                       progress=progress))
        seconds["feature_classifier"] = time.perf_counter() - t
    G0, D0 = make_gan(cfg, device, seed=cfg.seed + 1)
    inits = {"reptile_adapted": (tg, td), "meta_init": (tg, td),
             "scratch": (params_of(G0, False), params_of(D0, False)),
             "pretrained_finetuned": (pg, pd)}
    t = time.perf_counter()
    adapted = {k: v for k, v in inits.items() if k in ADAPTED}
    lrs = (select_inner_lr(G, D, adapted, val.images, feature, k_shot, adapt_steps,
                           n_classes=n_val_classes, n_fake=n_fake, seed=cfg.seed + 3,
                           loss=cfg.loss)
           if val is not None else dict.fromkeys(adapted, cfg.inner_lr))
    seconds["select_lr"] = time.perf_counter() - t
    t = time.perf_counter()
    fd = evaluate_fewshot(G, D, inits, test.images, feature, k_shot, adapt_steps, lrs,
                          n_eval_classes, n_fake, seed=cfg.seed + 2, loss=cfg.loss,
                          adapt_methods=ADAPTED)
    seconds["evaluate"] = time.perf_counter() - t
    return FewShotExperiment(G, D, inits, feature, fd, lrs, seconds)
