"""train_steps: bookkeeping, reproducibility, optimisers, non-finite and collapse reports."""

import pytest
import torch
from torch import nn

from metagan_lab.checks import TrainingDiverged
from metagan_lab.gan.models import ToyDiscriminator, ToyGenerator
from metagan_lab.gan.toy2d import TOY_DISTRIBUTIONS, ring_of_gaussians
from metagan_lab.gan.train import (
    GANConfig,
    ModeCollapseError,
    NonFiniteLossError,  # the old name, kept for notebook 06: the same class
    make_gan_state,
    reconfigure,
    relative_diversity,
    sample_diversity,
    toy_real_sampler,
    train_steps,
)


def toy_state(**cfg):
    torch.manual_seed(0)
    defaults = dict(batch_size=32, check_every=10)
    return make_gan_state(ToyGenerator(hidden=(16,)), ToyDiscriminator(hidden=(16,)),
                          toy_real_sampler(ring_of_gaussians), GANConfig(**{**defaults, **cfg}))


@pytest.mark.parametrize("loss", ["minimax", "nonsaturating", "least_squares", "wgan_gp", "hinge"])
def test_every_loss_trains_and_records_history(loss):
    state = train_steps(toy_state(loss=loss, d_steps=2, r1_gamma=1.0), 12)
    assert state.step == 12
    assert len(state.history["d_loss"]) == len(state.history["g_loss"]) == 12
    assert state.history["diversity_step"] == [10]
    assert all(torch.isfinite(torch.tensor(state.history["d_loss"])))


def test_training_is_reproducible_from_the_seed():
    a = train_steps(toy_state(seed=3), 5).history["g_loss"]
    b = train_steps(toy_state(seed=3), 5).history["g_loss"]
    assert a == b


def test_hypergradient_optimizer_adapts_both_learning_rates():
    state = toy_state(optimizer="hypergradient", lr_g=0.01, lr_d=0.01, hyper_lr=1e-3)
    state = train_steps(state, 20)
    assert state.history["lr_g"][0] == 0.01
    assert state.history["lr_g"][-1] != 0.01 and state.history["lr_d"][-1] != 0.01


def test_reconfigure_reaches_the_optimiser():
    state = reconfigure(toy_state(), lr_d=5e-4, d_steps=3)
    assert state.opt_d.param_groups[0]["lr"] == 5e-4 and state.cfg.d_steps == 3


@pytest.mark.parametrize("field, value", [("lr_g", -1.0), ("lr_d", 0.0), ("r1_gamma", -0.5),
                                          ("gp_lambda", float("nan")), ("d_steps", 0)])
def test_invalid_config_raises_naming_the_value(field, value):
    with pytest.raises(ValueError, match=field):
        toy_state(**{field: value})


def test_non_finite_loss_names_step_and_fix():
    state = toy_state()
    train_steps(state, 2)
    state.sample_real = lambda n, rng: (torch.full((n, 2), float("nan")), None)
    before = {n: p.detach().clone() for n, p in state.discriminator.named_parameters()}
    with pytest.raises(TrainingDiverged, match=r"step 3: the discriminator loss.*lower lr_d.*R1"):
        train_steps(state, 1)
    assert NonFiniteLossError is TrainingDiverged
    assert all(torch.equal(p, before[n]) for n, p in state.discriminator.named_parameters())


class ConstantGenerator(nn.Module):
    z_dim, n_classes = 2, 0

    def __init__(self):
        super().__init__()
        self.b = nn.Parameter(torch.zeros(2))

    def forward(self, z, y=None):
        return self.b.expand(z.shape[0], 2) + 0 * z


def test_collapse_is_reported_not_silent():
    state = make_gan_state(ConstantGenerator(), ToyDiscriminator(hidden=(8,)),
                           toy_real_sampler(ring_of_gaussians),
                           GANConfig(batch_size=16, check_every=5, collapse_after=0))
    with pytest.warns(RuntimeWarning, match="mode collapse"):
        train_steps(state, 5)
    assert state.collapse_step == 5 and state.history["diversity"][0] < 1e-6
    state = make_gan_state(ConstantGenerator(), ToyDiscriminator(hidden=(8,)),
                           toy_real_sampler(ring_of_gaussians),
                           GANConfig(batch_size=16, check_every=5, collapse_after=0,
                                     stop_on_collapse=True))
    with pytest.raises(ModeCollapseError, match="step 5"):
        train_steps(state, 5)


def test_sample_diversity_by_hand():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]])
    assert sample_diversity(x).item() == pytest.approx((5 + 4 + 3) / 3)
    assert relative_diversity(x, 2 * x) == pytest.approx(0.5)


@pytest.mark.parametrize("name", sorted(TOY_DISTRIBUTIONS))
def test_toy_distributions_are_seeded_and_2d(name):
    a = TOY_DISTRIBUTIONS[name](50, torch.Generator().manual_seed(0))
    b = TOY_DISTRIBUTIONS[name](50, torch.Generator().manual_seed(0))
    assert a.shape == (50, 2) and torch.equal(a, b)
