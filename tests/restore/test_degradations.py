"""Degradations in float64 against direct computations; bad input raises clear ValueErrors."""

import math

import numpy as np
import pytest
import torch

from metagan_lab.restore.degradations import (
    DEGRADATIONS,
    TEST_SETTINGS,
    Setting,
    TaskFamily,
    add_noise,
    blur,
    degrade,
    downsample,
    gaussian_kernel,
    motion_kernel,
    parse_kinds,
    random_mask,
)

F64 = torch.float64  # every test here runs in float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_noise_has_the_requested_statistics():
    x = torch.full((4, 1, 64, 64), 0.5, dtype=F64)
    y = add_noise(x, 0.2, _gen())
    n = (y - x).flatten()                                                 # 16384 samples
    assert abs(n.mean().item()) < 3 * 0.2 / math.sqrt(n.numel())
    assert abs(n.std().item() - 0.2) < 0.005
    assert torch.equal(add_noise(x, 0.0, _gen()), x)


def test_gaussian_kernel_sums_to_one_and_matches_the_formula():
    k = gaussian_kernel(1.3, dtype=torch.float64)
    r = math.ceil(3 * 1.3)
    assert k.shape == (2 * r + 1, 2 * r + 1)
    assert abs(k.sum().item() - 1) < 1e-14
    i, j = 1, -2
    expected = math.exp(-(i * i + j * j) / (2 * 1.3**2)) / sum(
        math.exp(-(a * a + b * b) / (2 * 1.3**2))
        for a in range(-r, r + 1) for b in range(-r, r + 1))
    assert math.isclose(k[r + i, r + j].item(), expected, rel_tol=1e-12)


def test_motion_kernel_sums_to_one_lies_on_its_line_and_is_point_symmetric():
    k = motion_kernel(7, 0.0, dtype=torch.float64)
    assert k.shape == (7, 7) and abs(k.sum().item() - 1) < 1e-14
    assert (k[3] > 0).all() and torch.allclose(k[3], k[3].flip(0))    # horizontal: middle row
    assert k[:3].abs().sum() == 0 and k[4:].abs().sum() == 0
    k45 = motion_kernel(5, 45.0, dtype=torch.float64)
    assert torch.allclose(k45, torch.rot90(k45, 2), atol=1e-12)       # correlation = convolution


