"""Relation Networks (Sung, Yang, Zhang, Xiang, Torr & Hospedales, CVPR 2018).

paper symbol                                   code name
f_φ (embedding module, keeps feature maps)      RelationNet.embedding  [B,1,28,28] → [B,D,5,5]
class feature map: Σ_{i: y_i = k} f_φ(x_i)      class_feature_maps(maps, support_y, N)
C(f_φ(x_i), f_φ(x_j))  (depth concatenation)    relation_pairs(class_maps, query_maps)
r_{i,j} = g_ϕ(C(·,·)) ∈ [0, 1]  (sigmoid)       relation_scores(model, pairs)            (eq. 1)
Σ_i Σ_j (r_{i,j} − 1(y_i = y_j))²               relation_loss(scores, query_y)           (eq. 2)

The embedding is the paper's Omniglot module (their code): four blocks of [3×3 conv with D
filters, BatchNorm, ReLU], the first two unpadded and max-pooled, the last two padded and not
pooled: 28 → 26 → 13 → 11 → 5, so a query keeps a D × 5 × 5 feature map (Conv-4 would pool it to
1 × 1, leaving the relation module nothing spatial to compare). The relation module: two padded
blocks with 2×2 max-pooling (5 → 2 → 1), then fully connected D → 8 → 1 with ReLU and a sigmoid.
The loss is the mean of the squared errors (the paper's sum divided by the number of pairs: the
same minimiser, the gradient scaled; their code uses the mean too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import positive_int
from ..types import Episode
from .episodic import EpisodicConfig, embed_episode, one_hot


@dataclass(frozen=True)
class RelationConfig(EpisodicConfig):
    """Sung et al.'s 5-way 1-shot Omniglot setting: 19 queries per class in training episodes,
    Adam 1e-3 halved every 100 000 episodes, an 8-unit hidden layer in the relation module."""

    n_query: int = 19
    lr_halve_every: int | None = 100_000
    relation_hidden: int = 8   # the relation module's fully connected layer

    HELP: ClassVar[dict[str, str]] = {
        "relation_hidden": "units of the relation module's hidden fully connected layer"}

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_int("relation_hidden", self.relation_hidden)


def _block(c_in: int, c_out: int, padding: int, pool: bool) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, 3, padding=padding), nn.BatchNorm2d(c_out), nn.ReLU()]
    return nn.Sequential(*layers, *([nn.MaxPool2d(2)] if pool else []))


class RelationNet(nn.Module):
    """f_φ: images → D × 5 × 5 maps; g_ϕ: a pair of maps (2D channels) → a score in [0, 1]."""

    def __init__(self, hidden: int = 64, relation_hidden: int = 8):
        super().__init__()
        self.embedding = nn.Sequential(_block(1, hidden, 0, True), _block(hidden, hidden, 0, True),
                                       _block(hidden, hidden, 1, False),
                                       _block(hidden, hidden, 1, False))
        self.relation = nn.Sequential(_block(2 * hidden, hidden, 1, True),
                                      _block(hidden, hidden, 1, True), nn.Flatten(),
                                      nn.Linear(hidden, relation_hidden), nn.ReLU(),
                                      nn.Linear(relation_hidden, 1), nn.Sigmoid())


def build(cfg: RelationConfig) -> RelationNet:
    return RelationNet(cfg.hidden, cfg.relation_hidden)


def class_feature_maps(support_maps: Tensor, support_y: Tensor, n_way: int) -> Tensor:
    """The element-wise sum of the K support maps of each class:
    support_maps [T, N*K, C, H, W], support_y [T, N*K] → [T, N, C, H, W]."""
    if support_maps.dim() != 5 or support_maps.shape[:2] != support_y.shape:
        raise ValueError(f"class_feature_maps: maps {tuple(support_maps.shape)} and labels "
                         f"{tuple(support_y.shape)} must be [T, N*K, C, H, W] and [T, N*K]")
    onehot = one_hot(support_y, n_way, support_maps.dtype)              # [T, N*K, N]
    return torch.einsum("tsn,tschw->tnchw", onehot, support_maps)


def relation_pairs(class_maps: Tensor, query_maps: Tensor) -> Tensor:
    """C(f(x_i), f(x_j)) for every class i and query j, the class map first:
    class_maps [T, N, C, H, W], query_maps [T, Q, C, H, W] → [T, Q, N, 2C, H, W]."""
    t, n = class_maps.shape[:2]
    q = query_maps.shape[1]
    classes = class_maps.unsqueeze(1).expand(t, q, *class_maps.shape[1:])
    queries = query_maps.unsqueeze(2).expand(t, q, n, *query_maps.shape[2:])
    return torch.cat([classes, queries], dim=3)


def relation_scores(model: RelationNet, pairs: Tensor) -> Tensor:
    """r_{i,j} = g_ϕ(pair) ∈ [0, 1]: pairs [T, Q, N, 2C, H, W] → [T, Q, N]."""
    return model.relation(pairs.flatten(0, 2)).view(pairs.shape[:3])


def relation_logits(model: RelationNet, episode: Episode, cfg: RelationConfig) -> Tensor:
    """The relation scores [T, N*Q, N] of every query to every class (argmax predicts)."""
    support_maps, query_maps = embed_episode(model.embedding, episode)
    class_maps = class_feature_maps(support_maps, episode.support_y, cfg.n_way)
    return relation_scores(model, relation_pairs(class_maps, query_maps))


def relation_loss(scores: Tensor, query_y: Tensor) -> Tensor:
    """mean over queries j and classes i of (r_{i,j} − 1(y_j = i))²: scores [T, Q, N]."""
    if scores.shape[:-1] != query_y.shape:
        raise ValueError(f"relation_loss: scores {tuple(scores.shape)} and labels "
                         f"{tuple(query_y.shape)} must be [T, Q, N] and [T, Q]")
    return F.mse_loss(scores, one_hot(query_y, scores.shape[-1], scores.dtype))


def relation_method_loss(model: RelationNet, episode: Episode,
                         cfg: RelationConfig) -> tuple[Tensor, Tensor]:
    """(the MSE of the relation scores to the one-hot labels, the query accuracy)."""
    scores = relation_logits(model, episode, cfg)
    acc = (scores.detach().argmax(-1) == episode.query_y).float().mean()
    return relation_loss(scores, episode.query_y), acc
