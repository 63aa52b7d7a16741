"""N-way K-shot episodes, many tasks at once, reproducible from a torch.Generator.

paper symbol      code name
N-way, K-shot     n_way, k_shot
Q (per class)     n_query
T (meta-batch)    n_tasks
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..data.images import ClassImages, to_float
from ..types import Episode


def check_episode_shape(n_way: int, k_shot: int, n_query: int, n_classes: int,
                        n_samples: int) -> None:
    """Raise ValueError naming the numbers when an episode cannot be drawn."""
    for name, value in (("n_way", n_way), ("k_shot", k_shot), ("n_query", n_query)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if n_way > n_classes:
        raise ValueError(
            f"n_way={n_way} is more than the {n_classes} classes in this split; "
            f"use n_way <= {n_classes}"
        )
    if k_shot + n_query > n_samples:
        raise ValueError(
            f"k_shot + n_query = {k_shot} + {n_query} = {k_shot + n_query} is more than the "
            f"{n_samples} samples per class; lower shots or queries"
        )


def split_support_query(x: Tensor, k_shot: int) -> tuple[Tensor, Tensor]:
    """x [T, N, K+Q, …] → support [T, N*K, …], query [T, N*Q, …] (class-major order)."""
    t, n = x.shape[:2]
    support = x[:, :, :k_shot].reshape(t, n * k_shot, *x.shape[3:])
    query = x[:, :, k_shot:].reshape(t, -1, *x.shape[3:])
    return support, query


def sample_episode(data: ClassImages | Tensor, n_way: int, k_shot: int, n_query: int,
                   n_tasks: int = 1, generator: torch.Generator | None = None,
                   device: str | torch.device | None = None) -> Episode:
    """Draw ``n_tasks`` N-way K-shot tasks with Q queries per class in one gather.

    Classes are chosen without replacement per task, samples without replacement per class.
    ``data`` may already live on the GPU; with ``device`` set, sampling happens there.
    Returns float images in [0, 1]: support_x [T, N*K, 1, H, W], query_x [T, N*Q, 1, H, W].
    """
    images = data.images if isinstance(data, ClassImages) else data  # [C, S, H, W] uint8
    if device is not None:
        images = images.to(device)
    n_classes, n_samples = images.shape[:2]
    check_episode_shape(n_way, k_shot, n_query, n_classes, n_samples)
    if not isinstance(n_tasks, int) or n_tasks <= 0:
        raise ValueError(f"n_tasks must be a positive integer, got {n_tasks!r}")
    dev = images.device
    if generator is not None and generator.device != dev:
        raise ValueError(f"generator is on {generator.device} but the data is on {dev}; "
                         f"create it with torch.Generator(device={str(dev)!r})")
    rand = torch.rand(n_tasks, n_classes, generator=generator, device=dev)
    classes = rand.argsort(dim=1)[:, :n_way]                                   # [T, N]
    rand = torch.rand(n_tasks, n_way, n_samples, generator=generator, device=dev)
    samples = rand.argsort(dim=2)[:, :, : k_shot + n_query]                    # [T, N, K+Q]
    x = images[classes[:, :, None], samples]                                   # [T, N, K+Q, H, W]
    support_x, query_x = split_support_query(to_float(x), k_shot)
    labels = torch.arange(n_way, device=dev)
    support_y = labels.repeat_interleave(k_shot).expand(n_tasks, -1)           # [T, N*K]
    query_y = labels.repeat_interleave(n_query).expand(n_tasks, -1)            # [T, N*Q]
    return Episode(support_x, support_y.contiguous(), query_x, query_y.contiguous())


class EpisodeSampler:
    """Endless, seeded stream of episode batches: ``next(sampler)`` → Episode."""

    def __init__(self, data: ClassImages | Tensor, n_way: int, k_shot: int, n_query: int,
                 n_tasks: int = 1, seed: int = 0, device: str | torch.device = "cpu"):
        images = data.images if isinstance(data, ClassImages) else data
        self.images = images.to(device)
        check_episode_shape(n_way, k_shot, n_query, *self.images.shape[:2])
        self.n_way, self.k_shot, self.n_query, self.n_tasks = n_way, k_shot, n_query, n_tasks
        self.generator = torch.Generator(device=self.images.device).manual_seed(seed)

    def __iter__(self):
        return self

    def __next__(self) -> Episode:
        return sample_episode(self.images, self.n_way, self.k_shot, self.n_query,
                              self.n_tasks, self.generator)
