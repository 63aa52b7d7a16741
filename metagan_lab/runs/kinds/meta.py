"""kind 'meta': a MAML-family initialisation θ (and Meta-SGD's α).

The format belongs to the library: ``meta.train.MetaLearner.state(iteration)`` writes it and
``meta.train.learner_from_checkpoint`` reads it; this module only calls them.
"""

from __future__ import annotations

import dataclasses
import time

import torch

from ..data import DataOptions, check_fits, for_checkpoint, load_split
from ..options import EvalOptions

REQUIRED = ("config", "params", "iteration")
EVAL_OPTIONS = ("ways", "shots", "queries", "episodes", "inner_steps")
DEFAULT_SHOTS, DEFAULT_QUERIES, DEFAULT_EPISODES, SEED_OFFSET = 1, 15, 600, 12345


def checkpoint(learner, iteration: int) -> dict:
    """``learner.state(iteration)`` (``meta.train.MetaLearner``)."""
    return learner.state(iteration)


def build(ckpt: dict, device: str | torch.device = "cpu"):
    """A ``meta.train.MetaLearner`` (θ, α for Meta-SGD, its config)."""
    from ...meta.train import learner_from_checkpoint

    return learner_from_checkpoint(ckpt, device)


def describe(ckpt: dict) -> dict:
    cfg = ckpt["config"]
    return {"kind": "meta", "algorithm": cfg.get("algorithm"), "iterations": ckpt["iteration"],
            "dataset": ckpt.get("dataset"), "n_way": cfg.get("n_way"),
            "k_shot": cfg.get("k_shot"), "learned_alpha": ckpt.get("alphas") is not None,
            "config": cfg}


def _adapted_learner(ckpt: dict, options: EvalOptions, device: torch.device):
    """The learner with the test protocol (K, Q, k steps) in its config; ``--ways`` must match."""
    learner = build(ckpt, device)
    cfg = learner.config
    if options.ways is not None and options.ways != cfg.n_way:
        raise ValueError(f"--ways {options.ways}: this {cfg.algorithm} checkpoint's head has "
                         f"{cfg.n_way} outputs; evaluate it with --ways {cfg.n_way} or "
                         f"meta-train with --ways {options.ways}")
    steps = cfg.eval_inner_steps if options.inner_steps is None else options.inner_steps
    learner.config = dataclasses.replace(cfg, k_shot=options.shots or DEFAULT_SHOTS,
                                         eval_query=options.queries or DEFAULT_QUERIES,
                                         eval_inner_steps=steps)
    return learner


def evaluate(ckpt: dict, options: EvalOptions, data: DataOptions, device: torch.device,
             progress: bool = False) -> dict:
    """Accuracy ± 95 % CI over new test tasks after k adaptation steps (``meta_test``)."""
    from ...meta.train import meta_test

    learner = _adapted_learner(ckpt, options, device)
    cfg = learner.config
    _, split = load_split(for_checkpoint(data, ckpt.get("dataset")))
    check_fits(split.test, "test", cfg.n_way, cfg.k_shot, 1)   # meta_test caps Q itself
    start = time.perf_counter()
    result = meta_test(learner, split.test, options.episodes or DEFAULT_EPISODES,
                       seed=options.seed + SEED_OFFSET)
    result.update(algorithm=cfg.algorithm, n_way=cfg.n_way, k_shot=cfg.k_shot,
                  inner_steps=cfg.eval_inner_steps,
                  seconds=round(time.perf_counter() - start, 2), iterations=ckpt["iteration"],
                  dataset=split.test.source)
    return result


def sample(ckpt: dict, n: int, options: EvalOptions, data: DataOptions,
           device: torch.device) -> tuple[bytes, dict]:
    """One test task after the checkpoint's k adaptation steps: a column per class (support on
    top), ``n`` queries below, green when classified right, red when wrong. The steps shown are
    plain SGD with the trained α (``meta.adaptation.adaptation_trace``)."""
    seed = options.seed
    from ...meta.adaptation import adaptation_trace
    from ...tasks.episodes import sample_episode
    from ...viz.adaptation import prediction_mosaic
    from ..images import rgb_png

    learner = build(ckpt, device)
    cfg = learner.config
    _, split = load_split(for_checkpoint(data, ckpt.get("dataset")))
    check_fits(split.test, "test", cfg.n_way, 1, n, ways_flag="ways", queries_flag="--n")
    episode = sample_episode(split.test, cfg.n_way, 1, n, 1, torch.Generator().manual_seed(seed))
    trace = adaptation_trace(learner.model, learner.params, episode.to(device),
                             learner.inner_lr, cfg.eval_inner_steps, learner.adapted)
    predictions = trace.predictions[0, -1].cpu()                               # [N*Q]
    return rgb_png(prediction_mosaic(episode, predictions)), {
        "shows": f"one {cfg.n_way}-way 1-shot test task after {cfg.eval_inner_steps} SGD "
                 f"steps: support on top, {n} queries per class (green: right, red: wrong)",
        "accuracy": trace.accuracy[0, -1].item()}
