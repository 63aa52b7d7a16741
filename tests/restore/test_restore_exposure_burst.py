"""Exposure change y = Q₈(clip(g·x^γ)) and burst fusion, against hand computation."""

import pytest
import torch

from metagan_lab.restore.baselines import classical_restore
from metagan_lab.restore.data import sample_task
from metagan_lab.restore.degradations import (
    DEGRADATIONS,
    Observation,
    Setting,
    TaskFamily,
    burst,
    degrade,
    degrade_burst,
    exposure,
    fuse_burst,
    parse_kinds,
)

F64 = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_exposure_by_hand():
    x = torch.tensor([0.0, 0.25, 0.5, 1.0], dtype=F64).view(1, 1, 2, 2)
    y = exposure(x, 0.5, 2.0)                      # 0.5·x²: 0, 0.03125, 0.125, 0.5
    hand = torch.tensor([0, round(255 * 0.03125), round(255 * 0.125), round(255 * 0.5)],
                        dtype=F64) / 255
    assert torch.equal(y.flatten(), hand)
    bright = exposure(x, 3.0, 1.0)                 # clipped at 1: 0, 0.75, 1, 1
    assert torch.equal(bright.flatten(), torch.tensor([0, 191, 255, 255], dtype=F64) / 255)


def test_exposure_one_one_keeps_8bit_images():
    x = torch.randint(0, 256, (2, 1, 5, 5), generator=_gen()).to(F64) / 255
    assert torch.equal(degrade(x, Setting("exposure", 1.0, gamma=1.0)).degraded, x)


def test_exposure_setting_is_checked_and_labelled():
    with pytest.raises(ValueError, match="gain=0.3 and gamma=0"):
        exposure(torch.rand(1, 1, 4, 4), 0.3, 0.0)
    assert Setting("exposure", 0.3, gamma=1.6).label() == "exposure gain=0.3, γ=1.6"


def test_exposure_family_test_setting_is_unseen_and_not_in_the_default_family():
    fam = TaskFamily(kinds=("exposure",))
    g = _gen()
    draws = [fam.sample(g) for _ in range(50)]
    assert all(s.kind == "exposure" and fam.in_training_range(s) for s in draws)
    assert len({round(s.gamma, 6) for s in draws}) > 1
    (test,) = fam.test_settings()
    assert not fam.in_training_range(test)
    assert "exposure" not in DEGRADATIONS and parse_kinds("noise,exposure") == ("noise",
                                                                                "exposure")


def test_classical_inverts_an_unclipped_exposure_up_to_quantisation():
    x = torch.rand(1, 1, 16, 16, generator=_gen(), dtype=F64) * 0.9 + 0.05
    s = Setting("exposure", 0.5, gamma=1.2)
    obs = degrade(x, s)
    x_hat = classical_restore(obs.degraded, obs.known, s)
    hand = (obs.degraded / 0.5).clamp(0, 1) ** (1 / 1.2)
    assert torch.allclose(x_hat, hand, atol=1e-12)
    assert (x_hat - x).abs().max() < 0.02          # Q₈'s error, stretched by the inverse curve


def test_burst_fusion_is_the_mean_over_observing_shots():
    y1 = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=F64)
    y2 = torch.tensor([[[[3.0, 0.0], [5.0, 0.0]]]], dtype=F64)
    m1 = torch.tensor([[[[True, True], [True, False]]]])
    m2 = torch.tensor([[[[True, False], [True, False]]]])
    fused = fuse_burst([Observation(y1, m1), Observation(y2, m2)])
    assert fused.degraded.tolist() == [[[[2.0, 2.0], [4.0, 0.0]]]]
    assert fused.known.tolist() == [[[[True, True], [True, False]]]]


def test_burst_shots_reuse_the_generator_like_repeated_degrades():
    x = torch.rand(2, 1, 8, 8, generator=_gen(), dtype=F64)
    s = Setting("noise", 0.2)
    shots = burst(x, s, 3, _gen(7))
    g = _gen(7)
    for shot in shots:
        assert torch.equal(shot.degraded, degrade(x, s, g).degraded)
    mean = torch.stack([sh.degraded for sh in shots]).mean(0)
    assert torch.allclose(degrade_burst(x, s, 3, _gen(7)).degraded, mean, atol=1e-15)


def test_burst_of_n_noisy_shots_divides_the_noise_std_by_sqrt_n():
    x = torch.zeros(4, 1, 64, 64, dtype=F64)
    std = (degrade_burst(x, Setting("noise", 0.2), 4, _gen(1)).degraded - x).std().item()
    assert abs(std - 0.2 / 2) < 0.003              # 16384 samples: std error ≈ 0.0006


def test_burst_task_and_refusals():
    images = torch.rand(8, 1, 8, 8, generator=_gen(), dtype=F64)
    task = sample_task(images, Setting("inpaint", 0.5), 2, 2, _gen(), n_shots=3)
    assert task.support_known.float().mean() > 0.75  # 1 − 0.5³ of the pixels seen by some shot
    with pytest.raises(ValueError, match="n_shots=0"):
        burst(images, Setting("noise", 0.1), 0)


def test_burst_test_tasks_fuse_the_same_draws_as_sample_task():
    from metagan_lab.restore.evaluate import test_tasks

    images = torch.rand(10, 1, 8, 8, generator=_gen(), dtype=F64)
    (task,) = test_tasks(images, Setting("noise", 0.2), 1, 2, 2, seed=3, n_shots=4)
    ref = sample_task(images, Setting("noise", 0.2), 2, 2, _gen(3), n_shots=4)
    assert torch.equal(task.query_x, ref.query_x) and torch.equal(task.query_y, ref.query_y)
    noise = (task.query_x - task.query_y).std().item()
    assert noise < 0.2 * 0.75                                    # ≈ 0.2 / √4 = 0.1
