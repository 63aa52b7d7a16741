"""Black-box and generated-initialisation meta-learners: an LSTM that reads the labelled support
set (memory-based, Santoro et al. 2016) and a hypernetwork that writes each task's classifier
head from its support set (Qiao et al. 2018), optionally followed by inner steps.

They use ``fewshot.protonet`` and ``fewshot.episodic``; ``metagan_lab.methods`` (above both
packages) lists them with the metric methods.
"""

from .hypernet import (
    HyperNet,
    adapt_head,
    class_embeddings,
    generate_head,
    generated_head,
    head_images,
    head_logits,
    head_steps,
    hypernet_logits,
    hypernet_loss,
)
from .mann import (
    LABELS,
    MANN,
    LabelSequence,
    accuracy_by_instance,
    current_labels,
    instance_index,
    label_sequence,
    mann_instance_accuracy,
    mann_logits,
    mann_loss,
    mann_sequence,
)

__all__ = ["LABELS", "MANN", "HyperNet", "LabelSequence", "accuracy_by_instance", "adapt_head",
           "class_embeddings", "current_labels", "generate_head", "generated_head", "head_images",
           "head_logits", "head_steps", "hypernet_logits", "hypernet_loss", "instance_index",
           "label_sequence", "mann_instance_accuracy", "mann_logits", "mann_loss", "mann_sequence"]
