"""A dense container of class-balanced images: the common currency of every image data set here.

All data sets (Omniglot, glyphs) become a ``ClassImages``: a uint8 tensor [classes, samples, H, W]
(stroke = 255, background = 0) plus class names. Keeping it dense makes episode sampling a single
gather, on the CPU or directly on the GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass(frozen=True)
class ClassImages:
    """images: uint8 [n_classes, n_samples, H, W]; names: one label per class."""

    images: Tensor
    names: tuple[str, ...]
    source: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.dim() != 4:
            raise ValueError(
                f"ClassImages.images must be [classes, samples, H, W], got shape "
                f"{tuple(self.images.shape)}"
            )
        if len(self.names) != self.images.shape[0]:
            raise ValueError(f"{len(self.names)} names for {self.images.shape[0]} classes")

    @property
    def n_classes(self) -> int:
        return self.images.shape[0]

    @property
    def n_samples(self) -> int:
        return self.images.shape[1]

    def subset(self, class_idx: Tensor | list[int]) -> ClassImages:
        idx = torch.as_tensor(class_idx, dtype=torch.long)
        return ClassImages(self.images[idx], tuple(self.names[i] for i in idx.tolist()),
                           self.source, dict(self.meta))

    def with_rotations(self, angles: tuple[int, ...] = (90, 180, 270)) -> ClassImages:
        """Add each rotation of each class as a new class (Santoro et al. 2016; MAML; ProtoNets)."""
        for a in angles:
            if a % 90:
                raise ValueError(f"rotation angles must be multiples of 90, got {a}")
        parts, names = [self.images], list(self.names)
        for a in angles:
            parts.append(torch.rot90(self.images, k=a // 90, dims=(2, 3)))
            names += [f"{n}@rot{a}" for n in self.names]
        return ClassImages(torch.cat(parts), tuple(names), self.source, dict(self.meta))

    def to(self, device) -> ClassImages:
        return ClassImages(self.images.to(device), self.names, self.source, dict(self.meta))


def to_float(images: Tensor) -> Tensor:
    """uint8 [..., H, W] → float in [0, 1] with a channel axis: [..., 1, H, W]."""
    return images.unsqueeze(-3).float().div_(255.0)
