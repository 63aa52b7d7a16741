"""Few-shot learners on episodes: Prototypical Networks (protonet.py, train.py), and the episodic
core (episodic.py: one Method record, train_episodic, evaluate_episodic) with Matching Networks,
Relation Networks, Proto-MAML and the supervised baselines (fine-tuned head, SimpleShot), listed
in registry.py; metagan_lab.algorithms joins them with the gradient-based meta-learners."""

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
    Checkpointing,
    ProtoNetConfig,
    encoder_from_checkpoint,
    evaluate_protonet,
    protonet_step,
    train_protonet,
)

__all__ += ["Checkpointing", "ProtoNetConfig", "encoder_from_checkpoint", "evaluate_protonet",
            "protonet_step", "train_protonet"]

from .episodic import (  # noqa: E402
    FAMILIES,
    EpisodicConfig,
    EpisodicLearner,
    Method,
    evaluate_episodic,
    train_episodic,
)

__all__ += ["FAMILIES", "EpisodicConfig", "EpisodicLearner", "Method", "evaluate_episodic",
            "train_episodic"]
