"""Timing one meta-iteration, and training every method for one comparison table.

Reports seconds per meta-iteration, tasks per second and peak memory (CUDA: peak allocated by
PyTorch; CPU: the process's peak resident set size, which includes everything loaded so far).
"""

from __future__ import annotations

import copy
import dataclasses
import resource
import sys
import time

import torch

from ..tasks.episodes import sample_episode
from ..types import Episode
from .config import MetaConfig
from .engines import choose_path, get_engine
from .maml import meta_gradient
from .registry import ALGORITHMS
from .train import MetaLearner, new_learner, query_loss_and_accuracy


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss           # KiB on Linux, B on macOS
    return rss / (2**20 if sys.platform == "darwin" else 2**10)


def _flat_meta_gradient(learner: MetaLearner, episode: Episode, path: str) -> torch.Tensor:
    engine = get_engine(path, learner.model, episode.support_x.device)
    loss, _ = query_loss_and_accuracy(learner, episode, learner.inner(), engine)
    grads = meta_gradient(loss, learner.trainable)
    return torch.cat([g.reshape(-1) for g in grads.values()])


def meta_gradient_errors(learner: MetaLearner, episode: Episode) -> dict[str, float] | None:
    """‖∇ − ∇_ref‖ / ‖∇_ref‖ for the timed path and for the per-task loop, both in the learner's
    dtype, against a float64 per-task loop reference on the same episode (float32 convolutions
    round differently on every path, so only a float64 reference tells rounding from a wrong
    gradient). None for Reptile, which has no meta-gradient."""
    cfg = learner.config
    if cfg.algorithm == "reptile":
        return None
    f64 = lambda d: {n: p.detach().double().requires_grad_() for n, p in d.items()}  # noqa: E731
    ref_learner = dataclasses.replace(learner, model=copy.deepcopy(learner.model).double(),
                                      params=f64(learner.params),
                                      alphas=f64(learner.alphas) if learner.alphas else None,
                                      config=dataclasses.replace(cfg, path="loop"))
    ep64 = Episode(episode.support_x.double(), episode.support_y, episode.query_x.double(),
                   episode.query_y)
    ref = _flat_meta_gradient(ref_learner, ep64, "loop")
    err = lambda g: ((g.double() - ref).norm() / ref.norm()).item()  # noqa: E731
    return {"path": err(_flat_meta_gradient(learner, episode, cfg.path)),
            "loop": err(_flat_meta_gradient(learner, episode, "loop"))}


