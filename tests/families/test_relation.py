"""Relation Networks in float64: the MSE to the one-hot target by hand, class feature maps are
sums of the K shots, the pair is (class map, query map) in that order, scores lie in [0, 1] and the
paper's Omniglot embedding keeps 5 × 5 maps."""

from __future__ import annotations

import pytest
import torch

from metagan_lab.fewshot.relation import (
    RelationConfig,
    RelationNet,
    class_feature_maps,
    relation_logits,
    relation_loss,
    relation_method_loss,
    relation_pairs,
)
from metagan_lab.tasks.episodes import sample_episode

DT = torch.float64


def test_relation_loss_is_the_mean_squared_error_to_the_one_hot_target_by_hand():
    scores = torch.tensor([[[0.9, 0.2, 0.1], [0.4, 0.3, 0.8]]], dtype=DT)   # [T=1, Q=2, N=3]
    y = torch.tensor([[0, 1]])
    # targets (1, 0, 0) and (0, 1, 0)
    squares = [0.1**2, 0.2**2, 0.1**2, 0.4**2, 0.7**2, 0.8**2]
    assert relation_loss(scores, y).item() == pytest.approx(sum(squares) / 6, abs=1e-15)
    perfect = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], dtype=DT)
    assert relation_loss(perfect, y).item() == 0.0


def test_class_feature_maps_sum_the_shots_of_each_class():
    maps = torch.arange(4 * 2 * 1 * 1, dtype=DT).view(1, 4, 2, 1, 1)          # S=4, C=2
    y = torch.tensor([[1, 0, 1, 0]])
    out = class_feature_maps(maps, y, 2)                                       # [1, 2, 2, 1, 1]
    torch.testing.assert_close(out[0, :, :, 0, 0],
                               torch.tensor([[2.0 + 6, 3 + 7], [0.0 + 4, 1 + 5]], dtype=DT))


def test_relation_pairs_put_the_class_map_first_for_every_query_and_class():
    classes = torch.randn(2, 3, 4, 5, 5, dtype=DT)
    queries = torch.randn(2, 6, 4, 5, 5, dtype=DT)
    pairs = relation_pairs(classes, queries)                                   # [T, Q, N, 2C, …]
    assert pairs.shape == (2, 6, 3, 8, 5, 5)
    assert torch.equal(pairs[1, 4, 2, :4], classes[1, 2])
    assert torch.equal(pairs[1, 4, 2, 4:], queries[1, 4])


def test_the_paper_embedding_keeps_5x5_maps_and_scores_lie_in_0_1(glyphs):
    model = RelationNet(hidden=8)
    assert model.embedding(torch.rand(3, 1, 28, 28)).shape == (3, 8, 5, 5)
    ep = sample_episode(glyphs, 5, 2, 3, 2, torch.Generator().manual_seed(0))
    cfg = RelationConfig(hidden=8, k_shot=2)
    scores = relation_logits(model, ep, cfg)
    assert scores.shape == (2, 15, 5) and scores.min() >= 0 and scores.max() <= 1
    loss, acc = relation_method_loss(model, ep, cfg)
    assert loss.item() == pytest.approx(relation_loss(scores, ep.query_y).item(), rel=1e-6)
    assert 0 <= acc.item() <= 1


def test_the_paper_defaults():
    cfg = RelationConfig()
    assert (cfg.n_query, cfg.lr, cfg.lr_halve_every, cfg.relation_hidden) == (19, 1e-3, 100_000, 8)
