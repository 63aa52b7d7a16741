"""Prototypical Networks (Snell, Swersky & Zemel, NeurIPS 2017).

paper symbol                 code name
f_φ(x)                       encoder(x) → embeddings
c_k = (1/K) Σ f_φ(x_i)       prototypes(support_emb, support_y, n_way)          (eq. 1)
d(z, c) = ‖z − c‖²           squared_distances(z, c)
p(y=k|x) = softmax(−d)_k     protonet_logits(...) then softmax                  (eq. 2)
J = −log p(y=k|x)            protonet_loss(...)

Every function checks its shapes first: a mismatch is a one-line ValueError naming the shapes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..checks import positive_int

DISTANCES = ("euclidean", "cosine")


def _shape(t: Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def _broadcastable(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    try:
        torch.broadcast_shapes(a, b)
    except RuntimeError:
        return False
    return True


def check_labels(where: str, y: Tensor, n_classes: int, name: str = "labels") -> None:
    """Labels must be an integer tensor with every value in [0, n_classes)."""
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ValueError(f"{where}: {name} must be integer class indices, got {y.dtype}")
    if y.numel():
        lo, hi = torch.stack(torch.aminmax(y)).tolist()   # one device sync
        if lo < 0 or hi >= n_classes:
            raise ValueError(f"{where}: {name} run from {lo} to {hi} but must lie in "
                             f"[0, {n_classes}) for {n_classes} classes; relabel the classes "
                             f"0..{n_classes - 1}")


def _check_queries_and_prototypes(where: str, z: Tensor, c: Tensor) -> None:
    """z [..., Q, D] and c [..., N, D]: same D, task axes that broadcast."""
    if z.dim() < 2 or c.dim() < 2 or z.shape[-1] != c.shape[-1] or not _broadcastable(
            z.shape[:-2], c.shape[:-2]):
        raise ValueError(f"{where}: queries z {_shape(z)} and prototypes c {_shape(c)} must be "
                         "[..., Q, D] and [..., N, D] with the same D and the same task axes")


def prototypes(support_emb: Tensor, support_y: Tensor, n_way: int) -> Tensor:
    """c_k = mean of the embeddings labelled k. support_emb [..., S, D], support_y [..., S].

    Returns [..., n_way, D]; works for one task or a batch of tasks.
    """
    positive_int("n_way", n_way)
    if (support_emb.dim() < 2 or support_y.dim() < 1
            or support_y.shape[-1] != support_emb.shape[-2]
            or not _broadcastable(support_y.shape[:-1], support_emb.shape[:-2])):
        raise ValueError(f"prototypes: support_emb {_shape(support_emb)} and support_y "
                         f"{_shape(support_y)} must be [..., S, D] and [..., S] with the same S "
                         "(one label per embedding)")
    check_labels("prototypes", support_y, n_way, "support_y")
    onehot = F.one_hot(support_y, n_way).to(support_emb.dtype)           # [..., S, N]
    counts = onehot.sum(dim=-2).unsqueeze(-1)                            # [..., N, 1]
    if (counts == 0).any():
        raise ValueError("a class has no support example; every label 0..n_way-1 needs one")
    return onehot.transpose(-1, -2) @ support_emb / counts               # [..., N, D]


def squared_distances(z: Tensor, c: Tensor) -> Tensor:
    """‖z_q − c_k‖² for queries z [..., Q, D] and prototypes c [..., N, D] → [..., Q, N]."""
    _check_queries_and_prototypes("squared_distances", z, c)
    diff = z.unsqueeze(-2) - c.unsqueeze(-3)                             # [..., Q, N, D]
    return diff.pow(2).sum(dim=-1)


def cosine_similarity(z: Tensor, c: Tensor) -> Tensor:
    """cos(z_q, c_k) → [..., Q, N]."""
    _check_queries_and_prototypes("cosine_similarity", z, c)
    return F.normalize(z, dim=-1) @ F.normalize(c, dim=-1).transpose(-1, -2)


def protonet_logits(query_emb: Tensor, protos: Tensor, distance: str = "euclidean",
                    scale: float = 10.0) -> Tensor:
    """Logits −‖z − c_k‖² (euclidean) or scale·cos(z, c_k) (cosine)."""
    if distance == "euclidean":
        return -squared_distances(query_emb, protos)
    if distance == "cosine":
        return scale * cosine_similarity(query_emb, protos)
    raise ValueError(f"distance={distance!r}; choose one of {DISTANCES}")


def _check_logits_and_labels(where: str, logits: Tensor, y: Tensor) -> None:
    """logits [..., Q, N] and labels [..., Q]: one label per row of logits."""
    if logits.dim() < 1 or _shape(logits)[:-1] != _shape(y):
        raise ValueError(f"{where}: logits {_shape(logits)} and labels {_shape(y)} must be "
                         "[..., Q, N] and [..., Q] (one label per query)")


def protonet_loss(logits: Tensor, query_y: Tensor) -> Tensor:
    """J = mean over queries of −log softmax(logits)[y] (cross-entropy)."""
    _check_logits_and_labels("protonet_loss", logits, query_y)
    check_labels("protonet_loss", query_y, logits.shape[-1], "query_y")
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), query_y.reshape(-1))


def accuracy(logits: Tensor, y: Tensor) -> Tensor:
    """Fraction of argmax predictions equal to y (all leading axes pooled)."""
    _check_logits_and_labels("accuracy", logits, y)
    return (logits.argmax(dim=-1) == y).float().mean()


def protonet_episode_logits(encoder, support_x: Tensor, support_y: Tensor, query_x: Tensor,
                            n_way: int, distance: str = "euclidean") -> Tensor:
    """Embed a batch of tasks and return query logits [T, N*Q, N].

    support_x [T, N*K, C, H, W], query_x [T, N*Q, C, H, W]; all images go through the encoder in
    one pass (one BatchNorm batch).
    """
    if (support_x.dim() < 3 or query_x.dim() != support_x.dim()
            or query_x.shape[0] != support_x.shape[0] or query_x.shape[2:] != support_x.shape[2:]
            or _shape(support_y) != _shape(support_x)[:2]):
        raise ValueError(
            f"protonet_episode_logits: support_x {_shape(support_x)}, support_y "
            f"{_shape(support_y)} and query_x {_shape(query_x)} must be [T, N*K, C, H, W], "
            "[T, N*K] and [T, N*Q, C, H, W] with the same T and image shape")
    t, s = support_x.shape[:2]
    x = torch.cat([support_x.flatten(0, 1), query_x.flatten(0, 1)])      # [T*(S+Q'), C, H, W]
    emb = encoder(x)                                                     # [T*(S+Q'), D]
    support_emb = emb[: t * s].view(t, s, -1)                            # [T, N*K, D]
    query_emb = emb[t * s :].view(t, query_x.shape[1], -1)               # [T, N*Q, D]
    return protonet_logits(query_emb, prototypes(support_emb, support_y, n_way), distance)