def _direct_convolution(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Σ_{a,b} k[a, b] x[i + a − r, j + b − r] with reflect padding, one pixel at a time."""
    r = k.shape[0] // 2
    xp = np.pad(x, r, mode="reflect")
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = (xp[i : i + 2 * r + 1, j : j + 2 * r + 1] * k[::-1, ::-1]).sum()
    return out


@pytest.mark.parametrize("kernel", [gaussian_kernel(0.9, dtype=torch.float64),
                                    motion_kernel(5, 30.0, dtype=torch.float64)])
def test_blur_matches_a_direct_convolution(kernel):
    x = torch.rand(2, 1, 12, 10, generator=_gen(), dtype=F64)
    y = blur(x, kernel)
    for b in range(2):
        ref = _direct_convolution(x[b, 0].numpy(), kernel.numpy())
        assert np.allclose(y[b, 0].numpy(), ref, atol=1e-13)


def test_blur_keeps_a_constant_image():
    x = torch.full((1, 1, 16, 16), 0.3, dtype=F64)
    assert torch.allclose(blur(x, gaussian_kernel(2.0, dtype=torch.float64)), x, atol=1e-14)


def test_mask_removes_exactly_the_requested_fraction():
    m = random_mask((3, 1, 20, 20), 0.35, _gen())
    assert m.dtype == torch.bool and m.shape == (3, 1, 20, 20)
    assert (~m).flatten(1).sum(1).tolist() == [140, 140, 140]           # round(0.35 · 400)
    x = torch.rand(3, 1, 20, 20, generator=_gen(1), dtype=F64)
    obs = degrade(x, Setting("inpaint", 0.35), _gen())
    assert (obs.degraded[~obs.known.expand_as(obs.degraded)] == 0).all()


def test_downsample_averages_blocks_and_degrade_returns_full_size():
    x = torch.arange(16.0, dtype=F64).view(1, 1, 4, 4)
    assert downsample(x, 2).tolist() == [[[[2.5, 4.5], [10.5, 12.5]]]]
    assert downsample(x, 4).item() == 7.5
    x28 = torch.rand(2, 1, 28, 28, generator=_gen(), dtype=F64)
    obs = degrade(x28, Setting("downsample", 4))
    assert obs.degraded.shape == (2, 1, 28, 28) and obs.known.all()


def test_every_kind_runs_and_keeps_the_shape():
    x = torch.rand(2, 1, 16, 16, generator=_gen(), dtype=F64)
    for s in TEST_SETTINGS:
        obs = degrade(x, s, _gen())
        assert obs.degraded.shape == x.shape and obs.known.shape == (2, 1, 16, 16)


def test_training_ranges_and_unseen_test_settings():
    fam = TaskFamily()
    g = _gen()
    seen = {fam.sample(g).kind for _ in range(200)}
    assert seen == set(DEGRADATIONS)
    for _ in range(200):
        assert fam.in_training_range(fam.sample(g))
    for s in fam.test_settings():
        assert not fam.in_training_range(s), s
    assert [s.kind for s in TaskFamily(kinds=("noise",)).test_settings()] == ["noise"]


@pytest.mark.parametrize("shape, match", [((1, 16, 16), "rank 4"), ((2, 1, 1, 16, 16), "rank 4")])
def test_wrong_rank_is_refused(shape, match):
    with pytest.raises(ValueError, match=match):
        degrade(torch.rand(shape), Setting("noise", 0.1))


def test_wrong_channel_count_is_refused():
    from metagan_lab.restore.baselines import classical_restore
    from metagan_lab.restore.models import Restorer

    with pytest.raises(ValueError, match="3 channels, expected 1"):
        classical_restore(torch.rand(1, 3, 8, 8), torch.ones(1, 1, 8, 8, dtype=torch.bool),
                          Setting("noise", 0.1))
    with pytest.raises(ValueError, match=r"expects \[B, 1, H, W\]"):
        Restorer()(torch.rand(1, 3, 8, 8))


@pytest.mark.parametrize("setting, match", [
    (Setting("noise", -0.1), r"sigma=-0.1 is negative; allowed range is sigma >= 0"),
    (Setting("inpaint", 1.0), r"fraction missing=1.0 is outside the allowed range \[0, 1\)"),
    (Setting("inpaint", -0.2), r"fraction missing=-0.2 is outside the allowed range \[0, 1\)"),
    (Setting("blur", 0.0), r"width=0.0 must be > 0"),
    (Setting("downsample", 3.5), r"factor=3.5 must be a whole number"),
    (Setting("jpeg", 0.5), r"unknown degradation 'jpeg'; allowed: noise, blur"),
])
def test_bad_settings_name_the_value_and_the_range(setting, match):
    with pytest.raises(ValueError, match=match):
        degrade(torch.rand(1, 1, 8, 8), setting)


def test_bad_names_in_families_and_kind_lists():
    with pytest.raises(ValueError, match="unknown degradation 'sharpen'"):
        TaskFamily(kinds=("noise", "sharpen"))
    with pytest.raises(ValueError, match="unknown degradation 'x'"):
        parse_kinds("noise,x")
    assert parse_kinds("all") == DEGRADATIONS and parse_kinds("blur, noise") == ("blur", "noise")


def test_downsample_factor_must_divide_the_size():
    with pytest.raises(ValueError, match=r"factor=3 must divide the image size \(8, 8\)"):
        downsample(torch.rand(1, 1, 8, 8), 3)


def test_bias_free_restorer_is_positively_homogeneous():
    # Mohan et al. (ICLR 2020): without biases, ReLU convolutions give g(a·y) = a·g(y), a > 0;
    # reference: the same net evaluated at y and at a·y (float64), and the biased net fails it
    from metagan_lab.restore.models import Restorer

    torch.manual_seed(0)
    y = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    free = Restorer(hidden=4, depth=3, identity_init=False, bias=False).double()
    assert not any(name.endswith("bias") for name, _ in free.named_parameters())
    torch.testing.assert_close(free(2.5 * y), 2.5 * free(y), atol=1e-12, rtol=0)
    biased = Restorer(hidden=4, depth=3, identity_init=False).double()
    assert (biased(2.5 * y) - 2.5 * biased(y)).abs().max() > 1e-3
    assert torch.equal(Restorer(bias=False)(y.float()), y.float())    # identity at the start
