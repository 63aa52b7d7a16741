"""Timing one meta-iteration (outer loss + meta-gradient, or one Reptile step).

Reports seconds per meta-iteration, tasks per second and peak memory (CUDA: peak allocated by
PyTorch; CPU: the process's peak resident set size, which includes everything loaded so far).
"""

from __future__ import annotations

import resource
import sys
import time

import torch

from ..tasks.episodes import sample_episode
from .maml import choose_path, meta_gradient
from .reptile import reptile_step
from .train import MetaConfig, new_learner, outer_loss_and_accuracy


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss           # KiB on Linux, B on macOS
    return rss / (2**20 if sys.platform == "darwin" else 2**10)


def bench_meta_iteration(cfg: MetaConfig, images: torch.Tensor, device: torch.device,
                         warmup: int = 2, repeat: int = 5) -> dict:
    """Median seconds of one meta-iteration for ``cfg`` on a fixed episode batch."""
    if warmup < 0 or repeat < 1:
        raise ValueError(f"warmup must be >= 0 and repeat >= 1, got {warmup}, {repeat}")
    learner = new_learner(cfg, device)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    episode = sample_episode(images.to(device), cfg.n_way, cfg.k_shot, cfg.n_query,
                             cfg.meta_batch, gen)
    trainable = {**learner.params, **(learner.alphas or {})}

    def one_iteration() -> None:
        if cfg.algorithm == "reptile":
            reptile_step(learner.model, learner.params, episode, cfg.inner_lr, cfg.inner_steps,
                         cfg.epsilon, path=cfg.path)
        else:
            loss, _ = outer_loss_and_accuracy(learner, episode, cfg.inner_steps,
                                              cfg.algorithm == "fomaml")
            meta_gradient(loss, trainable)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(warmup):
        one_iteration()
    times = []
    for _ in range(repeat):
        _sync(device)
        start = time.perf_counter()
        one_iteration()
        _sync(device)
        times.append(time.perf_counter() - start)
    seconds = sorted(times)[len(times) // 2]
    return {"algorithm": cfg.algorithm, "path": choose_path(learner.model, device, cfg.path),
            "n_way": cfg.n_way, "k_shot": cfg.k_shot, "n_query": cfg.n_query,
            "meta_batch": cfg.meta_batch, "inner_steps": cfg.inner_steps,
            "inner_lr": cfg.inner_lr, "seconds_per_iteration": seconds,
            "tasks_per_second": cfg.meta_batch / seconds, "peak_memory_mb":
            round(_peak_memory_mb(device), 1), "device": str(device),
            "threads": torch.get_num_threads(), "repeat": repeat}
