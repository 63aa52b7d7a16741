"""CycleGAN: the cycle loss against a hand computation, the dilation, and one training step."""

import pytest
import torch

from metagan_lab.gan.cyclegan import (
    CycleGANConfig,
    cycle_consistency_loss,
    make_cyclegan,
    stroke_domains,
    thicken,
    train_cyclegan,
    translate_cycle,
)


def test_cycle_loss_matches_hand_computation():
    x = torch.tensor([[[[0.0, 1.0], [0.5, 0.5]]]], dtype=torch.float64)     # [1, 1, 2, 2]
    x_cyc = torch.tensor([[[[0.1, 0.7], [0.5, 1.0]]]], dtype=torch.float64)
    y = torch.zeros(1, 1, 2, 2, dtype=torch.float64)
    y_cyc = torch.full((1, 1, 2, 2), 0.2, dtype=torch.float64)
    hand = 10.0 * ((0.1 + 0.3 + 0.0 + 0.5) / 4 + 0.2)
    loss = cycle_consistency_loss(x, x_cyc, y, y_cyc, lambda_cyc=10.0)
    assert loss.item() == pytest.approx(hand, abs=1e-12)


@pytest.mark.parametrize("bad", [-1.0, float("inf")])
def test_invalid_lambda_cyc_raises(bad):
    t = torch.zeros(1, 1, 2, 2)
    with pytest.raises(ValueError, match="lambda_cyc"):
        cycle_consistency_loss(t, t, t, t, bad)


def test_thicken_dilates_a_point_into_a_square():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1
    out = thicken(x, radius=1)
    assert out.sum() == 9 and out[0, 0, 1:4, 1:4].eq(1).all()


def test_training_steps_are_finite_and_shapes_hold():
    data = (torch.rand(4, 3, 28, 28) > 0.9).to(torch.uint8) * 255
    a, b = stroke_domains(data)
    assert a.shape == b.shape == (6, 1, 28, 28) and b.mean() > a.mean()
    state = make_cyclegan(CycleGANConfig(width=4, batch_size=4, lambda_cyc=5.0))
    history = train_cyclegan(state, a, b, steps=2)
    assert len(history) == 2 and all(v == v for v in history[-1].values())
    fake_b, rec = translate_cycle(state.model, a[:3])
    assert fake_b.shape == rec.shape == (3, 1, 28, 28)
