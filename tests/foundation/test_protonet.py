"""ProtoNet maths in float64 against a direct hand computation of softmax(−‖f(x) − c_k‖²)."""

import math

import pytest
import torch
import torch.nn.functional as F

from metagan_lab.fewshot import (
    accuracy,
    protonet_episode_logits,
    protonet_logits,
    protonet_loss,
    prototypes,
    squared_distances,
)


@pytest.fixture(autouse=True)
def float64():
    """All maths here in float64; the global default is restored for the other test files."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def test_prototypes_are_class_means_hand_computed():
    emb = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 3.0], [3.0, 5.0]])   # [S=4, D=2]
    y = torch.tensor([0, 0, 1, 1])
    c = prototypes(emb, y, n_way=2)
    assert torch.equal(c, torch.tensor([[1.0, 0.0], [2.0, 4.0]]))


def test_prototypes_any_label_order_and_batched():
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(3, 6, 4, generator=g)
    y = torch.tensor([[2, 0, 1, 1, 0, 2]] * 3)
    c = prototypes(emb, y, 3)
    for t in range(3):
        for k in range(3):
            assert torch.allclose(c[t, k], emb[t][y[t] == k].mean(0), rtol=0, atol=1e-15)


def test_prototypes_missing_class_is_an_error():
    with pytest.raises(ValueError, match="no support example"):
        prototypes(torch.zeros(2, 3), torch.tensor([0, 0]), n_way=2)


def test_probabilities_match_hand_softmax_of_negative_squared_distance():
    g = torch.Generator().manual_seed(1)
    z, c = torch.randn(7, 5, generator=g), torch.randn(3, 5, generator=g)
    p = protonet_logits(z, c).softmax(-1)
    for i in range(7):
        d = [sum((z[i, j] - c[k, j]).item() ** 2 for j in range(5)) for k in range(3)]
        e = [math.exp(-dk) for dk in d]
        for k in range(3):
            assert abs(p[i, k].item() - e[k] / sum(e)) < 1e-14


def test_loss_hand_value_two_prototypes():
    # z = 0, c_0 = 0, c_1 = 2 → logits [0, −4]; −log softmax_0 = log(1 + e^{−4})
    loss = protonet_loss(protonet_logits(torch.tensor([[0.0]]), torch.tensor([[0.0], [2.0]])),
                         torch.tensor([0]))
    assert abs(loss.item() - math.log1p(math.exp(-4.0))) < 1e-15


def test_squared_distances_against_cdist():
    g = torch.Generator().manual_seed(2)
    z, c = torch.randn(2, 9, 4, generator=g), torch.randn(2, 5, 4, generator=g)
    assert torch.allclose(squared_distances(z, c), torch.cdist(z, c) ** 2, atol=1e-12)


def test_cosine_logits_hand_value():
    z, c = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0], [3.0, 3.0]])
    logits = protonet_logits(z, c, "cosine", scale=10.0)
    assert torch.allclose(logits, torch.tensor([[0.0, 10 / math.sqrt(2)]]), atol=1e-14)
    with pytest.raises(ValueError, match="manhattan"):
        protonet_logits(z, c, "manhattan")


def test_episode_logits_match_per_task_loop():
    g = torch.Generator().manual_seed(3)
    w = torch.randn(16, 6, generator=g)
    encoder = lambda x: x.flatten(1) @ w                           # noqa: E731  linear f_φ
    sx, qx = torch.randn(4, 6, 1, 4, 4, generator=g), torch.randn(4, 9, 1, 4, 4, generator=g)
    sy = torch.arange(3).repeat_interleave(2).expand(4, -1)
    logits = protonet_episode_logits(encoder, sx, sy, qx, 3)
    for t in range(4):
        ref = -torch.cdist(encoder(qx[t]), prototypes(encoder(sx[t]), sy[t], 3)) ** 2
        assert torch.allclose(logits[t], ref, atol=1e-12)


def test_loss_equals_cross_entropy_and_accuracy():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]]])
    y = torch.tensor([[0, 1, 1]])
    assert torch.allclose(protonet_loss(logits, y), F.cross_entropy(logits[0], y[0]))
    assert abs(accuracy(logits, y).item() - 2 / 3) < 1e-7
