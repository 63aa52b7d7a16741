"""The two learners as methods of the episodic core (``fewshot.episodic``): each config holds its
paper's defaults, ``build_*`` makes the network and ``*_method_logits(model, episode, cfg)`` gives
the query logits [T, N*Q, N]. ``metagan_lab.methods`` lists them (``metagan-lab train mann``,
``metagan-lab train hypernet``; ``eval`` and ``sample`` read their ``episodic`` checkpoints).

The learners themselves (``mann.py``, ``hypernet.py``) do not depend on the episodic core.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor

from ..checks import choice, positive_int
from ..fewshot.episodic import EpisodicConfig
from ..meta.functional import check_inner_lr, check_inner_steps
from ..types import Episode
from .hypernet import HyperNet, head_steps, hypernet_logits
from .mann import ENCODERS, LABELS, MANN, mann_logits


@dataclass(frozen=True)
class MANNConfig(EpisodicConfig):
    """Stanford CS330 homework 1 (after Santoro et al. 2016): a 2-layer LSTM with 128 units on
    the flattened 28×28 images and the offset one-hot labels, Adam at 1e-3, a batch of tasks per
    step.

    ``labels="same-step"`` (measured on Omniglot 5-way 1-shot, one CPU thread, ``--encoder conv4
    --hidden 32 --layers 1 --queries 1 --meta-batch 8 --lr 2e-3 --max-seconds 300``): validation
    left chance after about 3000 iterations, and the test accuracy was 60.7 ± 1.8 % on 200 tasks
    after 7142 iterations (303 s); with the offset labels the same setting stayed at chance
    through 8250 iterations.
    """

    meta_batch: int = 16       # T tasks per Adam step
    lstm_hidden: int = 128     # LSTM units per layer
    layers: int = 2            # LSTM layers
    encoder: str = "flat"      # "flat" (the pixels) or "conv4" (Conv-4 features, --hidden)
    labels: str = "offset"     # "offset" (x_t, y_{t−1}) or "same-step" (x_t, y_t; queries 0)

    HELP: ClassVar[dict[str, str]] = {
        "lstm_hidden": "LSTM units per layer",
        "layers": "LSTM layers",
        "encoder": f"image encoder before the LSTM, one of {ENCODERS} (conv4 uses --hidden "
                   "filters)",
        "labels": f"label convention, one of {LABELS}: offset (Santoro et al.: y_(t-1) with x_t) "
                  "or same-step (CS330's later form: y_t with x_t, queries 0; learns much sooner, "
                  "see MANNConfig)"}

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_int("lstm_hidden", self.lstm_hidden)
        positive_int("layers", self.layers)
        choice("encoder", self.encoder, ENCODERS)
        choice("labels", self.labels, LABELS)


def build_mann(cfg: MANNConfig) -> MANN:
    return MANN(cfg.n_way, hidden=cfg.lstm_hidden, layers=cfg.layers, encoder=cfg.encoder,
                conv_hidden=cfg.hidden, order_seed=cfg.seed, labels=cfg.labels)


def mann_method_logits(model: MANN, episode: Episode, cfg: MANNConfig) -> Tensor:
    """Query logits [T, N*Q, N]; the support order comes from the model's seeded generator."""
    if cfg.n_way != model.n_way:
        raise ValueError(f"this MANN reads {model.n_way}-way tasks (its label inputs and logits "
                         f"have {model.n_way} entries); it cannot test {cfg.n_way}-way tasks")
    return mann_logits(model, episode)


@dataclass(frozen=True)
class HyperNetConfig(EpisodicConfig):
    """A Conv-4 task encoder and an MLP h_ψ writing each class's head row from its class mean
    (Qiao et al. 2018), then first-order SGD steps on the support set from that head (as LEO,
    Rusu et al. 2019, steps from generated parameters)."""

    hyper_hidden: int = 128    # units of h_ψ's hidden layer
    inner_lr: float = 0.1      # α of the inner steps on the head
    inner_steps: int = 1       # k while training
    eval_inner_steps: int = 1  # k at validation and test

    STEPS_FIELD: ClassVar[str | None] = "eval_inner_steps"
    HELP: ClassVar[dict[str, str]] = {
        "hyper_hidden": "units of the hypernetwork's hidden layer",
        "inner_lr": "α of the first-order inner SGD steps on the generated head",
        "inner_steps": "k inner steps while training (0: the generated head as it is)",
        "eval_inner_steps": "k inner steps at validation and test"}

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_int("hyper_hidden", self.hyper_hidden)
        check_inner_lr(self.inner_lr)
        check_inner_steps(self.inner_steps)
        check_inner_steps(self.eval_inner_steps)


def build_hypernet(cfg: HyperNetConfig) -> HyperNet:
    return HyperNet(hidden=cfg.hidden, hyper_hidden=cfg.hyper_hidden)


def hypernet_method_logits(model: HyperNet, episode: Episode, cfg: HyperNetConfig) -> Tensor:
    """Query logits [T, N*Q, N] after ``inner_steps`` (training) or ``eval_inner_steps`` (eval
    mode) first-order steps from the generated head."""
    steps = cfg.inner_steps if model.training else cfg.eval_inner_steps
    return hypernet_logits(model, episode, head_steps(steps, cfg.inner_lr), cfg.n_way)
