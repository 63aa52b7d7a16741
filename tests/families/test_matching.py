"""Matching Networks by hand in float64: attention = softmax of known cosines on a 2-way toy,
ŷ = Σ a y_i, the loss −log ŷ_y; the full-context g against a step-by-step LSTM-cell reference."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from metagan_lab.fewshot.episodic import cross_entropy_loss
from metagan_lab.fewshot.matching import (
    MatchingConfig,
    MatchingNet,
    attention,
    full_context_query,
    full_context_support,
    label_mixture,
    matching_logits,
)
from metagan_lab.types import Episode

DT = torch.float64
E = math.e


def toy_episode() -> Episode:
    """2-way: support (1,0) and (−1,0) of class 0, (0,1) of class 1; queries (1,0) and (1,1)
    (as 1×1×2 'images' for a Flatten encoder)."""
    s = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=DT)
    q = torch.tensor([[1.0, 0.0], [1.0, 1.0]], dtype=DT)
    return Episode(s.view(1, 3, 1, 1, 2), torch.tensor([[0, 1, 0]]), q.view(1, 2, 1, 1, 2),
                   torch.tensor([[0, 1]]))


def test_attention_is_the_softmax_of_the_cosines_by_hand():
    ep = toy_episode()
    a = attention(ep.query_x.flatten(2), ep.support_x.flatten(2))[0]          # [Q=2, S=3]
    # query (1,0): cosines (1, 0, −1); query (1,1): cosines (1/√2, 1/√2, −1/√2)
    z1, c = E + 1 + 1 / E, 1 / math.sqrt(2)
    z2 = 2 * math.exp(c) + math.exp(-c)
    expected = torch.tensor([[E / z1, 1 / z1, 1 / E / z1],
                             [math.exp(c) / z2, math.exp(c) / z2, math.exp(-c) / z2]], dtype=DT)
    torch.testing.assert_close(a, expected, rtol=0, atol=1e-15)


def test_label_mixture_sums_the_attention_per_class():
    a = torch.tensor([[0.5, 0.2, 0.3]], dtype=DT)
    y_hat = label_mixture(a, torch.tensor([0, 1, 0]), 2)
    torch.testing.assert_close(y_hat, torch.tensor([[0.8, 0.2]], dtype=DT), rtol=0, atol=1e-15)


def test_matching_logits_are_log_y_hat_and_the_loss_is_the_nll_by_hand():
    model = MatchingNet(hidden=8)
    model.encoder = nn.Flatten()                    # f = g = identity on the toy's 2-d points
    ep = toy_episode()
    logits = matching_logits(model, ep, MatchingConfig(n_way=2))              # [1, 2, 2]
    z1, c = E + 1 + 1 / E, 1 / math.sqrt(2)
    z2 = 2 * math.exp(c) + math.exp(-c)
    y_hat = torch.tensor([[(E + 1 / E) / z1, 1 / z1],
                          [(math.exp(c) + math.exp(-c)) / z2, math.exp(c) / z2]], dtype=DT)
    torch.testing.assert_close(logits[0], y_hat.log(), rtol=0, atol=1e-14)
    loss, acc = cross_entropy_loss(logits, ep.query_y)   # softmax(log ŷ) = ŷ: the NLL of ŷ
    expected = -(math.log(y_hat[0, 0]) + math.log(y_hat[1, 1])) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-14) and acc.item() == 0.5


def test_full_context_g_matches_a_step_by_step_lstm_reference():
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 3, batch_first=True, bidirectional=True).to(DT)
    g_prime = torch.randn(2, 4, 3, dtype=DT)                                   # [T, S, D]
    # reference: one LSTM cell forward over the sequence, one backward, summed with g'
    cells = []
    for suffix in ("", "_reverse"):
        cell = nn.LSTMCell(3, 3).to(DT)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).data = getattr(lstm, f"{name}_l0{suffix}").data
        cells.append(cell)
    expected = g_prime.clone()
    for direction, order in ((0, range(4)), (1, reversed(range(4)))):
        h = c = torch.zeros(2, 3, dtype=DT)
        for i in order:
            h, c = cells[direction](g_prime[:, i], (h, c))
            expected[:, i] += h
    torch.testing.assert_close(full_context_support(g_prime, lstm), expected, rtol=0,
                               atol=1e-14)


def test_full_context_f_matches_a_per_query_reference_for_two_read_steps():
    torch.manual_seed(0)
    cell = nn.LSTMCell(3, 3).to(DT)
    f_prime, g = torch.randn(2, 5, 3, dtype=DT), torch.randn(2, 4, 3, dtype=DT)
    expected = torch.empty_like(f_prime)
    for t in range(2):
        for j in range(5):
            x = f_prime[t, j : j + 1]                                         # [1, D]
            h, r, c = torch.zeros_like(x), torch.zeros_like(x), torch.zeros_like(x)
            for _ in range(2):
                h_hat, c = cell(x, (h + r, c))
                h = h_hat + x
                r = torch.softmax(h @ g[t].T, dim=-1) @ g[t]
            expected[t, j] = h[0]
    torch.testing.assert_close(full_context_query(f_prime, g, cell, 2), expected, rtol=0,
                               atol=1e-14)


def test_full_context_embeddings_train_all_their_weights():
    model = MatchingNet(hidden=8, fce=True)
    ep = Episode(torch.rand(1, 4, 1, 28, 28), torch.tensor([[0, 0, 1, 1]]),
                 torch.rand(1, 6, 1, 28, 28), torch.tensor([[0, 0, 0, 1, 1, 1]]))
    loss, _ = cross_entropy_loss(matching_logits(model, ep, MatchingConfig(n_way=2, fce=True)),
                                 ep.query_y)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for n, p in model.named_parameters() if "lstm" in n or "cell" in n)
