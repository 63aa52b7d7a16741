"""kind 'protonet': a Conv-4 embedding f_φ trained with the ProtoNet loss (Snell et al. 2017).

Format: {"kind": "protonet", "config": ProtoNetConfig as a dict, "state_dict": the encoder's,
"dataset", "split", "rotations", "test": {"ways", "shots", "queries"} of the training command's
own test (absent in older files)}.
"""

from __future__ import annotations

import dataclasses
import time

import torch
from torch import nn

from ..data import DataOptions, check_fits, for_checkpoint, load_split
from ..options import EvalOptions

REQUIRED = ("config", "state_dict")
EVAL_OPTIONS = ("ways", "shots", "queries", "episodes")
DEFAULT_WAYS, DEFAULT_SHOTS, DEFAULT_QUERIES, DEFAULT_EPISODES = 5, 1, 15, 600


def checkpoint(encoder: nn.Module, config, dataset: str, split: str, rotations: bool,
               test: dict | None = None) -> dict:
    """The checkpoint of a trained encoder; ``config`` is its ``fewshot.train.ProtoNetConfig``."""
    return {"kind": "protonet", "config": dataclasses.asdict(config),
            "state_dict": {k: v.detach().cpu() for k, v in encoder.state_dict().items()},
            "dataset": dataset, "split": split, "rotations": rotations, "test": test or {}}


def build(ckpt: dict, device: str | torch.device = "cpu") -> nn.Module:
    """The Conv-4 encoder f_φ, in eval mode."""
    from ...fewshot.train import encoder_from_checkpoint

    return encoder_from_checkpoint(ckpt, device)


def describe(ckpt: dict) -> dict:
    cfg = ckpt["config"]
    return {"kind": "protonet", "algorithm": "protonet", "iterations": cfg.get("iterations"),
            "dataset": ckpt.get("dataset"), "split": ckpt.get("split"),
            "rotations": ckpt.get("rotations"), "train_ways": cfg.get("n_way"),
            "test": ckpt.get("test") or None, "config": cfg}


def _protocol(ckpt: dict, options: EvalOptions) -> tuple[int, int, int]:
    test = ckpt.get("test") or {}
    return (options.ways or test.get("ways", DEFAULT_WAYS),
            options.shots or test.get("shots", DEFAULT_SHOTS),
            options.queries or test.get("queries", DEFAULT_QUERIES))


def evaluate(ckpt: dict, options: EvalOptions, data: DataOptions, device: torch.device,
             progress: bool = False) -> dict:
    """Accuracy ± 95 % CI over new N-way K-shot test episodes."""
    from ...fewshot.train import evaluate_protonet

    ways, shots, queries = _protocol(ckpt, options)
    _, split = load_split(for_checkpoint(data, ckpt.get("dataset")))
    check_fits(split.test, "test", ways, shots, queries)
    start = time.perf_counter()
    result = evaluate_protonet(build(ckpt, device), split.test, ways, shots, queries,
                               options.episodes or DEFAULT_EPISODES, ckpt["config"]["distance"],
                               seed=options.seed, device=device, progress=progress)
    result.update(algorithm="protonet", seconds=round(time.perf_counter() - start, 2),
                  iterations=ckpt["config"].get("iterations"), dataset=split.test.source)
    return result


def sample(ckpt: dict, n: int, options: EvalOptions, data: DataOptions,
           device: torch.device) -> tuple[bytes, dict]:
    """One test episode: a column per class (its support image on top), the ``n`` queries of
    each class below, framed green when classified right, red when wrong."""
    seed = options.seed
    from ...fewshot.protonet import protonet_episode_logits
    from ...tasks.episodes import sample_episode
    from ...viz.adaptation import prediction_mosaic
    from ..images import rgb_png

    ways, _, _ = _protocol(ckpt, options)
    _, split = load_split(for_checkpoint(data, ckpt.get("dataset")))
    check_fits(split.test, "test", ways, 1, n, ways_flag="ways", queries_flag="--n")
    episode = sample_episode(split.test, ways, 1, n, 1, torch.Generator().manual_seed(seed))
    on = episode.to(device)
    with torch.no_grad():
        logits = protonet_episode_logits(build(ckpt, device), on.support_x, on.support_y,
                                         on.query_x, ways, ckpt["config"]["distance"])
    predictions = logits[0].argmax(-1).cpu()                                   # [N*Q]
    accuracy = (predictions == episode.query_y[0]).float().mean().item()
    return rgb_png(prediction_mosaic(episode, predictions)), {
        "shows": f"one {ways}-way 1-shot test episode: support on top, {n} queries per class "
                 "(green: right, red: wrong)", "accuracy": accuracy}
