"""Clean images for restoration tasks, all offline, and the task sampler.

* ``natural``: grayscale patches from images shipped inside scikit-image (``skimage.data``);
  meta-training and meta-testing use *different* photographs.
* ``glyphs`` / ``omniglot``: 28×28 character images from ``metagan_lab.data.load_classes``;
  meta-training and meta-testing use the standard class split.

A restoration task (one degradation setting) holds K support pairs and Q query pairs:
  support_x [K, C, H, W] degraded    support_y [K, C, H, W] clean    support_known [K, 1, H, W]
  query_x   [Q, C, H, W] degraded    query_y   [Q, C, H, W] clean    query_known   [Q, 1, H, W]

A *burst* task (``n_shots`` = N > 1) gives the restorer the fused burst of each image: N shots
with fresh noise / masks, averaged where observed (``degradations.fuse_burst``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from ..checks import positive_int
from .degradations import Setting, check_images, degrade_burst

# Bundled with the scikit-image package (no download); photographs are split between phases.
NATURAL_SUPPORT_IMAGES = ("astronaut", "coffee", "chelsea", "coins", "moon", "page", "rocket",
                          "grass", "gravel", "brick", "clock")
NATURAL_QUERY_IMAGES = ("camera", "text", "cell")
SOURCES = ("natural", "glyphs", "omniglot")
PHASES = ("train", "test")


class RestorationTask(NamedTuple):
    """One degradation setting with K support and Q query (degraded, clean) pairs."""

    support_x: Tensor
    support_y: Tensor
    support_known: Tensor
    query_x: Tensor
    query_y: Tensor
    query_known: Tensor
    setting: Setting

    def to(self, device) -> RestorationTask:
        return RestorationTask(*(t.to(device) for t in self[:6]), self.setting)


def _gray_float(name: str) -> np.ndarray:
    import skimage.data
    from skimage.color import rgb2gray

    img = getattr(skimage.data, name)()
    img = rgb2gray(img) if img.ndim == 3 else img.astype(np.float64) / 255.0
    return np.asarray(img, dtype=np.float64)


def natural_patches(names: tuple[str, ...], size: int = 32, scale: float = 0.5) -> Tensor:
    """Non-overlapping size×size grayscale patches of skimage's bundled photographs, each
    photograph first rescaled by ``scale`` (anti-aliased). Returns float32 [N, 1, size, size]."""
    from skimage.transform import rescale

    patches = []
    for name in names:
        img = rescale(_gray_float(name), scale, anti_aliasing=True)
        h, w = (img.shape[0] // size) * size, (img.shape[1] // size) * size
        tiles = img[:h, :w].reshape(h // size, size, w // size, size).swapaxes(1, 2)
        tiles = tiles.reshape(-1, size, size)
        keep = tiles.std(axis=(1, 2)) > 0.02          # drop flat patches: nothing to restore
        patches.append(tiles[keep])
    return torch.from_numpy(np.concatenate(patches)).float().clamp_(0, 1)[:, None]


def restoration_images(source: str = "natural", phase: str = "train", size: int = 32,
                       glyph_classes: int = 120) -> Tensor:
    """Clean images [N, 1, H, W] in [0, 1] for meta-training (``train``) or testing (``test``)."""
    if source not in SOURCES:
        raise ValueError(f"unknown image source {source!r}; allowed: {', '.join(SOURCES)}")
    if phase not in PHASES:
        raise ValueError(f"phase={phase!r}; allowed: {', '.join(PHASES)}")
    if source == "natural":
        names = NATURAL_SUPPORT_IMAGES if phase == "train" else NATURAL_QUERY_IMAGES
        return natural_patches(names, size)
    from ..data import load_classes, meta_split, to_float

    data = load_classes(source, glyph_classes=glyph_classes, progress=False)
    split = meta_split(data, rotations=False, val_classes=0)
    part = split.train if phase == "train" else split.test
    return to_float(part.images.flatten(0, 1))                          # [N, 1, 28, 28]


def sample_task(images: Tensor, setting: Setting, k_shot: int, n_query: int,
                generator: torch.Generator | None = None, n_shots: int = 1) -> RestorationTask:
    """Draw K + Q distinct clean images, degrade each with ``setting`` (fresh noise/masks);
    ``n_shots`` > 1: each degraded image is the fused burst of that many shots."""
    check_images(images)
    positive_int("k_shot", k_shot)
    positive_int("n_query", n_query)
    if k_shot + n_query > images.shape[0]:
        raise ValueError(f"k_shot + n_query = {k_shot + n_query} exceeds the {images.shape[0]} "
                         "images available")
    idx = torch.randperm(images.shape[0], generator=generator)[: k_shot + n_query]
    clean = images[idx.to(images.device)]                               # [K+Q, C, H, W]
    obs = degrade_burst(clean, setting, n_shots, generator)
    return RestorationTask(obs.degraded[:k_shot], clean[:k_shot], obs.known[:k_shot],
                           obs.degraded[k_shot:], clean[k_shot:], obs.known[k_shot:], setting)
