"""Personalised generation (gan.personalise, widgets.personalise): the learner's choice and its
refusals, adaptation on a copy (the original unchanged) that lowers the −ELBO of the picked
samples on a tiny statistician, the amortised 0-step route, the distance measure against hand
values in float64, and the widget driven headless through ``set_picks`` and ``adapt``."""

import dataclasses
import math

import pytest
import torch

from metagan_lab.checks import TrainingDiverged
from metagan_lab.gan.personalise import (
    Closeness,
    Personalised,
    adapt_to_picks,
    check_picks,
    closeness,
    draw_grid,
    feature_mean,
    format_personalised,
    mean_distance,
    personalised_routes,
    picked_negative_elbo,
    split_picks,
)
from metagan_lab.gan.statistician import StatisticianConfig, make_statistician, negative_elbo

TINY = StatisticianConfig(z_dim=3, c_channels=2, width=4, hidden=8)
F64 = torch.float64


def tiny_model(decoder: str = "free"):
    return make_statistician(dataclasses.replace(TINY, decoder=decoder))


def images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def state(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_check_picks_accepts_a_valid_choice_and_names_each_bad_value():
    assert check_picks([3, 0, 15, 7], 16) == [3, 0, 15, 7]
    assert check_picks((2,), 16, None) == [2]
    with pytest.raises(ValueError, match=r"\[3\] appear more than once"):
        check_picks([3, 3, 1, 2], 16)
    with pytest.raises(ValueError, match=r"\[16\] are not integers in 0..15"):
        check_picks([0, 1, 2, 16], 16)
    with pytest.raises(ValueError, match=r"\[-1\] are not integers"):
        check_picks([-1, 1, 2, 3], 16)
    with pytest.raises(ValueError, match=r"\[True\] are not integers"):
        check_picks([True, 1, 2, 3], 16)
    with pytest.raises(ValueError, match=r"3 samples picked \(\[0, 1, 2\]\); pick exactly 4"):
        check_picks([0, 1, 2], 16)
    with pytest.raises(ValueError, match="0 samples picked"):
        check_picks([], 16, None)


def test_split_picks_keeps_grid_order():
    grid = torch.arange(6.0).view(6, 1, 1, 1)
    chosen, rest = split_picks(grid, [4, 1], None)
    assert chosen.flatten().tolist() == [1.0, 4.0]
    assert rest.flatten().tolist() == [0.0, 2.0, 3.0, 5.0]


@pytest.mark.parametrize("decoder", ["free", "warp"])
def test_picked_negative_elbo_is_the_mean_over_draws_of_the_elbo_with_p_as_shots_and_targets(
        decoder):
    model, chosen = tiny_model(decoder).double(), images(4).double()
    noise = torch.randn(3, 4, TINY.z_dim, generator=torch.Generator().manual_seed(1), dtype=F64)
    # reference: one negative_elbo call per draw r, P as the targets [1, |P|, …] and, in the
    # order x_4, x_1, x_2, x_3 (x_i drawn from x_{i−1} by the warp decoder), as the shots
    shots = chosen[[3, 0, 1, 2]][None]
    by_draw = [negative_elbo(model, chosen[None], shots, noise[r])[0] for r in range(3)]
    assert picked_negative_elbo(model, chosen, noise).item() == pytest.approx(
        sum(v.item() for v in by_draw) / 3, abs=1e-9)
    with pytest.raises(ValueError, match=r"noise \(3, 4, 2\) \[R, \|P\|, z_dim = 3\]"):
        picked_negative_elbo(model, chosen, noise[..., :2])


@pytest.mark.parametrize(("optimizer", "lr", "decoder"),
                         [("adam", 1e-2, "free"), ("sgd", 1e-3, "free"), ("adam", 3e-3, "warp")])
def test_k_steps_lower_the_neg_elbo_of_the_picks_on_a_copy(optimizer, lr, decoder):
    model, chosen = tiny_model(decoder), images(4)
    before = state(model)
    adapted, losses = adapt_to_picks(model, chosen, steps=20, lr=lr, optimizer=optimizer)
    assert len(losses) == 20 and all(math.isfinite(v) for v in losses)
    for k, v in model.state_dict().items():                     # θ untouched, θ' a new module
        assert torch.equal(v, before[k]), k
    assert adapted is not model and any(not torch.equal(a, b) for a, b in zip(
        adapted.parameters(), model.parameters()))
    noise = torch.randn(32, 4, TINY.z_dim, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        loss_theta = picked_negative_elbo(model, chosen, noise).item()
        loss_adapted = picked_negative_elbo(adapted, chosen, noise).item()
    assert loss_adapted < loss_theta - 1.0, (loss_theta, loss_adapted)


def test_zero_steps_is_the_amortised_route_and_bad_settings_are_refused():
    model, chosen = tiny_model(), images(4)
    same, losses = adapt_to_picks(model, chosen, steps=0)
    assert losses == [] and same is not model
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in same.state_dict().items())
    with pytest.raises(ValueError, match="steps must be an integer >= 0, got -1"):
        adapt_to_picks(model, chosen, steps=-1)
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got 0"):
        adapt_to_picks(model, chosen, lr=0)
    with pytest.raises(ValueError, match="optimizer='rmsprop'; choose from"):
        adapt_to_picks(model, chosen, optimizer="rmsprop")
    with pytest.raises(TrainingDiverged):
        adapt_to_picks(model, chosen, steps=3, lr=1e9, optimizer="sgd")


def test_mean_distance_and_closeness_match_hand_values_in_float64():
    emb = torch.tensor([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]], dtype=F64)
    assert feature_mean(emb).tolist() == [3.0, 4.0]
    # ‖(0,0)−(3,4)‖ = 5, ‖0‖ = 0, ‖(3,4)‖ = 5  →  10 / 3
    assert mean_distance(emb, torch.tensor([3.0, 4.0], dtype=F64)).item() == pytest.approx(
        10 / 3, abs=1e-15)
    # pixels of 1×1×2 images: m_P = (1, 0), m_U = (1, 3); new samples (1, 0) and (1, 4):
    # d̄_P = (0 + 4)/2 = 2, d̄_U = (3 + 1)/2 = 2; then (2, 0) alone: d̄_P = 1, d̄_U = √10
    chosen = torch.tensor([[0.0, 0.0], [2.0, 0.0]], dtype=F64).view(2, 1, 1, 2)
    rest = torch.tensor([[1.0, 3.0]], dtype=F64).view(1, 1, 1, 2)
    new = torch.tensor([[1.0, 0.0], [1.0, 4.0]], dtype=F64).view(2, 1, 1, 2)
    c = closeness(new, chosen, rest)
    assert (c.to_picked, c.to_unpicked, c.margin) == pytest.approx((2.0, 2.0, 0.0), abs=1e-15)
    c = closeness(torch.tensor([2.0, 0.0], dtype=F64).view(1, 1, 1, 2), chosen, rest)
    assert c.margin == pytest.approx(math.sqrt(10) - 1, abs=1e-15)
    with pytest.raises(ValueError, match="leave at least one sample unpicked"):
        closeness(new, chosen, rest[:0])


