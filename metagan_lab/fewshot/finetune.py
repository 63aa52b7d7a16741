"""The fine-tuned head baseline ("Baseline" of Chen, Liu, Kira, Wang & Huang, "A Closer Look at
Few-Shot Classification", ICLR 2019): no meta-learning at all.

paper symbol                                        code name
pre-training: f_θ + linear classifier over all       PretrainNet (encoder, head)
   training classes, cross-entropy on class batches  class_batch, pretrain_loss
test: θ frozen, a new head (W, b) on f_θ(support)    fit_linear_head(z, y, N, cfg)
   fitted by SGD (momentum 0.9, weight decay 1e-3)
query logits W f_θ(x̂) + b                            finetune_logits(model, episode, cfg)

Chen et al. fit the new head for 100 iterations of SGD (lr 0.01, momentum 0.9, weight decay
0.001) on mini-batches of 4 support images; here each step takes the whole support set (N·K ≤ 25
images) and every task's head starts at 0: with weight decay the problem is strictly convex, so
the start matters little and the result is deterministic. Pre-training uses Adam 1e-3 and
batches of 16 as the paper's baseline training does (it trains 400 epochs; set --iterations).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import non_negative_number, positive_int, positive_number
from ..data.images import ClassImages, to_float
from ..models.conv4 import Conv4
from ..types import Episode
from .episodic import EpisodicConfig, cross_entropy_loss, embed_episode
from .protomaml import linear_logits


@dataclass(frozen=True)
class PretrainConfig(EpisodicConfig):
    """What the supervised baselines share: plain class batches from all training classes."""

    batch: int = 16            # images per pre-training step
    train_classes: int | None = None   # outputs of the pre-training head (from the data)

    DERIVED: ClassVar[tuple[str, ...]] = ("train_classes",)

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_int("batch", self.batch)
        if self.train_classes is not None:
            positive_int("train_classes", self.train_classes, 2)


@dataclass(frozen=True)
class FinetuneConfig(PretrainConfig):
    """Chen et al.'s Baseline: batches of 16, a new linear head fitted for 100 SGD steps."""

    finetune_steps: int = 100  # SGD steps on the new head at test
    finetune_lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-3

    STEPS_FIELD: ClassVar[str | None] = "finetune_steps"
    HELP: ClassVar[dict[str, str]] = {
        "batch": "images per pre-training step",
        "finetune_steps": "SGD steps fitting the new head on the support set at test",
        "finetune_lr": "SGD learning rate of the new head",
        "momentum": "SGD momentum of the new head",
        "weight_decay": "weight decay of the new head"}

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_int("finetune_steps", self.finetune_steps, 0)
        positive_number("finetune_lr", self.finetune_lr)
        non_negative_number("momentum", self.momentum)
        non_negative_number("weight_decay", self.weight_decay)


class PretrainNet(nn.Module):
    """A Conv-4 embedding f_θ and a linear classifier over all ``n_classes`` training classes."""

    def __init__(self, hidden: int, n_classes: int):
        super().__init__()
        self.encoder = Conv4(hidden=hidden)
        self.head = nn.Linear(hidden, n_classes)


def with_train_classes(cfg: PretrainConfig, train: ClassImages) -> PretrainConfig:
    """The config with ``train_classes`` = the classes of the pre-training split."""
    return dataclasses.replace(cfg, train_classes=train.n_classes)


def build(cfg: PretrainConfig) -> PretrainNet:
    if cfg.train_classes is None:
        raise ValueError(f"{type(cfg).__name__}.train_classes is not set; train_episodic fills "
                         "it from the training split (or pass train_classes=…)")
    return PretrainNet(cfg.hidden, cfg.train_classes)


def class_batch(images: Tensor, cfg: PretrainConfig,
                generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``cfg.batch`` random images of all training classes: x [B, 1, H, W] in [0, 1], y [B]."""
    c, s = images.shape[:2]
    y = torch.randint(c, (cfg.batch,), generator=generator, device=images.device)
    i = torch.randint(s, (cfg.batch,), generator=generator, device=images.device)
    return to_float(images[y, i]), y


def pretrain_loss(model: PretrainNet, batch: tuple[Tensor, Tensor],
                  cfg: PretrainConfig) -> tuple[Tensor, Tensor]:
    """Cross-entropy of the classifier over all training classes, and its accuracy."""
    x, y = batch
    logits = model.head(model.encoder(x))                               # [B, C]
    return cross_entropy_loss(logits.unsqueeze(0), y.unsqueeze(0))


def sgd_momentum_step(w: Tensor, grad: Tensor, velocity: Tensor, cfg: FinetuneConfig
                      ) -> tuple[Tensor, Tensor]:
    """v ← μ v + (g + λ w);  w ← w − η v   (torch.optim.SGD's momentum and weight decay)."""
    velocity = cfg.momentum * velocity + grad + cfg.weight_decay * w
    return w - cfg.finetune_lr * velocity, velocity


def fit_linear_head(z: Tensor, y: Tensor, n_way: int,
                    cfg: FinetuneConfig) -> tuple[Tensor, Tensor]:
    """A new head per task by ``finetune_steps`` SGD steps (momentum, weight decay) on the mean
    support cross-entropy, from W = 0, b = 0: z [T, S, D] (constants), y [T, S] →
    W [T, N, D], b [T, N].

    The tasks' losses are summed, so each head gets exactly its own task's gradient.
    """
    t, _, d = z.shape
    z = z.detach()
    head = [torch.zeros(t, n_way, d, dtype=z.dtype, device=z.device),
            torch.zeros(t, n_way, dtype=z.dtype, device=z.device)]
    velocity = [torch.zeros_like(p) for p in head]
    with torch.enable_grad():
        for _ in range(cfg.finetune_steps):
            weight, bias = (p.requires_grad_() for p in head)
            logits = linear_logits(z, weight, bias)                     # [T, S, N]
            loss = F.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(1).sum()
            grads = torch.autograd.grad(loss, [weight, bias])
            moved = [sgd_momentum_step(p.detach(), g, v, cfg)
                     for p, g, v in zip(head, grads, velocity)]
            head, velocity = [m[0] for m in moved], [m[1] for m in moved]
    return head[0].detach(), head[1].detach()


def finetune_logits(model: PretrainNet, episode: Episode, cfg: FinetuneConfig) -> Tensor:
    """Query logits [T, N*Q, N] of a new head fitted on the frozen support embeddings."""
    with torch.no_grad():
        support_z, query_z = embed_episode(model.encoder, episode)     # [T, S, D], [T, Q, D]
    weight, bias = fit_linear_head(support_z, episode.support_y, cfg.n_way, cfg)
    return linear_logits(query_z, weight, bias)
