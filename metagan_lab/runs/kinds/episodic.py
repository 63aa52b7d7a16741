"""kind 'episodic': a learner of the episodic core (``fewshot.episodic``): Matching Networks,
Relation Networks, Proto-MAML, the fine-tuned head and SimpleShot (``metagan_lab.methods``).

The format belongs to the library: ``fewshot.episodic.EpisodicLearner.state`` writes it
({"kind": "episodic", "method", "family", "config", "iteration", "state_dict", "dataset"}) and
``methods.learner_from_checkpoint`` reads it; this module only calls them.
"""

from __future__ import annotations

import dataclasses
import time

import torch

from ..data import DataOptions, check_fits, for_checkpoint, load_split
from ..options import EvalOptions

REQUIRED = ("method", "config", "state_dict", "iteration")
EVAL_OPTIONS = ("ways", "shots", "queries", "episodes", "inner_steps")
DEFAULT_EPISODES = 600


def checkpoint(learner, iteration: int, dataset: str = "") -> dict:
    """``learner.state(iteration, dataset)`` (``fewshot.episodic.EpisodicLearner``)."""
    return learner.state(iteration, dataset)


def build(ckpt: dict, device: str | torch.device = "cpu"):
    """A ``fewshot.episodic.EpisodicLearner`` (method, network in eval mode, config)."""
    from ...methods import learner_from_checkpoint

    return learner_from_checkpoint(ckpt, device)


def describe(ckpt: dict) -> dict:
    cfg = ckpt["config"]
    return {"kind": "episodic", "algorithm": ckpt["method"], "family": ckpt.get("family"),
            "iterations": ckpt["iteration"], "dataset": ckpt.get("dataset"),
            "n_way": cfg.get("n_way"), "k_shot": cfg.get("k_shot"), "config": cfg}


def _with_protocol(ckpt: dict, options: EvalOptions, device: torch.device):
    """The learner with the test protocol (N, K, Q, test-time steps) in its config."""
    from ...fewshot.episodic import with_protocol

    return with_protocol(build(ckpt, device), options.ways, options.shots, options.queries,
                         options.inner_steps)


def evaluate(ckpt: dict, options: EvalOptions, data: DataOptions, device: torch.device,
             progress: bool = False) -> dict:
    """Accuracy ± 95 % CI over new N-way K-shot test tasks (``fewshot.evaluate_episodic``)."""
    from ...fewshot.episodic import evaluate_episodic

    learner = _with_protocol(ckpt, options, device)
    cfg = learner.config
    _, split = load_split(for_checkpoint(data, ckpt.get("dataset")))
    check_fits(split.test, "test", cfg.n_way, cfg.k_shot, 1)   # Q is capped to what fits
    start = time.perf_counter()
    result = evaluate_episodic(learner, split.test, options.episodes or DEFAULT_EPISODES,
                               seed=options.seed + 1, progress=progress)
    result.update(queries=min(cfg.eval_query, split.test.n_samples - cfg.k_shot),
                  seconds=round(time.perf_counter() - start, 2), iterations=ckpt["iteration"],
                  dataset=split.test.source)
    if cfg.STEPS_FIELD is not None:
        result["inner_steps"] = getattr(cfg, cfg.STEPS_FIELD)
    return result


def sample(ckpt: dict, n: int, options: EvalOptions, data: DataOptions,
           device: torch.device) -> tuple[bytes, dict]:
    """One 1-shot test episode: a column per class (its support image on top), ``n`` queries of
    each class below (at most what the test classes hold besides the shot), framed green when
    classified right, red when wrong."""
    from ...tasks.episodes import sample_episode
    from ...viz.adaptation import prediction_mosaic
    from ..images import rgb_png

    learner = _with_protocol(ckpt, dataclasses.replace(options, shots=1), device)
    cfg = learner.config
    _, split = load_split(for_checkpoint(data, ckpt.get("dataset")))
    n = min(n, split.test.n_samples - 1)
    check_fits(split.test, "test", cfg.n_way, 1, n, ways_flag="ways", queries_flag="--n")
    episode = sample_episode(split.test, cfg.n_way, 1, n, 1,
                             torch.Generator().manual_seed(options.seed))
    with torch.no_grad():
        logits = learner.method.logits(learner.model, episode.to(device), cfg)   # [1, N*n, N]
    predictions = logits[0].argmax(-1).cpu()
    accuracy = (predictions == episode.query_y[0]).float().mean().item()
    return rgb_png(prediction_mosaic(episode, predictions)), {
        "shows": f"one {cfg.n_way}-way 1-shot test episode ({learner.method.name}): support on "
                 f"top, {n} queries per class (green: right, red: wrong)", "accuracy": accuracy}
