"""kind 'statistician': a Neural-Statistician-style conditional VAE, the amortised one-shot
generator of ``gan.statistician`` (``metagan-lab train statistician``).

Format: {"kind": "statistician", "config": StatisticianConfig as a dict, "state_dict",
"iterations", "dataset"} (``gan.statistician.checkpoint_dict``).
"""

from __future__ import annotations

import torch

from ..data import DataOptions, for_checkpoint, load_split
from ..generation import episode_protocol, generator_metrics
from ..images import feature_network, rows_png
from ..options import EvalOptions

REQUIRED = ("config", "state_dict")
EVAL_OPTIONS = ("ways", "shots", "episodes", "samples", "is_classes")
DEFAULT_SHOTS, DEFAULT_EPISODES = 1, 30      # N = 5 ways, M = 19 samples: runs.generation
SAMPLE_CLASSES, MAX_ROW = 4, 16


def checkpoint(model, config, iterations: int | None, dataset: str | None) -> dict:
    """The checkpoint of a trained ``gan.statistician.Statistician``."""
    from ...gan.statistician import checkpoint_dict

    return checkpoint_dict(model, config, iterations, dataset)


def build(ckpt: dict, device: str | torch.device = "cpu"):
    """The ``gan.statistician.Statistician`` with the trained weights, in eval mode."""
    from ...gan.statistician import StatisticianConfig, make_statistician

    model = make_statistician(StatisticianConfig(**ckpt["config"]), device)
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


def describe(ckpt: dict) -> dict:
    return {"kind": "statistician", "algorithm": "statistician",
            "iterations": ckpt.get("iterations"), "dataset": ckpt.get("dataset"),
            "config": ckpt["config"]}


def evaluate(ckpt: dict, options: EvalOptions, data: DataOptions, device: torch.device,
             progress: bool = False) -> dict:
    """On N-way K-shot episodes of unseen classes (``runs.generation``, mean ± 95 % CI over
    episodes): recognisability (accuracy of the ProtoNet critic ``protonet-20w1s`` built from the
    same shots), diversity, and the Fréchet distance of each class's samples to its held-out
    images (feature network ``runs.images.feature_network``); the held-out real images as the
    reference row (real_*); with --is-classes also the in-domain Inception Score."""
    from ...gan.statistician import statistician_adapter

    _, split = load_split(for_checkpoint(data, ckpt.get("dataset")))
    protocol = episode_protocol(options, options.shots or DEFAULT_SHOTS, options.episodes or
                                DEFAULT_EPISODES, split.test)
    feature, feature_name = feature_network(split.train, device)
    generators = {"statistician": statistician_adapter(build(ckpt, device))}
    return {"algorithm": "statistician", "dataset": split.test.source, "feature": feature_name,
            **generator_metrics(generators, split, protocol, options, device, feature,
                                single="statistician")}


def sample(ckpt: dict, n: int, options: EvalOptions, data: DataOptions,
           device: torch.device) -> tuple[bytes, dict]:
    """For 4 unseen classes: the shot, then min(n, 16) samples given that one shot."""
    from ...gan.statistician import generate

    _, split = load_split(for_checkpoint(data, ckpt.get("dataset")))
    gen = torch.Generator().manual_seed(options.seed)
    model = build(ckpt, device)
    classes = torch.randperm(split.test.n_classes, generator=gen)[:SAMPLE_CLASSES].tolist()
    n, rows = min(n, MAX_ROW), {}
    for c in classes:
        i = int(torch.randint(split.test.n_samples, (1,), generator=gen))
        shot = split.test.images[c, i:i + 1].unsqueeze(1).float() / 255.0       # [1, 1, 28, 28]
        rows[f"{split.test.names[c]}: shot"] = shot
        rows[f"{split.test.names[c]}: samples"] = generate(model, shot.to(device), n,
                                                           options.seed + c).cpu()
    return rows_png(rows, title="one shot of an unseen class, then samples (no gradient step)"), {
        "shows": f"{len(classes)} unseen classes: the one shot, then {n} samples "
                 "Statistician.mean(z, c), z ~ p(z | c) (warp: the shot moved by u(z, c))"}