def bench_meta_iteration(cfg: MetaConfig, images: torch.Tensor, device: torch.device,
                         warmup: int = 2, repeat: int = 5, check: bool = True) -> dict:
    """Median seconds of one meta-iteration for ``cfg`` on a fixed episode batch.

    With ``check``, the meta-gradient of the timed path (and of the per-task loop) is compared
    with a float64 per-task loop (``meta_gradient_errors``), outside the timed region.
    """
    if warmup < 0 or repeat < 1:
        raise ValueError(f"warmup must be >= 0 and repeat >= 1, got {warmup}, {repeat}")
    learner = new_learner(cfg, device)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    episode = sample_episode(images.to(device), cfg.n_way, cfg.shots_while_training,
                             cfg.n_query, cfg.meta_batch, gen)       # a meta-training episode
    error = meta_gradient_errors(learner, episode) if check else None   # before any step
    outer = ALGORITHMS[cfg.algorithm].outer_step(learner, learner.engine())

    def one_iteration() -> None:
        outer(episode, 2, 0.0)              # the training step itself (Reptile: not a logging one)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    _sync(device)
    start = time.perf_counter()
    for _ in range(warmup):
        one_iteration()                                  # the first one compiles (path compiled)
    _sync(device)
    warmup_seconds = time.perf_counter() - start
    times = []
    for _ in range(repeat):
        _sync(device)
        start = time.perf_counter()
        one_iteration()
        _sync(device)
        times.append(time.perf_counter() - start)
    seconds = sorted(times)[len(times) // 2]
    return {"algorithm": cfg.algorithm, "path": choose_path(learner.model, device, cfg.path),
            "n_way": cfg.n_way, "k_shot": cfg.shots_while_training, "n_query": cfg.n_query,
            "meta_batch": cfg.meta_batch, "inner_steps": cfg.inner_steps,
            "inner_lr": cfg.inner_lr, "seconds_per_iteration": seconds,
            "tasks_per_second": cfg.meta_batch / seconds, "peak_memory_mb":
            round(_peak_memory_mb(device), 1), "device": str(device),
            "threads": torch.get_num_threads(), "repeat": repeat,
            "warmup": warmup, "warmup_seconds": round(warmup_seconds, 3),
            "meta_gradient_rel_err_vs_float64": error and error["path"],
            "loop_meta_gradient_rel_err_vs_float64": error and error["loop"],
            "dtype": str(next(iter(learner.params.values())).dtype).removeprefix("torch.")}


# Omniglot 5-way 1-shot test accuracy (%) as published, for the comparison tables.
PAPER_5WAY_1SHOT = {
    "protonet": "98.8 (Snell et al. 2017)",
    "maml": "98.7 ± 0.4 (Finn et al. 2017)",
    "fomaml": "98.3 ± 0.5 (Finn et al. 2017)",
    "metasgd": "99.53 ± 0.26 (Li et al. 2017)",
    "anil": "— (Raghu et al. 2020 report miniImageNet only)",
    "reptile": "97.68 ± 0.04 (Nichol et al. 2018, transductive)",
    "matching": "98.1 (Vinyals et al. 2016)",
    "relation": "99.6 ± 0.2 (Sung et al. 2018)",
    "protomaml": "— (Triantafillou et al. 2020 report Meta-Dataset only)",
    "finetune": "— (Chen et al. 2019 report miniImageNet / CUB only)",
    "simpleshot": "— (Wang et al. 2019 report miniImageNet / tieredImageNet only)",
    "mann": "— (Santoro et al. 2016 report accuracy by instance, another protocol)",
    "hypernet": "— (Qiao et al. 2018 report miniImageNet only)",
}


def compare_methods(configs: dict[str, MetaConfig], train, test, device="cpu",
                    protonet_iterations: int | None = None, test_tasks: int = 600,
                    progress: bool = False) -> list[dict]:
    """Train and test each method; rows {method, accuracy, ci95, seconds, iterations, paper}.

    ``configs`` maps a meta-learning algorithm to its MetaConfig; with ``protonet_iterations``
    set, a Prototypical Network (``fewshot.train``) with the first config's N, K joins the table.
    """
    from ..fewshot.train import ProtoNetConfig, evaluate_protonet, train_protonet
    from .train import run_meta

    rows = []
    first = next(iter(configs.values()))
    if protonet_iterations:
        cfg = ProtoNetConfig(n_way=first.n_way, k_shot=first.k_shot, n_query=first.eval_query,
                             iterations=protonet_iterations, hidden=first.hidden, seed=first.seed)
        start = time.perf_counter()
        encoder, _ = train_protonet(cfg, train, device, progress=progress)
        seconds = time.perf_counter() - start
        res = evaluate_protonet(encoder, test, first.n_way, first.k_shot, first.eval_query,
                                test_tasks, device=device)
        rows.append({"method": "protonet", "accuracy": res["accuracy"], "ci95": res["ci95"],
                     "seconds": round(seconds, 1), "iterations": protonet_iterations})
    for name, cfg in configs.items():
        cfg = dataclasses.replace(cfg, test_tasks=test_tasks)
        _, res = run_meta(cfg, train, None, test, device, progress=progress)
        rows.append({"method": name, "accuracy": res["accuracy"], "ci95": res["ci95"],
                     "seconds": res["seconds"], "iterations": cfg.iterations})
    for row in rows:
        row["paper"] = PAPER_5WAY_1SHOT.get(row["method"], "—")
    return rows
