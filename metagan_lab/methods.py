"""The episodic methods (``fewshot`` and ``blackbox``), in one explicit table: name →
``episodic.Method`` (config class with the paper's defaults, network, logits, loss, help, paper,
family).

The CLI's ``train matching|relation|protomaml|finetune|simpleshot|mann|hypernet`` sub-commands
are generated from it (``cli/families.py``), and ``metagan_lab.algorithms`` joins it with
``meta.registry`` into the one table of every algorithm. A new method is one module with its
config and functions, plus one entry here. It sits above ``fewshot`` and ``blackbox`` (both list
nothing of each other).
"""

from __future__ import annotations

import torch

from .blackbox.methods import (
    HyperNetConfig,
    MANNConfig,
    build_hypernet,
    build_mann,
    hypernet_method_logits,
    mann_method_logits,
)
from .fewshot.episodic import EpisodicConfig, EpisodicLearner, Method, new_learner
from .fewshot.finetune import (
    FinetuneConfig,
    class_batch,
    finetune_logits,
    pretrain_loss,
    with_train_classes,
)
from .fewshot.finetune import build as build_finetune
from .fewshot.matching import MatchingConfig, matching_logits
from .fewshot.matching import build as build_matching
from .fewshot.protomaml import ProtoMAMLConfig, protomaml_logits
from .fewshot.protomaml import build as build_protomaml
from .fewshot.relation import RelationConfig, relation_logits, relation_method_loss
from .fewshot.relation import build as build_relation
from .fewshot.simpleshot import SimpleShotConfig, simpleshot_logits
from .fewshot.simpleshot import build as build_simpleshot
from .fewshot.simpleshot import prepare as prepare_simpleshot

METHODS: dict[str, Method] = {m.name: m for m in (
    Method("matching", "metric", MatchingConfig, build_matching, matching_logits,
           "Matching Networks: cosine attention over the support set",
           "Vinyals et al. 2016"),
    Method("relation", "metric", RelationConfig, build_relation, relation_logits,
           "Relation Networks: a learned relation score, MSE loss",
           "Sung et al. 2018", loss=relation_method_loss),
    Method("protomaml", "gradient-based", ProtoMAMLConfig, build_protomaml, protomaml_logits,
           "Proto-MAML: a prototype-initialised head, first-order inner steps",
           "Triantafillou et al. 2020"),
    Method("finetune", "baseline", FinetuneConfig, build_finetune, finetune_logits,
           "pre-trained classifier, a new linear head fitted on the support set",
           "Chen et al. 2019", loss=pretrain_loss, sample=class_batch,
           setup=with_train_classes),
    Method("simpleshot", "baseline", SimpleShotConfig, build_simpleshot,
           simpleshot_logits,
           "pre-trained classifier, nearest centroid of centred L2-normalised features",
           "Wang et al. 2019", loss=pretrain_loss, sample=class_batch,
           setup=with_train_classes, prepare=prepare_simpleshot),
    Method("mann", "black-box", MANNConfig, build_mann, mann_method_logits,
           "memory-based: an LSTM reads the labelled support set, then each query",
           "Santoro et al. 2016"),
    Method("hypernet", "generated-init", HyperNetConfig, build_hypernet, hypernet_method_logits,
           "generated initialisation: h_ψ writes each class's head row from its class mean, "
           "then first-order steps", "Qiao et al. 2018"),
)}


def method_for(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"method={name!r}; choose from {tuple(METHODS)}")
    return METHODS[name]


def config_for(name: str, **changes) -> EpisodicConfig:
    """The method's paper setting with ``changes`` applied, e.g.
    ``config_for("relation", iterations=200)``."""
    return method_for(name).config(**changes)


def learner_from_checkpoint(ckpt: dict, device: str | torch.device = "cpu") -> EpisodicLearner:
    """The learner of a ``kind='episodic'`` checkpoint (``EpisodicLearner.state``), in eval mode;
    ``runs.load`` has already refused NaN or infinite weights."""
    if not isinstance(ckpt, dict) or ckpt.get("kind") != "episodic":
        raise ValueError("not an episodic checkpoint of metagan-lab (expected kind='episodic'); "
                         f"make one with `metagan-lab train {'|'.join(METHODS)}`")
    method = method_for(ckpt["method"])
    learner = new_learner(method, method.config(**ckpt["config"]), device)
    learner.model.load_state_dict(ckpt["state_dict"])
    learner.model.eval()
    return learner
