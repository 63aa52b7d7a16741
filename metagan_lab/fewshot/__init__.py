"""Metric-based few-shot learning: Prototypical Networks."""

from .protonet import (
    DISTANCES,
    accuracy,
    cosine_similarity,
    protonet_episode_logits,
    protonet_logits,
    protonet_loss,
    prototypes,
    squared_distances,
)

__all__ = ["DISTANCES", "accuracy", "cosine_similarity", "protonet_episode_logits",
           "protonet_logits", "protonet_loss", "prototypes", "squared_distances"]

from .train import ProtoNetConfig, evaluate_protonet, protonet_step, train_protonet  # noqa: E402

__all__ += ["ProtoNetConfig", "evaluate_protonet", "protonet_step", "train_protonet"]
