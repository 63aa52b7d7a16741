"""Evaluating few-shot generators: recognisability, diversity and an in-domain Inception Score.

After Boutin, Singhal, Thomas & Serre, "Diversity vs. Recognizability: human-like generalization
in one-shot generative models" (NeurIPS 2022): a good one-shot generator makes samples that a
one-shot *critic* recognises as the target class (recognisability) while varying as much as the
class's real images do (diversity). Here the critic is a ProtoNet (the shipped Conv-4 embedding),
built from the same K shots the generator was adapted on.

paper symbol                              code name
f(x), the critic's embedding              embed(x): images [M, …] → [M, D]
c_n = (1/K) Σ_k f(x_k^n)                  fewshot.protonet.prototypes (the K shots of class n)
ŷ(x) = argmin_n ‖f(x) − c_n‖²              critic_predictions(samples, support, embed)
R = P(ŷ(x) = n | x ~ G_n)                 recognisability(samples, targets, support, embed)
δ = (1/D) Σ_d std_i f_d(x_i)              feature_spread(emb); diversity(samples, embed)
IS = exp(E_x KL(p(y|x) ‖ p(y)))           inception_score(probs); inception_score_of(x, clf)
p(y|x), an in-domain classifier           train_is_classifier(train, n_classes)
p(y) = E_x p(y|x)                         marginal inside inception_score

``evaluate_generator_metrics`` runs the whole comparison on N-way episodes of unseen classes for
any generator given as ``adapt_and_generate(shots, n, seed) -> samples`` (``gan.fewshot.Adapter``:
a GAN's ``gan.fewshot.gan_adapter``, a meta-learned VAE's adapter, …); ``gan_generators`` makes
them for the few-shot GAN's initialisations. The shots reach each generator on the device of
``test.images``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import positive_int
from ..data.images import ClassImages
from ..fewshot.protonet import check_labels, prototypes, squared_distances
from ..stats import mean_ci95
from ..types import Params
from .fewshot import Adapter, gan_adapter  # Adapter: (shots [K,1,H,W], n, seed) → [n,1,H,W]

REAL = "real images"                                       # the reference row: held-out images
PROB_ATOL = 1e-4                                           # |Σ_c p(c|x) − 1| tolerated


def embed_images(images: Tensor, embed: Callable[[Tensor], Tensor],
                 batch_size: int = 256) -> Tensor:
    """f(x) for images [M, …] → [M, D], without gradients, ``batch_size`` images a pass (moved
    to the device of ``embed``'s weights when it has any)."""
    device = _device_of(embed, images.device)
    with torch.no_grad():
        return torch.cat([embed(chunk.to(device)).flatten(1) for chunk in images.split(batch_size)])


def _device_of(fn: Callable, default: torch.device) -> torch.device:
    weights = next(fn.parameters(), None) if isinstance(fn, nn.Module) else None
    return weights.device if weights is not None else default


def class_prototypes(support_emb: Tensor) -> Tensor:
    """c_n = (1/K) Σ_k f(x_k^n): support embeddings [N, K, D] → prototypes [N, D]."""
    if support_emb.dim() != 3:
        raise ValueError(f"support embeddings must be [N, K, D], got {tuple(support_emb.shape)}")
    n_way, k_shot = support_emb.shape[:2]
    labels = torch.arange(n_way, device=support_emb.device).repeat_interleave(k_shot)  # [N*K]
    return prototypes(support_emb.flatten(0, 1), labels, n_way)                       # [N, D]


def nearest_prototype(sample_emb: Tensor, protos: Tensor) -> Tensor:
    """ŷ_i = argmin_n ‖f(x_i) − c_n‖²: embeddings [M, D], prototypes [N, D] → classes [M]."""
    return squared_distances(sample_emb, protos).argmin(dim=-1)


def check_support(support: Tensor) -> tuple[int, int]:
    """The K shots of each of N classes, [N, K, …] with N ≥ 2 (1 class is always 'recognised')."""
    if support.dim() < 3:
        raise ValueError(f"support must be [N, K, …] (K shots of each of N classes), got shape "
                         f"{tuple(support.shape)}; stack the shots per class")
    if support.shape[0] < 2 or support.shape[1] < 1:
        raise ValueError(f"support has N={support.shape[0]} classes and K={support.shape[1]} "
                         "shots; recognisability needs N >= 2 classes (chance = 1/N) and K >= 1")
    return support.shape[0], support.shape[1]


def critic_predictions(samples: Tensor, support: Tensor,
                       embed: Callable[[Tensor], Tensor]) -> Tensor:
    """The ProtoNet critic's class ŷ for each sample [M, …], from support [N, K, …] → [M]."""
    n_way, k_shot = check_support(support)
    if samples.dim() < 2 or samples.shape[1:] != support.shape[2:]:
        raise ValueError(f"samples {tuple(samples.shape)} must be [M, …] with the same image "
                         f"shape as the support {tuple(support.shape)} ([N, K, …])")
    support_emb = embed_images(support.flatten(0, 1), embed).view(n_way, k_shot, -1)  # [N,K,D]
    return nearest_prototype(embed_images(samples, embed), class_prototypes(support_emb))


def _check_targets(predicted: Tensor, targets: Tensor, n_way: int) -> None:
    if targets.shape != predicted.shape:
        raise ValueError(f"targets {tuple(targets.shape)} must hold one class per sample "
                         f"({tuple(predicted.shape)})")
    check_labels("recognisability", targets, n_way, "targets")


def recognisability(samples: Tensor, targets: Tensor, support: Tensor,
                    embed: Callable[[Tensor], Tensor]) -> float:
    """R = (1/M) Σ_i [ŷ(x_i) = t_i]: the critic's accuracy on samples [M, …] meant to be of
    classes ``targets`` [M] (0..N−1), with prototypes from ``support`` [N, K, …]. Chance: 1/N."""
    predicted = critic_predictions(samples, support, embed)                          # [M]
    _check_targets(predicted, targets, support.shape[0])
    return (predicted == targets.to(predicted.device)).double().mean().item()


def recognisability_per_class(samples: Tensor, targets: Tensor, support: Tensor,
                              embed: Callable[[Tensor], Tensor]) -> Tensor:
    """R_n = accuracy on the samples meant to be of class n → [N] (NaN for a class with none)."""
    predicted = critic_predictions(samples, support, embed)                          # [M]
    n_way = support.shape[0]
    _check_targets(predicted, targets, n_way)
    hit = (predicted == targets.to(predicted.device)).double()                        # [M]
    onehot = F.one_hot(targets.to(predicted.device), n_way).double()  # [M, N]
    return (onehot.T @ hit) / onehot.sum(dim=0)                                       # [N]


def feature_spread(emb: Tensor) -> Tensor:
    """δ = (1/D) Σ_d sqrt( (1/(M−1)) Σ_i (f_d(x_i) − f̄_d)² ): mean over the D features of their
    (unbiased) standard deviation over the M samples; emb [M, D] → scalar."""
    if emb.dim() != 2 or emb.shape[0] < 2:
        raise ValueError(f"need embeddings [M, D] of M >= 2 samples to measure a spread, got "
                         f"shape {tuple(emb.shape)}")
    return emb.std(dim=0, unbiased=True).mean()


def diversity(samples: Tensor, embed: Callable[[Tensor], Tensor]) -> float:
    """Intra-class diversity of one class's samples [M, …] (M ≥ 2) in the critic's feature space:
    δ = mean over features of the standard deviation over samples (``feature_spread``). Boutin
    et al. measure this intra-class variability with a SimCLR network; here the critic's f."""
    return feature_spread(embed_images(samples, embed)).item()


def check_probabilities(probs: Tensor, atol: float = PROB_ATOL) -> Tensor:
    """p(y|x) as [M, C]: finite, ≥ 0, each row summing to 1 (within ``atol``)."""
    if probs.dim() != 2 or probs.shape[0] < 1 or probs.shape[1] < 1:
        raise ValueError(f"probs must be [M, C] (one row of class probabilities per sample), got "
                         f"shape {tuple(probs.shape)}")
    if not torch.isfinite(probs).all() or (probs < 0).any():
        raise ValueError("probs hold negative or non-finite values; pass softmax(logits)")
    worst = (probs.sum(dim=1) - 1).abs().max().item()
    if worst > atol:
        raise ValueError(f"a row of probs sums to 1 ± {worst:.3g} (tolerance {atol:g}); pass "
                         "probabilities, e.g. logits.softmax(dim=1), not logits")
    return probs


def inception_score(probs: Tensor) -> float:
    """IS = exp( (1/M) Σ_i KL(p(y|x_i) ‖ p(y)) ), p(y) = (1/M) Σ_i p(y|x_i), from probs [M, C]
    (0 log 0 = 0). 1 when every row is the same; C when rows are one-hot, spread evenly."""
    p = check_probabilities(probs)                                                   # [M, C]
    marginal = p.mean(dim=0, keepdim=True)                                           # [1, C]
    kl = (torch.xlogy(p, p) - torch.xlogy(p, marginal)).sum(dim=1)                   # [M]
    return math.exp(kl.mean().item())


def class_probabilities(images: Tensor, classifier: nn.Module, batch_size: int = 256) -> Tensor:
    """p(y|x) = softmax(classifier(x)) for images [M, …] → [M, C] (classifier's dtype)."""
    device = _device_of(classifier, images.device)
    with torch.no_grad():
        return torch.cat([classifier(chunk.to(device)).softmax(dim=1)
                          for chunk in images.split(batch_size)])


def inception_score_of(samples: Tensor, classifier: nn.Module) -> float:
    """In-domain IS of samples [M, 1, H, W] under a classifier of the training classes (e.g.
    ``gan.metrics.train_feature_classifier``), instead of Inception-v3 on ImageNet."""
    return inception_score(class_probabilities(samples, classifier).double())


def train_is_classifier(train: ClassImages, n_classes: int, steps: int = 300,
                        held_out: int = 5, seed: int = 0,
                        device: str | torch.device = "cpu") -> tuple[nn.Module, float]:
    """p(y|x) of the in-domain IS: a Conv-4 classifier of the first ``n_classes`` classes of
    ``train`` (``gan.metrics.train_feature_classifier``, ``steps`` Adam steps of batch 64) fitted
    on all but the last ``held_out`` images of each; returns it in eval mode and its accuracy on
    those held-out images (read an IS only beside a classifier that tells the classes apart)."""
    from .metrics import train_feature_classifier

    positive_int("n_classes", n_classes, minimum=2)
    if n_classes > train.n_classes:
        raise ValueError(f"n_classes={n_classes}: the training classes number only "
                         f"{train.n_classes}; ask for at most {train.n_classes}")
    if not 1 <= held_out <= train.n_samples - 1:
        raise ValueError(f"held_out={held_out!r}: keep 1 to {train.n_samples - 1} of the "
                         f"{train.n_samples} images of each class to measure the accuracy")
    part = train.subset(list(range(n_classes)))
    fit = ClassImages(part.images[:, :-held_out], part.names)
    classifier = train_feature_classifier(fit, steps=steps, batch_size=64, seed=seed,
                                          device=device).eval()
    x = part.images[:, -held_out:].flatten(0, 1).unsqueeze(1).float() / 255.0  # [C*H, 1, 28, 28]
    y = torch.arange(n_classes).repeat_interleave(held_out)                   # [C*H]
    accuracy = (class_probabilities(x, classifier).argmax(1).cpu() == y).double().mean().item()
    return classifier, accuracy


def gan_generators(G: nn.Module, D: nn.Module, inits: dict[str, tuple[Params, Params]],
                   inner_steps: int, inner_lr: float | dict[str, float],
                   loss: str = "nonsaturating", adapt_methods: tuple[str, ...] | None = None,
                   gp_lambda: float = 10.0) -> dict[str, Adapter]:
    """method → adapt_and_generate(shots, n, seed) for few-shot GAN inits (θ_G, θ_D), one
    ``gan.fewshot.gan_adapter`` each: methods in ``adapt_methods`` (default all) take
    ``inner_steps`` steps of ``adapt_gan`` on the shots (α from ``inner_lr``, one or per method),
    the others are sampled as they are."""
    adapt_methods = tuple(inits) if adapt_methods is None else adapt_methods
    out = {}
    for name, (theta_g, theta_d) in inits.items():
        steps = inner_steps if name in adapt_methods else 0
        lr = inner_lr[name] if isinstance(inner_lr, dict) else inner_lr
        out[name] = gan_adapter(G, D, theta_g, theta_d, steps, lr if steps else 1.0, loss,
                                gp_lambda)
    return out


def episode_metrics(samples: Tensor, held_out: Tensor, support: Tensor, critic: nn.Module,
                    classifier: nn.Module | None, feature: nn.Module | None) -> dict[str, float]:
    """One N-way episode: samples [N, M, 1, H, W] of the N classes (class-major), the held-out
    real images [N, Q, 1, H, W], the shots [N, K, 1, H, W] → recognisability, diversity (mean over
    classes), in-domain IS (samples pooled), FD (mean over classes, vs the held-out images)."""
    from .metrics import frechet_distance

    n_way, m = samples.shape[:2]
    if not torch.isfinite(samples).all():          # a diverged adaptation: no score, not a crash
        keys = ["recognisability", "diversity"] + ["inception_score"] * (classifier is not None) \
            + ["fd"] * (feature is not None)
        return dict.fromkeys(keys, math.nan)
    targets = torch.arange(n_way).repeat_interleave(m)                               # [N*M]
    out = {"recognisability": recognisability(samples.flatten(0, 1), targets, support, critic),
           "diversity": sum(diversity(s, critic) for s in samples) / n_way}
    if classifier is not None:
        out["inception_score"] = inception_score_of(samples.flatten(0, 1), classifier)
    if feature is not None:
        out["fd"] = sum(frechet_distance(r, s, feature) for r, s in zip(held_out, samples)) / n_way
    return out


def evaluate_generator_metrics(generators: dict[str, Adapter], test: ClassImages,
                               critic: nn.Module, classifier: nn.Module | None = None,
                               feature: nn.Module | None = None, n_way: int = 5,
                               k_shot: int = 1, n_episodes: int = 20, n_samples: int = 20,
                               seed: int = 0, reference: bool = True,
                               ) -> dict[str, dict[str, list[float]]]:
    """Per method (and the held-out real images as ``REAL``), the metrics of each N-way episode.

    Each episode draws N unseen classes of ``test`` (``tasks.episodes.sample_episode``), K shots
    and all S − K remaining images of each; every generator gets the K shots of each class and
    makes ``n_samples`` images of it. Metrics as in ``episode_metrics``; FD needs ``feature``
    (it is left out of the ``REAL`` row: the held-out images are its reference), IS needs
    ``classifier``. Summarise with ``summarise_metrics``.
    """
    from ..tasks.episodes import sample_episode

    positive_int("n_episodes", n_episodes)
    positive_int("n_samples", n_samples, minimum=2)
    if isinstance(n_way, bool) or not isinstance(n_way, int) or n_way < 2:
        raise ValueError(f"n_way={n_way!r}: recognisability needs N >= 2 classes (chance = 1/N)")
    gen = torch.Generator().manual_seed(seed)
    ep = sample_episode(test, n_way, k_shot, test.n_samples - k_shot, n_episodes, gen)
    support = ep.support_x.unflatten(1, (n_way, k_shot))                     # [T, N, K, 1, H, W]
    held_out = ep.query_x.unflatten(1, (n_way, -1))                          # [T, N, Q, 1, H, W]
    rows = ({REAL: None} if reference else {}) | dict(generators)
    out: dict[str, dict[str, list[float]]] = {name: {} for name in rows}
    for t in range(n_episodes):
        seeds = torch.randint(0, 2**31 - 1, (n_way,), generator=gen).tolist()
        for name, fn in rows.items():
            if fn is None:
                samples, fd_feature = held_out[t], None
            else:
                samples = torch.stack([fn(support[t, n], n_samples, seeds[n])
                                       for n in range(n_way)])               # [N, M, 1, H, W]
                fd_feature = feature
            metrics = episode_metrics(samples, held_out[t], support[t], critic, classifier,
                                      fd_feature)
            for key, value in metrics.items():
                out[name].setdefault(key, []).append(value)
    return out


def summarise_metrics(per_episode: dict[str, dict[str, list[float]]]
                      ) -> dict[str, dict[str, float]]:
    """method → {metric: mean, metric_ci95: 95 % CI half-width over episodes (``mean_ci95``)}."""
    summary: dict[str, dict[str, float]] = {}
    for name, metrics in per_episode.items():
        row: dict[str, float] = {}
        for key, values in metrics.items():
            mean, ci = mean_ci95(values) if len(values) > 1 else (values[0], math.nan)
            row[key], row[f"{key}_ci95"] = mean, ci
        summary[name] = row
    return summary


METRIC_COLUMNS = (("recognisability", "recognisability R"), ("diversity", "diversity δ"),
                  ("inception_score", "in-domain IS"), ("fd", "FD"))


def format_metrics(summary: dict[str, dict[str, float]]) -> str:
    """A Markdown table of ``summarise_metrics``: one line per generator, mean ± 95 % CI per
    metric ("—" where a row has none, e.g. the real images' FD)."""
    def cell(row: dict[str, float], key: str) -> str:
        return f"{row[key]:.3g} ± {row[key + '_ci95']:.2g}" if key in row else "—"

    lines = ["| generator | " + " | ".join(title for _, title in METRIC_COLUMNS) + " |",
             "|---|" + "---|" * len(METRIC_COLUMNS)]
    lines += [f"| {name} | " + " | ".join(cell(row, key) for key, _ in METRIC_COLUMNS) + " |"
              for name, row in summary.items()]
    return "\n".join(lines)
