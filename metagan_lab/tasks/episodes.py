"""N-way K-shot episodes, many tasks at once, reproducible from a torch.Generator.

paper symbol      code name
N-way, K-shot     n_way, k_shot
Q (per class)     n_query
T (meta-batch)    n_tasks

Images are stored as uint8 0–255 (stroke 255) and divided by 255 when an episode is drawn. Integer
tensors and float tensors holding whole numbers 0–255 are accepted; float images already scaled
to [0, 1] (or with fractional values) are refused, since dividing them again would make them
nearly black.
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
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
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


def check_pixel_scale(images: Tensor) -> None:
    """Refuse images that ``x / 255`` would rescale a second time (see the module docstring).

    Accepted: integer dtypes, and floats holding whole numbers 0–255 with a maximum above 1.
    """
    if images.numel() == 0 or not (images.is_floating_point() or images.dtype == torch.bool):
        return
    if images.dtype == torch.bool:
        raise ValueError("episode images are torch.bool; pass uint8 images with strokes 255 and "
                         "background 0, e.g. x.to(torch.uint8) * 255")
    lo, hi = images.min().item(), images.max().item()
    fractional = bool((images != images.round()).any())
    if fractional or 0 < hi <= 1:
        what = "already scaled to [0, 1]" if 0 < hi <= 1 else "not whole numbers"
        raise ValueError(
            f"episode images are {images.dtype} with values in [{lo:.3g}, {hi:.3g}] ({what}), but "
            "they are divided by 255 when an episode is drawn; pass the uint8 images 0–255 "
            "(ClassImages.images), e.g. (x * 255).round().to(torch.uint8)")


def split_support_query(x: Tensor, k_shot: int) -> tuple[Tensor, Tensor]:
    """x [T, N, K+Q, …] → support [T, N*K, …], query [T, N*Q, …] (class-major order)."""
    if x.dim() < 3 or isinstance(k_shot, bool) or not 0 < k_shot < x.shape[2]:
        raise ValueError(f"split_support_query: x has shape {tuple(x.shape)} ([T, N, K+Q, …]) "
                         f"and k_shot={k_shot!r}; need 0 < k_shot < K+Q so both sets are "
                         "non-empty")
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
    images = _images_of(data)                                   # [C, S, H, W] uint8
    if device is not None:
        images = images.to(device)
    n_classes, n_samples = images.shape[:2]
    check_episode_shape(n_way, k_shot, n_query, n_classes, n_samples)
    _check_n_tasks(n_tasks)
    dev = images.device
    if generator is not None and generator.device != dev:
        raise ValueError(f"generator is on {generator.device} but the data is on {dev}; "
                         f"create it with torch.Generator(device={str(dev)!r})")
    rand = torch.rand(n_tasks, n_classes, generator=generator, device=dev)
    classes = rand.argsort(dim=1)[:, :n_way]                                   # [T, N]
    rand = torch.rand(n_tasks, n_way, n_samples, generator=generator, device=dev)
    samples = rand.argsort(dim=2)[:, :, : k_shot + n_query]                    # [T, N, K+Q]
    x = images[classes[:, :, None], samples]                                   # [T, N, K+Q, H, W]
    check_pixel_scale(x)
    support_x, query_x = split_support_query(to_float(x), k_shot)
    labels = torch.arange(n_way, device=dev)
    support_y = labels.repeat_interleave(k_shot).expand(n_tasks, -1)           # [T, N*K]
    query_y = labels.repeat_interleave(n_query).expand(n_tasks, -1)            # [T, N*Q]
    return Episode(support_x, support_y.contiguous(), query_x, query_y.contiguous())


def _images_of(data: ClassImages | Tensor) -> Tensor:
    """The [classes, samples, H, W] tensor of ``data``; another shape names itself."""
    images = data.images if isinstance(data, ClassImages) else data
    if images.dim() != 4:
        raise ValueError(f"images must be [classes, samples, H, W], got shape "
                         f"{tuple(images.shape)}; pass a ClassImages or a 4-D tensor")
    return images


def _check_n_tasks(n_tasks: int) -> None:
    """T (tasks per batch) must be a positive integer."""
    if isinstance(n_tasks, bool) or not isinstance(n_tasks, int) or n_tasks <= 0:
        raise ValueError(f"n_tasks must be a positive integer, got {n_tasks!r}")


class EpisodeSampler:
    """Endless, seeded stream of episode batches: ``next(sampler)`` → Episode."""

    def __init__(self, data: ClassImages | Tensor, n_way: int, k_shot: int, n_query: int,
                 n_tasks: int = 1, seed: int = 0, device: str | torch.device = "cpu"):
        images = _images_of(data)
        self.images = images.to(device)
        check_episode_shape(n_way, k_shot, n_query, *self.images.shape[:2])
        _check_n_tasks(n_tasks)
        self.n_way, self.k_shot, self.n_query, self.n_tasks = n_way, k_shot, n_query, n_tasks
        self.generator = torch.Generator(device=self.images.device).manual_seed(seed)

    def __iter__(self):
        return self

    def __next__(self) -> Episode:
        return sample_episode(self.images, self.n_way, self.k_shot, self.n_query,
                              self.n_tasks, self.generator)
