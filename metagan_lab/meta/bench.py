"""Timing one meta-iteration, and training every method for one comparison table.

Reports seconds per meta-iteration, tasks per second and peak memory (CUDA: peak allocated by
PyTorch; CPU: the process's peak resident set size, which includes everything loaded so far).
"""

from __future__ import annotations

import dataclasses
import resource
import sys
import time

import torch

from ..tasks.episodes import sample_episode
from ..types import Episode
from .maml import choose_path, meta_gradient
from .reptile import reptile_step
from .train import MetaConfig, MetaLearner, new_learner, outer_loss_and_accuracy


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss           # KiB on Linux, B on macOS
    return rss / (2**20 if sys.platform == "darwin" else 2**10)


def meta_gradient_error(learner: MetaLearner, episode: Episode) -> float | None:
    """‖∇_path − ∇_loop‖ / ‖∇_loop‖: the timed path's meta-gradient against the per-task loop on
    the same episode (≈1e-6 in float32 when both compute the same maths). None for Reptile and
    when the timed path is the loop itself."""
    cfg = learner.config
    if cfg.algorithm == "reptile" or choose_path(learner.model, episode.support_x.device,
                                                 cfg.path) == "loop":
        return None
    trainable = {**learner.params, **(learner.alphas or {})}
    flat = {}
    for path in (cfg.path, "loop"):
        view = dataclasses.replace(learner, config=dataclasses.replace(cfg, path=path))
        loss, _ = outer_loss_and_accuracy(view, episode, cfg.inner_steps, cfg.algorithm == "fomaml")
        flat[path] = torch.cat([g.reshape(-1) for g in meta_gradient(loss, trainable).values()])
    return ((flat[cfg.path] - flat["loop"]).norm() / flat["loop"].norm()).item()


def bench_meta_iteration(cfg: MetaConfig, images: torch.Tensor, device: torch.device,
                         warmup: int = 2, repeat: int = 5, check: bool = True) -> dict:
    """Median seconds of one meta-iteration for ``cfg`` on a fixed episode batch.

    With ``check``, the meta-gradient of the timed path is also compared with the per-task loop's
    (``meta_gradient_error``), outside the timed region.
    """
    if warmup < 0 or repeat < 1:
        raise ValueError(f"warmup must be >= 0 and repeat >= 1, got {warmup}, {repeat}")
    learner = new_learner(cfg, device)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    episode = sample_episode(images.to(device), cfg.n_way, cfg.shots_while_training,
                             cfg.n_query, cfg.meta_batch, gen)       # a meta-training episode
    trainable = {**learner.params, **(learner.alphas or {})}

    def one_iteration() -> None:
        if cfg.algorithm == "reptile":
            reptile_step(learner.model, learner.params, episode, cfg.inner_lr, cfg.inner_steps,
                         cfg.epsilon, path=cfg.path, inner_optimizer=cfg.inner_optimizer)
        else:
            loss, _ = outer_loss_and_accuracy(learner, episode, cfg.inner_steps,
                                              cfg.algorithm == "fomaml")
            meta_gradient(loss, trainable)

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
    error = meta_gradient_error(learner, episode) if check else None
    return {"algorithm": cfg.algorithm, "path": choose_path(learner.model, device, cfg.path),
            "n_way": cfg.n_way, "k_shot": cfg.shots_while_training, "n_query": cfg.n_query,
            "meta_batch": cfg.meta_batch, "inner_steps": cfg.inner_steps,
            "inner_lr": cfg.inner_lr, "seconds_per_iteration": seconds,
            "tasks_per_second": cfg.meta_batch / seconds, "peak_memory_mb":
            round(_peak_memory_mb(device), 1), "device": str(device),
            "threads": torch.get_num_threads(), "repeat": repeat,
            "warmup": warmup, "warmup_seconds": round(warmup_seconds, 3),
            "meta_gradient_rel_err_vs_loop": error,
            "dtype": str(next(iter(learner.params.values())).dtype).removeprefix("torch.")}


# Omniglot 5-way 1-shot test accuracy (%) as published, for the comparison tables.
PAPER_5WAY_1SHOT = {
    "protonet": "98.8 (Snell et al. 2017)",
    "maml": "98.7 ± 0.4 (Finn et al. 2017)",
    "fomaml": "98.3 ± 0.5 (Finn et al. 2017)",
    "metasgd": "99.53 ± 0.26 (Li et al. 2017)",
    "anil": "— (Raghu et al. 2020 report miniImageNet only)",
    "reptile": "97.68 ± 0.04 (Nichol et al. 2018, transductive)",
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
