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

from .train import (  # noqa: E402
    ProtoNetConfig,
    encoder_from_checkpoint,
    evaluate_protonet,
    protonet_step,
    train_protonet,
)

__all__ += ["ProtoNetConfig", "encoder_from_checkpoint", "evaluate_protonet", "protonet_step",
            "train_protonet"]