def test_personalise_runs_three_routes_with_the_same_noise_and_keeps_theta():
    model, shot = tiny_model(), images(1, seed=3)
    grid = draw_grid(model, shot, n=6, seed=0)
    before = state(model)
    r = personalised_routes(model, shot, grid, [0, 2, 3, 5], steps=2, lr=1e-2)
    assert list(r.samples) == ["the shot (before)", "P, 0 steps (amortised)", "P, 2 steps"]
    assert all(v.shape == (6, 1, 28, 28) for v in r.samples.values()) and len(r.losses) == 2
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    # θ is the same for the first two routes, so is L(P); the grid (seed 0) is not re-drawn
    nelbo = list(r.neg_elbo.values())
    assert nelbo[0] == nelbo[1] and nelbo[2] != nelbo[1]
    assert not torch.equal(r.samples["the shot (before)"], grid)


def test_format_personalised_has_one_line_per_route():
    r = Personalised([0], {}, {"a": Closeness(0.5, 0.75), "b": Closeness(1.0, 0.5)},
                     {"a": 160.04, "b": 149.96}, [], None)
    assert format_personalised(r).splitlines()[2:] == ["| a | 0.500 | 0.750 | +0.250 | 160.0 |",
                                                       "| b | 1.000 | 0.500 | -0.500 | 150.0 |"]


def test_widget_picks_headless_refuses_a_wrong_count_and_adapts(monkeypatch):
    pytest.importorskip("ipywidgets")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    from metagan_lab.widgets.personalise import PersonaliseView

    view = PersonaliseView(tiny_model(), images(1), n=6)
    view.set_picks([1, 4])
    assert view.picked == [1, 4] and view.adapt() is None
    assert "pick exactly 4" in view.status.value
    view.set_picks([5, 0, 2, 3])
    view.steps.value = 1
    r = view.adapt()
    assert view.picked == [0, 2, 3, 5] and r.picked == [0, 2, 3, 5] and len(r.losses) == 1
    assert view.samples_out.outputs[0]["data"]["image/png"]          # the samples' figure
    assert view.measure_out.outputs[0]["data"]["image/png"]          # the measure's figure
    with pytest.raises(ValueError, match=r"\[6\] are not integers in 0..5"):
        view.set_picks([6])
