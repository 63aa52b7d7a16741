"""What the few-shot generator kinds' ``eval`` shares (statistician, fewshot_gan, meta_vae):
recognisability R and diversity δ by the shipped one-shot critic on N-way K-shot episodes of
unseen classes, the held-out real images as reference, the Fréchet distance and the in-domain
Inception Score when asked (``gan.recognisability.evaluate_generator_metrics``), and the JSON
keys of their summary (``metric_keys``: each a mean over episodes, with <key>_ci95 its 95 % CI).

Keys of ``metagan-lab eval CKPT --json``, by kind:
  fewshot_gan, meta_vae  fd_<method> as before (K shots, k steps, --episodes unseen classes,
                         n_fake = --samples or 100 per class), then on --episodes (10) N-way
                         K-shot episodes (M = --samples or 19 per class): recognisability_<method>,
                         diversity_<method>, real_recognisability, real_diversity
  statistician           recognisability, diversity, fd (per class vs its held-out images),
                         real_recognisability, real_diversity; 30 5-way 1-shot episodes, M = 19
  any, with --is-classes C   inception_score[_<method>], real_inception_score, and is_classes,
                         is_steps, is_classifier_accuracy (a Conv-4 classifier of C training
                         classes is trained first: ~25 s on a CPU, so never by default)
Protocol keys of all three: ways, shots, episodes, samples, seed, critic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import nn

from ..data import ClassImages
from .data import check_fits, describe_part
from .images import shipped_encoder
from .options import EvalOptions

CRITIC = "protonet-20w1s"           # the one-shot critic of recognisability (Boutin et al. 2022)
DEFAULT_WAYS, DEFAULT_SAMPLES = 5, 19
IS_STEPS = 300                      # Adam steps of the IS classifier (~25 s on one CPU thread)
DIGITS = 4                          # the JSON rounds every metric to this many decimals

if TYPE_CHECKING:
    from ..gan.fewshot import Adapter  # (shots [K, 1, H, W], n, seed) → [n, 1, H, W]


class EpisodeProtocol(NamedTuple):
    """N-way K-shot episodes of unseen classes on which every generator is measured."""

    ways: int                # N classes per episode (chance R = 1/N)
    shots: int               # K shots of each class, given to the generator and the critic
    episodes: int            # episodes, each with its own classes, shots and noise
    samples: int             # generated images per class
    seed: int                # draws the episodes and the noise


def episode_protocol(options: EvalOptions, shots: int, episodes: int,
                     test: ClassImages) -> EpisodeProtocol:
    """N from --ways (default 5), M from --samples (default 19), K and the episode count from
    the kind; refused in one line if the test classes cannot give them (≥ 2 held-out images)."""
    ways, samples = options.ways or DEFAULT_WAYS, options.samples or DEFAULT_SAMPLES
    check_fits(test, "test", ways, 0, 0)
    if shots > test.n_samples - 2:
        raise ValueError(f"--shots {shots}: {describe_part(test, 'test')} has "
                         f"{test.n_samples} images per class and the real reference needs 2 "
                         f"held-out ones; use --shots <= {test.n_samples - 2}")
    return EpisodeProtocol(ways, shots, episodes, samples, options.seed)


def is_classifier(options: EvalOptions, train: ClassImages,
                  device: torch.device) -> tuple[nn.Module | None, dict]:
    """With --is-classes C: a Conv-4 classifier of C training classes (``IS_STEPS`` steps,
    ``gan.recognisability.train_is_classifier``) and the keys describing it; else (None, {})."""
    from ..gan.recognisability import train_is_classifier

    if options.is_classes is None:
        return None, {}
    if options.is_classes > train.n_classes:
        raise ValueError(f"--is-classes {options.is_classes}: {describe_part(train, 'training')}"
                         f" has only {train.n_classes} classes; use --is-classes <= "
                         f"{train.n_classes}")
    classifier, accuracy = train_is_classifier(train, options.is_classes, IS_STEPS,
                                               device=device)
    return classifier, {"is_classes": options.is_classes, "is_steps": IS_STEPS,
                        "is_classifier_accuracy": round(accuracy, DIGITS)}


def metric_keys(summary: dict[str, dict[str, float]], single: str | None = None
                ) -> dict[str, float]:
    """``gan.recognisability.summarise_metrics`` → JSON keys rounded to ``DIGITS``:
    {metric}_{method}[_ci95] per generator, real_{metric}[_ci95] for the held-out real images,
    plain {metric}[_ci95] for the generator named ``single``."""
    from ..gan.recognisability import REAL

    out = {}
    for name, row in summary.items():
        for key, value in row.items():
            ci = "_ci95" if key.endswith("_ci95") else ""
            metric = key.removesuffix(ci)
            label = ("real_" + metric if name == REAL else metric if name == single
                     else f"{metric}_{name}")
            out[label + ci] = round(value, DIGITS)
    return out


def fd_keys(fd: dict[str, list[float]]) -> dict[str, float]:
    """method → FD per unseen class (``gan.fewshot_eval.fd_per_class``) → fd_{method} (mean) and
    fd_{method}_ci95 (``gan.experiment.summarise_fd``), rounded to ``DIGITS``."""
    from ..gan.experiment import summarise_fd

    out = {}
    for method, (mean, ci) in summarise_fd(fd).items():
        out[f"fd_{method}"], out[f"fd_{method}_ci95"] = round(mean, DIGITS), round(ci, DIGITS)
    return out


def generator_metrics(generators: dict[str, Adapter], split, protocol: EpisodeProtocol,
                      options: EvalOptions, device: torch.device,
                      feature: nn.Module | None = None, single: str | None = None) -> dict:
    """R and δ of each generator (and IS with --is-classes, FD with ``feature``) on the
    protocol's episodes of ``split.test``, critic ``CRITIC``: the protocol and ``metric_keys``."""
    from ..gan.recognisability import evaluate_generator_metrics, summarise_metrics

    classifier, is_info = is_classifier(options, split.train, device)
    per_episode = evaluate_generator_metrics(
        generators, split.test.to(device), shipped_encoder(CRITIC, device), classifier, feature,
        protocol.ways, protocol.shots, protocol.episodes, protocol.samples, protocol.seed)
    return {**protocol._asdict(), "critic": CRITIC, **is_info,
            **metric_keys(summarise_metrics(per_episode), single)}
