"""Prototypical Networks (Snell, Swersky & Zemel, NeurIPS 2017).

paper symbol                 code name
f_φ(x)                       encoder(x) → embeddings
c_k = (1/K) Σ f_φ(x_i)       prototypes(support_emb, support_y, n_way)          (eq. 1)
d(z, c) = ‖z − c‖²           squared_distances(z, c)
p(y=k|x) = softmax(−d)_k     protonet_logits(...) then softmax                  (eq. 2)
J = −log p(y=k|x)            protonet_loss(...)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

DISTANCES = ("euclidean", "cosine")


def prototypes(support_emb: Tensor, support_y: Tensor, n_way: int) -> Tensor:
    """c_k = mean of the embeddings labelled k. support_emb [..., S, D], support_y [..., S].

    Returns [..., n_way, D]; works for one task or a batch of tasks.
    """
    onehot = F.one_hot(support_y, n_way).to(support_emb.dtype)           # [..., S, N]
    counts = onehot.sum(dim=-2).unsqueeze(-1)                            # [..., N, 1]
    if (counts == 0).any():
        raise ValueError("a class has no support example; every label 0..n_way-1 needs one")
    return onehot.transpose(-1, -2) @ support_emb / counts               # [..., N, D]


def squared_distances(z: Tensor, c: Tensor) -> Tensor:
    """‖z_q − c_k‖² for queries z [..., Q, D] and prototypes c [..., N, D] → [..., Q, N]."""
    diff = z.unsqueeze(-2) - c.unsqueeze(-3)                             # [..., Q, N, D]
    return diff.pow(2).sum(dim=-1)


def cosine_similarity(z: Tensor, c: Tensor) -> Tensor:
    """cos(z_q, c_k) → [..., Q, N]."""
    return F.normalize(z, dim=-1) @ F.normalize(c, dim=-1).transpose(-1, -2)


def protonet_logits(query_emb: Tensor, protos: Tensor, distance: str = "euclidean",
                    scale: float = 10.0) -> Tensor:
    """Logits −‖z − c_k‖² (euclidean) or scale·cos(z, c_k) (cosine)."""
    if distance == "euclidean":
        return -squared_distances(query_emb, protos)
    if distance == "cosine":
        return scale * cosine_similarity(query_emb, protos)
    raise ValueError(f"distance={distance!r}; choose one of {DISTANCES}")


def protonet_loss(logits: Tensor, query_y: Tensor) -> Tensor:
    """J = mean over queries of −log softmax(logits)[y] (cross-entropy)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), query_y.reshape(-1))


def accuracy(logits: Tensor, y: Tensor) -> Tensor:
    """Fraction of argmax predictions equal to y (all leading axes pooled)."""
    return (logits.argmax(dim=-1) == y).float().mean()


def protonet_episode_logits(encoder, support_x: Tensor, support_y: Tensor, query_x: Tensor,
                            n_way: int, distance: str = "euclidean") -> Tensor:
    """Embed a batch of tasks and return query logits [T, N*Q, N].

    support_x [T, N*K, C, H, W], query_x [T, N*Q, C, H, W]; all images go through the encoder in
    one pass (one BatchNorm batch).
    """
    t, s = support_x.shape[:2]
    x = torch.cat([support_x.flatten(0, 1), query_x.flatten(0, 1)])      # [T*(S+Q'), C, H, W]
    emb = encoder(x)                                                     # [T*(S+Q'), D]
    support_emb = emb[: t * s].view(t, s, -1)                            # [T, N*K, D]
    query_emb = emb[t * s :].view(t, query_x.shape[1], -1)               # [T, N*Q, D]
    return protonet_logits(query_emb, prototypes(support_emb, support_y, n_way), distance)
