"""Matching Networks (Vinyals, Blundell, Lillicrap, Kavukcuoglu & Wierstra, NeurIPS 2016).

paper symbol                              code name
f, g (shared Conv-4 embedding)            model.encoder
c(f(x̂), g(x_i))  cosine similarity         protonet.cosine_similarity
a(x̂, x_i) = e^c_i / Σ_j e^c_j              attention(f_q, g_s)                      (eq. 2)
ŷ = Σ_i a(x̂, x_i) y_i   (y_i one-hot)      label_mixture(a, support_y, n_way)       (eq. 1)
log ŷ  (the NLL's logits)                  matching_logits(model, episode, cfg)
g(x_i, S) = h→_i + h←_i + g'(x_i)           full_context_support(g', lstm)   (FCE, appendix)
f(x̂, S) = attLSTM(f'(x̂), g(S), K)          full_context_query(f', g, cell, K)  (FCE, appendix)

Full-context embeddings (``fce=True``) are optional, as in the paper's Omniglot runs (which used
none). In attLSTM the state [h_{k−1}, r_{k−1}] is fed to a D-wide LSTM cell as h_{k−1} + r_{k−1}
(the concatenation would make the state 2D wide while h_k = ĥ_k + f'(x̂) is D wide; summing is
what most re-implementations do).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ..checks import positive_int
from ..models.conv4 import Conv4
from ..types import Episode
from .episodic import EpisodicConfig, embed_episode, one_hot
from .protonet import cosine_similarity


@dataclass(frozen=True)
class MatchingConfig(EpisodicConfig):
    """Vinyals et al.'s Omniglot setting: 5-way, Conv-4 with 64 filters, cosine attention, no
    full-context embeddings; training episodes have the test's N and K."""

    fce: bool = False          # full-context embeddings: bi-LSTM g and attLSTM f
    fce_steps: int = 5         # K "read" steps of attLSTM (not given in the paper)

    HELP: ClassVar[dict[str, str]] = {
        "fce": "full-context embeddings: a bidirectional LSTM g over the support set and an "
               "attention LSTM f for the queries",
        "fce_steps": "K read steps of the attention LSTM f (with --fce)"}

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_int("fce_steps", self.fce_steps)


class MatchingNet(nn.Module):
    """The Conv-4 embedding (f' = g'), and with ``fce`` the bi-LSTM of g and the cell of f."""

    def __init__(self, hidden: int = 64, fce: bool = False):
        super().__init__()
        self.encoder = Conv4(hidden=hidden)
        self.g_lstm = nn.LSTM(hidden, hidden, batch_first=True, bidirectional=True) if fce else None
        self.f_cell = nn.LSTMCell(hidden, hidden) if fce else None


def build(cfg: MatchingConfig) -> MatchingNet:
    return MatchingNet(cfg.hidden, cfg.fce)


def attention(f_query: Tensor, g_support: Tensor) -> Tensor:
    """a(x̂, x_i) = softmax_i cos(f(x̂), g(x_i)): f [..., Q, D], g [..., S, D] → [..., Q, S]."""
    return cosine_similarity(f_query, g_support).softmax(dim=-1)


def label_mixture(a: Tensor, support_y: Tensor, n_way: int) -> Tensor:
    """ŷ = Σ_i a(x̂, x_i) y_i with y_i one-hot: a [..., Q, S], support_y [..., S] → [..., Q, N].

    Each row sums to 1; ŷ_k > 0 when class k has a support image (softmax weights are > 0).
    """
    if a.shape[:-2] != support_y.shape[:-1] or a.shape[-1] != support_y.shape[-1]:
        raise ValueError(f"label_mixture: attention {tuple(a.shape)} and support_y "
                         f"{tuple(support_y.shape)} must be [..., Q, S] and [..., S]")
    return a @ one_hot(support_y, n_way, a.dtype)                     # [..., Q, N]


def full_context_support(g_prime: Tensor, lstm: nn.LSTM) -> Tensor:
    """g(x_i, S) = h→_i + h←_i + g'(x_i): a bidirectional LSTM over the support sequence.
    g_prime [T, S, D] → [T, S, D]."""
    h, _ = lstm(g_prime)                                               # [T, S, 2D]
    forward, backward = h.chunk(2, dim=-1)
    return forward + backward + g_prime


def full_context_query(f_prime: Tensor, g: Tensor, cell: nn.LSTMCell, steps: int) -> Tensor:
    """f(x̂, S) = attLSTM(f'(x̂), g(S), K): K steps of
    ĥ_k, c_k = LSTM(f'(x̂), h_{k−1} + r_{k−1}, c_{k−1});  h_k = ĥ_k + f'(x̂);
    r_k = Σ_i softmax_i(h_kᵀ g(x_i)) g(x_i).   f_prime [T, Q, D], g [T, S, D] → h_K [T, Q, D]."""
    t, q, d = f_prime.shape
    x = f_prime.reshape(t * q, d)
    h = r = c = torch.zeros_like(x)
    for _ in range(steps):
        h_hat, c = cell(x, (h + r, c))
        h = h_hat + x                                                  # [T*Q, D]
        read = (h.view(t, q, d) @ g.transpose(-1, -2)).softmax(-1)     # [T, Q, S]
        r = (read @ g).reshape(t * q, d)
    return h.view(t, q, d)


def matching_logits(model: MatchingNet, episode: Episode, cfg: MatchingConfig) -> Tensor:
    """log ŷ [T, N*Q, N]: the log of the attention-weighted support labels (eq. 1), whose
    negative at the true class is the paper's loss."""
    g, f = embed_episode(model.encoder, episode)                       # [T, S, D], [T, Q, D]
    if model.g_lstm is not None:
        g = full_context_support(g, model.g_lstm)
        f = full_context_query(f, g, model.f_cell, cfg.fce_steps)
    return label_mixture(attention(f, g), episode.support_y, cfg.n_way).log()
