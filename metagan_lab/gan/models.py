"""Generators and discriminators: DCGAN-style for 28×28 images (optionally class-conditional) and
small MLPs for 2-D toy data. All discriminators return logits [B]; all generators take (z, y=None).

paper symbol     code name
z ~ N(0, I)      z  [B, z_dim]
y (class)        y  [B] long, only for conditional models (n_classes > 0)
G(z, y), D(x, y) generator(z, y), discriminator(x, y)

The conditional discriminator is a projection discriminator (Miyato & Koyama 2018):
D(x, y) = ψ(φ(x)) + ⟨embed(y), φ(x)⟩. Batch-norm layers use batch statistics only
(``track_running_stats=False``) so that explicit parameter dicts (``params_of``) are the whole
state, as Reptile (``gan/fewshot.py``) needs.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..models import MLP


def _check_conditioning(n_classes: int, y: Tensor | None, who: str) -> None:
    if n_classes and y is None:
        raise ValueError(f"{who} is class-conditional (n_classes={n_classes}); pass labels y")
    if not n_classes and y is not None:
        raise ValueError(f"{who} is unconditional (n_classes=0) but labels y were passed")


class DCGenerator(nn.Module):
    """z [B, z_dim] (+ y [B]) → images [B, 1, 28, 28] in [0, 1] (sigmoid output)."""

    def __init__(self, z_dim: int = 64, width: int = 32, n_classes: int = 0):
        super().__init__()
        self.z_dim, self.n_classes, self.width = z_dim, n_classes, width
        self.embed = nn.Embedding(n_classes, z_dim) if n_classes else None
        self.fc = nn.Linear(z_dim * (2 if n_classes else 1), 2 * width * 7 * 7)
        self.net = nn.Sequential(
            nn.BatchNorm2d(2 * width, track_running_stats=False), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),        # 7 → 14
            nn.BatchNorm2d(width, track_running_stats=False), nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),                # 14 → 28
            nn.Sigmoid(),
        )

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        _check_conditioning(self.n_classes, y, "DCGenerator")
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)                             # [B, 2·z_dim]
        h = self.fc(z).view(z.shape[0], 2 * self.width, 7, 7)                   # [B, 2w, 7, 7]
        return self.net(h)                                                      # [B, 1, 28, 28]


class DCDiscriminator(nn.Module):
    """x [B, C, 28, 28] (+ y [B]) → logits [B]. No normalisation layers (safe with WGAN-GP, R1)."""

    def __init__(self, width: int = 32, n_classes: int = 0, in_channels: int = 1):
        super().__init__()
        self.n_classes = n_classes
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # 28 → 14
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),    # 14 → 7
            nn.Flatten(),                                                            # [B, 2w·49]
        )
        self.out = nn.Linear(2 * width * 7 * 7, 1)
        self.embed = nn.Embedding(n_classes, 2 * width * 7 * 7) if n_classes else None

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        _check_conditioning(self.n_classes, y, "DCDiscriminator")
        h = self.features(x)                                                    # [B, F]
        logits = self.out(h).squeeze(1)                                         # [B]
        if self.embed is not None:
            logits = logits + (self.embed(y) * h).sum(dim=1)                    # projection term
        return logits


class ToyGenerator(nn.Module):
    """z [B, z_dim] → points [B, 2] through an MLP (``models.MLP``)."""

    def __init__(self, z_dim: int = 2, hidden: tuple[int, ...] = (64, 64), out_features: int = 2):
        super().__init__()
        self.z_dim, self.n_classes = z_dim, 0
        self.net = MLP(z_dim, hidden, out_features, activation="relu")

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        _check_conditioning(0, y, "ToyGenerator")
        return self.net(z)


class ToyDiscriminator(nn.Module):
    """x [B, 2] → logits [B] through a tanh MLP (smooth decision surface to draw)."""

    def __init__(self, in_features: int = 2, hidden: tuple[int, ...] = (64, 64)):
        super().__init__()
        self.n_classes = 0
        self.net = MLP(in_features, hidden, 1, activation="tanh")

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        _check_conditioning(0, y, "ToyDiscriminator")
        return self.net(x).squeeze(-1)
