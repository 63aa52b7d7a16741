"""kind 'statistician': a Neural-Statistician-style conditional VAE, the amortised one-shot
generator of ``gan.statistician`` (``metagan-lab train statistician``).

Format: {"kind": "statistician", "config": StatisticianConfig as a dict, "state_dict",
"iterations", "dataset"} (``gan.statistician.checkpoint_dict``).
"""

from __future__ import annotations

import torch

from ..data import DataOptions, for_checkpoint, load_split
from ..images import rows_png, shipped_encoder
from ..options import EvalOptions

REQUIRED = ("config", "state_dict")
EVAL_OPTIONS = ("ways", "shots", "episodes", "samples")
CRITIC = "protonet-20w1s"           # the one-shot critic of recognisability (Boutin et al. 2022)
DEFAULT_WAYS, DEFAULT_SHOTS, DEFAULT_EPISODES, DEFAULT_SAMPLES = 5, 1, 30, 19
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
    """Recognisability (accuracy of the ProtoNet critic ``protonet-20w1s`` built from the same
    shots) and diversity of the samples on N-way K-shot episodes of unseen classes, mean ± 95 %
    CI over episodes; the held-out real images as the reference row
    (``gan.recognisability.evaluate_generator_metrics``)."""
    from ...gan.recognisability import REAL, evaluate_generator_metrics, summarise_metrics
    from ...gan.statistician import statistician_adapter

    _, split = load_split(for_checkpoint(data, ckpt.get("dataset")))
    ways, shots = options.ways or DEFAULT_WAYS, options.shots or DEFAULT_SHOTS
    episodes, n = options.episodes or DEFAULT_EPISODES, options.samples or DEFAULT_SAMPLES
    generators = {"statistician": statistician_adapter(build(ckpt, device))}
    per_episode = evaluate_generator_metrics(generators, split.test.to(device),
                                             shipped_encoder(CRITIC, device), None, None, ways,
                                             shots, episodes, n, options.seed)
    result = {"algorithm": "statistician", "ways": ways, "shots": shots, "episodes": episodes,
              "samples": n, "critic": CRITIC, "dataset": split.test.source}
    for name, row in summarise_metrics(per_episode).items():
        prefix = "real_" if name == REAL else ""
        result.update({prefix + k: round(v, 4) for k, v in row.items()})
    return result


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
                 "sigmoid(decode(z, c)), z ~ p(z | c)"}
