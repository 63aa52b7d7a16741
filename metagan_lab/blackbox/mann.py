"""Memory-based (black-box) meta-learning: an LSTM reads the labelled support set as a sequence.

Santoro, Bartunov, Botvinick, Wierstra & Lillicrap, "Meta-learning with memory-augmented neural
networks", ICML 2016 (the setup of their Sec. 4 and Fig. 2), in the form of Stanford CS330
homework 1: the memory is the LSTM's state, not an external memory matrix.

paper symbol                        code name
x_t (image, flattened to 784)       inputs[..., :C*H*W]
y_{t−1} (previous label, one-hot)   inputs[..., C*H*W:]       (zero at t = 0)
(x_t, y_{t−1}) for t = 1 … S, Q'    label_sequence(support_x, support_y, query_x, n_way)
p(ŷ_t | x_1..t, y_1..t−1)           softmax of MANN(inputs, S)[:, t]
L = −Σ_query log p(y_t)             mann_loss(model, episode)    (cross-entropy on queries only)
k-th instance accuracy              accuracy_by_instance(logits, labels, n_labelled)
(x_t, y_t) on the support, (x_q, 0)  label_sequence(…, labels="same-step")   (CS330's later form)

The one label convention (Santoro et al.'s, "offset by one time step"): position t carries the
image x_t and the one-hot label of the item *before* it, y_{t−1}; the first position carries a
zero label. Every query is read as the item that follows the whole support set: it carries the
last support label y_{S−1}, and the LSTM reads it from its state after the support, on its own
(queries never see each other, so the number and order of queries changes nothing; a query's
label is never shown). So every prediction, support or query, is made before its label is shown,
and the k-th time a class appears the learner has seen k − 1 labelled examples of it (Santoro et
al.'s "1st instance", "2nd instance", … accuracies; the queries are the (K+1)-th).

Order: the support items are shuffled per task. Episodes list them class-major (0, 0, 1, 1, …);
read in that order, the LSTM could learn labels from positions. Training draws a fresh permutation
every call (the model's own seeded ``order_generator``); ``generator=None`` in ``label_sequence``
keeps the episode's order, for hand checks only.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import positive_int
from ..fewshot.protonet import check_labels
from ..models.conv4 import Conv4
from ..types import Episode

ENCODERS = ("flat", "conv4")
LABELS = ("offset", "same-step")


class LabelSequence(NamedTuple):
    """The LSTM's input and where each item went.

    inputs [T, L, C*H*W + N]  (image, previous label) at each position, L = S + Q'
    order  [T, L]             order[t, p] = index of the item at position p in the episode's
                              support ++ query list (support 0..S−1 shuffled, then the queries
                              S..S+Q'−1 in the episode's order)
    """

    inputs: Tensor
    order: Tensor


def sequence_order(n_tasks: int, n_support: int, n_query: int,
                   generator: torch.Generator | None = None) -> Tensor:
    """[T, S + Q'] item order: the support shuffled per task, then the queries in order.

    ``generator=None``: the episode's order 0 … S+Q'−1 (for hand checks; never for training)."""
    queries = torch.arange(n_support, n_support + n_query).expand(n_tasks, -1)
    if generator is None:
        support = torch.arange(n_support).expand(n_tasks, -1)
    else:
        rand = torch.rand(n_tasks, n_support, generator=generator, device=generator.device)
        support = rand.argsort(dim=1).cpu()
    return torch.cat([support, queries], dim=1)                            # [T, S+Q']


def previous_labels(support_y: Tensor, n_query: int, n_way: int, dtype: torch.dtype) -> Tensor:
    """One-hot y_{t−1} at each position t: zero at t = 0, y_{t−1} on the support, the last
    support label y_{S−1} on every query. support_y [T, S] in reading order → [T, S+Q', N]."""
    onehot = F.one_hot(support_y, n_way).to(dtype)                         # [T, S, N]
    first = torch.zeros_like(onehot[:, :1])                                # [T, 1, N]
    last = onehot[:, -1:].expand(-1, n_query, -1)                          # [T, Q', N]
    return torch.cat([first, onehot[:, :-1], last], dim=1)


def current_labels(support_y: Tensor, n_query: int, n_way: int, dtype: torch.dtype) -> Tensor:
    """One-hot y_t at each support position t, zero on every query (the later CS330 homework's
    convention: a support item's label comes with its image). support_y [T, S] in reading order
    → [T, S+Q', N]. Only the queries are then predictions made before their label is shown."""
    onehot = F.one_hot(support_y, n_way).to(dtype)                         # [T, S, N]
    return torch.cat([onehot, onehot.new_zeros(onehot.shape[0], n_query, n_way)], dim=1)


def _check_episode_shapes(where: str, support_x: Tensor, support_y: Tensor,
                          query_x: Tensor) -> None:
    if (support_x.dim() < 3 or query_x.dim() != support_x.dim()
            or query_x.shape[0] != support_x.shape[0] or query_x.shape[2:] != support_x.shape[2:]
            or tuple(support_y.shape) != tuple(support_x.shape[:2])):
        raise ValueError(f"{where}: support_x {tuple(support_x.shape)}, support_y "
                         f"{tuple(support_y.shape)} and query_x {tuple(query_x.shape)} must be "
                         "[T, N*K, C, H, W], [T, N*K] and [T, N*Q, C, H, W] with the same T and "
                         "image shape")


def label_sequence(support_x: Tensor, support_y: Tensor, query_x: Tensor, n_way: int,
                   generator: torch.Generator | None = None,
                   labels: str = "offset") -> LabelSequence:
    """The input sequence (x_t, y_{t−1}), t = 1 … S + Q' (Santoro et al.'s offset labels).

    support_x [T, S, C, H, W], support_y [T, S], query_x [T, Q', C, H, W] →
    inputs [T, S+Q', C*H*W + N], order [T, S+Q'] (see ``LabelSequence``). The support items are
    shuffled per task by ``generator``; every query carries y_{S−1}; query labels are never shown.
    ``labels="same-step"``: (x_t, y_t) on the support and (x_q, 0) on the queries instead
    (``current_labels``).
    """
    positive_int("n_way", n_way)
    if labels not in LABELS:
        raise ValueError(f"labels={labels!r}; choose from {LABELS}")
    _check_episode_shapes("label_sequence", support_x, support_y, query_x)
    check_labels("label_sequence", support_y, n_way, "support_y")
    t, s, q = support_x.shape[0], support_x.shape[1], query_x.shape[1]
    order = sequence_order(t, s, q, generator).to(support_x.device)        # [T, L]
    images = torch.cat([support_x, query_x], dim=1).flatten(2)             # [T, L, C*H*W]
    images = images.gather(1, order[..., None].expand(-1, -1, images.shape[-1]))
    shown = (previous_labels if labels == "offset" else current_labels)(
        support_y.gather(1, order[:, :s]), q, n_way, images.dtype)
    return LabelSequence(torch.cat([images, shown], dim=-1), order)


class MANN(nn.Module):
    """(inputs [T, L, C*H*W + N], S) → logits [T, L, N]: image encoder, then a 2-layer LSTM
    over the S support positions; each query position is one more step from the state after them.

    ``encoder='flat'`` (CS330 homework 1): the flattened image and label go straight into the
    LSTM. ``encoder='conv4'``: each image goes through a Conv-4 first (``conv_hidden`` features).
    CS330's second LSTM layer outputs the N logits directly (tanh-bounded, so never confident);
    here a linear read-out of the top layer's hidden state gives them.
    """

    def __init__(self, n_way: int, image_shape: tuple[int, int, int] = (1, 28, 28),
                 hidden: int = 128, layers: int = 2, encoder: str = "flat",
                 conv_hidden: int = 64, order_seed: int = 0, labels: str = "offset"):
        super().__init__()
        if labels not in LABELS:
            raise ValueError(f"labels={labels!r}; choose from {LABELS}")
        self.labels = labels
        positive_int("n_way", n_way)
        positive_int("hidden", hidden)
        positive_int("layers", layers)
        if encoder not in ENCODERS:
            raise ValueError(f"encoder={encoder!r}; choose from {ENCODERS}")
        self.n_way, self.image_shape, self.encoder_name = n_way, tuple(image_shape), encoder
        self.image_size = math.prod(image_shape)
        self.encoder = (Conv4(image_shape[0], conv_hidden) if encoder == "conv4" else None)
        features = conv_hidden if encoder == "conv4" else self.image_size
        self.lstm = nn.LSTM(features + n_way, hidden, num_layers=layers, batch_first=True)
        self.readout = nn.Linear(hidden, n_way)
        self.order_generator = torch.Generator().manual_seed(order_seed)

    def forward(self, inputs: Tensor, n_support: int) -> Tensor:
        if (inputs.dim() != 3 or inputs.shape[-1] != self.image_size + self.n_way
                or not 0 < n_support <= inputs.shape[1]):
            raise ValueError(f"MANN: inputs {tuple(inputs.shape)} must be [T, L, "
                             f"{self.image_size} + {self.n_way}] (image, previous label) with "
                             f"0 < n_support={n_support} <= L; build them with label_sequence")
        t, length = inputs.shape[:2]
        x, shown = inputs[..., :self.image_size], inputs[..., self.image_size:]
        if self.encoder is not None:
            x = self.encoder(x.reshape(t * length, *self.image_shape)).view(t, length, -1)
        x = torch.cat([x, shown], dim=-1)                                  # [T, L, F+N]
        h_support, (h, c) = self.lstm(x[:, :n_support])                    # [T, S, hidden]
        q = length - n_support
        if q == 0:
            return self.readout(h_support)
        start = (h.repeat_interleave(q, dim=1), c.repeat_interleave(q, dim=1))  # [layers, T*Q', H]
        h_query, _ = self.lstm(x[:, n_support:].reshape(t * q, 1, -1), start)   # [T*Q', 1, H]
        h_all = torch.cat([h_support, h_query.view(t, q, -1)], dim=1)     # [T, L, hidden]
        return self.readout(h_all)                                         # [T, L, N]


def mann_sequence(model: MANN, episode: Episode,
                  generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Run the model over the episode's label sequence: (logits [T, L, N], labels [T, L] in
    sequence order, order [T, L]). ``generator=None`` draws the order from the model's own
    seeded ``order_generator`` (a fresh permutation every call)."""
    gen = model.order_generator if generator is None else generator
    seq = label_sequence(episode.support_x, episode.support_y, episode.query_x, model.n_way, gen,
                         model.labels)
    labels = torch.cat([episode.support_y, episode.query_y], dim=1).gather(1, seq.order)
    return model(seq.inputs, episode.support_x.shape[1]), labels, seq.order


def mann_logits(model: MANN, episode: Episode,
                generator: torch.Generator | None = None) -> Tensor:
    """Query logits [T, N*Q, N], row i for ``episode.query_x[:, i]``."""
    logits, _, _ = mann_sequence(model, episode, generator)
    return logits[:, episode.support_x.shape[1]:]


def mann_loss(model: MANN, episode: Episode,
              generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """L = mean cross-entropy over the query positions; returns (L, query accuracy)."""
    logits = mann_logits(model, episode, generator)                        # [T, N*Q, N]
    loss = F.cross_entropy(logits.flatten(0, 1), episode.query_y.flatten())
    return loss, (logits.argmax(-1) == episode.query_y).float().mean()


def instance_index(labels: Tensor, n_labelled: int | None = None) -> Tensor:
    """k at each position of labels [T, L]: 1 + the number of labelled items of the same class
    before it, the labelled items being the first ``n_labelled`` positions (default all).

    Position t < n_labelled: 1 + #{s < t : y_s = y_t}; an unlabelled position (a query):
    1 + #{s < n_labelled : y_s = y_t}. → [T, L] long, from 1.
    """
    length = labels.shape[-1]
    n = length if n_labelled is None else n_labelled
    if not 0 <= n <= length:
        raise ValueError(f"instance_index: n_labelled={n_labelled} must lie in [0, {length}]")
    pos = torch.arange(length, device=labels.device)
    before = pos[None, :] < pos[:, None].clamp(max=n)                     # [L, L]: s < min(t, n)
    same = labels[..., :, None] == labels[..., None, :]                    # [T, L, L]
    return (same & before).sum(dim=-1) + 1


def accuracy_by_instance(logits: Tensor, labels: Tensor, n_labelled: int | None = None) -> Tensor:
    """Accuracy of the k-th instance of a class, k = 1 … k_max (Santoro et al., Table 1).

    logits [T, L, N], labels [T, L] in sequence order → [k_max]: entry k−1 pools, over tasks, the
    positions whose ``instance_index`` is k. With offset labels the 1st instance is a guess (1/N
    expected); the 2nd onwards measure one-shot, two-shot, … memory. Every k ≤ k_max occurs.
    """
    if logits.dim() != 3 or tuple(logits.shape[:2]) != tuple(labels.shape):
        raise ValueError(f"accuracy_by_instance: logits {tuple(logits.shape)} and labels "
                         f"{tuple(labels.shape)} must be [T, L, N] and [T, L]")
    k = instance_index(labels, n_labelled).flatten() - 1                   # [T*L], from 0
    correct = (logits.argmax(-1) == labels).flatten().to(torch.float64)
    hits = torch.zeros(int(k.max()) + 1, dtype=torch.float64, device=logits.device)
    counts = torch.zeros_like(hits)
    hits.index_add_(0, k, correct)
    counts.index_add_(0, k, torch.ones_like(correct))
    return hits / counts


def mann_instance_accuracy(model: MANN, episode: Episode,
                           generator: torch.Generator | None = None) -> Tensor:
    """Accuracy by instance over the whole sequence: k = 1 … K on the support (each predicted
    before its label is shown), k = K+1 on the queries. → [K+1]."""
    logits, labels, _ = mann_sequence(model, episode, generator)
    return accuracy_by_instance(logits, labels, episode.support_x.shape[1])
