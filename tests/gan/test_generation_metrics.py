"""Few-shot generation metrics (gan.recognisability) in float64 against hand computations."""

import math
import statistics

import pytest
import torch
from torch import nn

from metagan_lab.data.images import ClassImages
from metagan_lab.gan.fewshot import FewShotGANConfig, adapt_gan, generate, make_gan
from metagan_lab.gan.recognisability import (
    REAL,
    class_prototypes,
    critic_predictions,
    diversity,
    evaluate_generator_metrics,
    feature_spread,
    gan_generators,
    inception_score,
    inception_score_of,
    recognisability,
    recognisability_per_class,
    summarise_metrics,
)
from metagan_lab.models import params_of


def flat(x):
    return x.flatten(1)                   # f(x) = x: the embedding is the point itself


# N=2 classes, K=2 shots, D=2: c_0 = mean((0,0),(2,0)) = (1,0); c_1 = mean((0,4),(0,6)) = (0,5)
SUPPORT = torch.tensor([[[0.0, 0.0], [2.0, 0.0]], [[0.0, 4.0], [0.0, 6.0]]], dtype=torch.float64)
# (‖x−c_0‖², ‖x−c_1‖²) → ŷ: (1,1): (1, 17) → 0;  (0,3): (10, 4) → 1;  (2,2): (5, 13) → 0;
# (0.5, 2.9): (8.66, 4.66) → 1
SAMPLES = torch.tensor([[1.0, 1.0], [0.0, 3.0], [2.0, 2.0], [0.5, 2.9]], dtype=torch.float64)
TARGETS = torch.tensor([0, 1, 1, 1])


def test_prototypes_and_critic_decisions_match_hand_computation():
    assert torch.equal(class_prototypes(SUPPORT), torch.tensor([[1.0, 0.0], [0.0, 5.0]],
                                                               dtype=torch.float64))
    assert critic_predictions(SAMPLES, SUPPORT, flat).tolist() == [0, 1, 0, 1]


def test_recognisability_is_the_hand_counted_accuracy():
    assert recognisability(SAMPLES, TARGETS, SUPPORT, flat) == 0.75          # 3 of 4 right
    per_class = recognisability_per_class(SAMPLES, TARGETS, SUPPORT, flat)
    assert torch.allclose(per_class, torch.tensor([1.0, 2 / 3], dtype=torch.float64))


def test_recognisability_matches_a_slow_loop_reference():
    gen = torch.Generator().manual_seed(0)
    support = torch.randn(4, 3, 5, generator=gen, dtype=torch.float64)     # N=4, K=3, D=5
    samples = torch.randn(30, 5, generator=gen, dtype=torch.float64)
    targets = torch.randint(0, 4, (30,), generator=gen)
    protos = [[sum(support[n, k, d].item() for k in range(3)) / 3 for d in range(5)]
              for n in range(4)]
    hits = 0
    for x, t in zip(samples.tolist(), targets.tolist()):
        dist = [sum((x[d] - c[d]) ** 2 for d in range(5)) for c in protos]
        hits += dist.index(min(dist)) == t
    assert recognisability(samples, targets, support, flat) == hits / 30


def test_diversity_is_the_mean_feature_std():
    # stds over the 2 samples: dim 0 (0, 2) → √2, dim 1 (0, 4) → 2√2; mean 1.5√2
    emb = torch.tensor([[0.0, 0.0], [2.0, 4.0]], dtype=torch.float64)
    assert feature_spread(emb).item() == pytest.approx(1.5 * math.sqrt(2), rel=1e-15)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(7, 3, generator=gen, dtype=torch.float64)
    reference = sum(statistics.stdev(x[:, d].tolist()) for d in range(3)) / 3
    assert diversity(x, flat) == pytest.approx(reference, rel=1e-12)
    assert diversity(x[:1].expand(5, 3), flat) == 0.0                      # copies: no diversity


def test_inception_score_hand_values():
    c = 3
    assert inception_score(torch.full((4, c), 1 / c, dtype=torch.float64)) == pytest.approx(1.0)
    same = torch.tensor([[0.2, 0.5, 0.3]] * 5, dtype=torch.float64)
    assert inception_score(same) == pytest.approx(1.0, abs=1e-15)            # KL(p ‖ p) = 0
    onehot = torch.eye(c, dtype=torch.float64).repeat(2, 1)                # 6 rows, 2 per class
    assert inception_score(onehot) == pytest.approx(c, rel=1e-15)
    # p(y) = (0.75, 0.25); KL_1 = log(4/3), KL_2 = ½log(2/3) + ½log 2 = ½log(4/3) → IS = (4/3)^¾
    between = torch.tensor([[1.0, 0.0], [0.5, 0.5]], dtype=torch.float64)
    assert inception_score(between) == pytest.approx((4 / 3) ** 0.75, rel=1e-14)


def test_inception_score_matches_a_slow_loop_reference():
    probs = torch.randn(9, 4, generator=torch.Generator().manual_seed(2),
                        dtype=torch.float64).softmax(dim=1)
    rows = probs.tolist()
    marginal = [sum(r[c] for r in rows) / 9 for c in range(4)]
    kl = [sum(p * math.log(p / m) for p, m in zip(r, marginal)) for r in rows]
    assert inception_score(probs) == pytest.approx(math.exp(sum(kl) / 9), rel=1e-13)


def test_inception_score_of_applies_softmax_to_the_classifier_logits():
    # logits (0, log 3) → p = (¼, ¾) and its mirror; p(y) = (½, ½); IS = 0.5^¼ · 1.5^¾
    logits = torch.tensor([[0.0, math.log(3)], [math.log(3), 0.0]], dtype=torch.float64)
    assert inception_score_of(logits, nn.Identity()) == pytest.approx(0.5 ** 0.25 * 1.5 ** 0.75,
                                                                       rel=1e-14)


@pytest.mark.parametrize("samples, targets, support, match", [
    (SAMPLES[:, :1], TARGETS, SUPPORT, "same image shape"),
    (SAMPLES, TARGETS[:3], SUPPORT, "one class per sample"),
    (SAMPLES, torch.tensor([0, 1, 2, 1]), SUPPORT, r"must lie in \[0, 2\)"),
    (SAMPLES, TARGETS, SUPPORT[:1], "N >= 2"),
    (SAMPLES, TARGETS, SUPPORT[0], r"\[N, K, …\]"),
])
def test_recognisability_errors_name_the_problem(samples, targets, support, match):
    with pytest.raises(ValueError, match=match):
        recognisability(samples, targets, support, flat)


@pytest.mark.parametrize("probs, match", [
    (torch.tensor([[0.5, 0.6]], dtype=torch.float64), "not logits"),
    (torch.tensor([[1.5, -0.5]], dtype=torch.float64), "negative"),
    (torch.tensor([0.5, 0.5], dtype=torch.float64), r"\[M, C\]"),
])
def test_inception_score_errors_name_the_problem(probs, match):
    with pytest.raises(ValueError, match=match):
        inception_score(probs)


def test_diversity_needs_two_samples():
    with pytest.raises(ValueError, match="M >= 2"):
        diversity(SAMPLES[:1], flat)


def _tiny_test_set() -> ClassImages:
    gen = torch.Generator().manual_seed(3)
    images = (torch.rand(6, 5, 28, 28, generator=gen) > 0.8).to(torch.uint8) * 255
    return ClassImages(images, tuple(f"c{i}" for i in range(6)))


def test_copying_the_shot_is_fully_recognisable_with_zero_diversity():
    """Boutin et al.'s 'Box 2': copies of the prototype are always recognised, never diverse."""
    critic = nn.Sequential(nn.Flatten(), nn.Linear(784, 8)).double()
    embed = lambda x: critic(x.double())  # noqa: E731
    test = _tiny_test_set()
    copy = {"copy": lambda shots, n, seed: shots[:1].double().expand(n, -1, -1, -1)}
    out = evaluate_generator_metrics(copy, test, embed, n_way=3, k_shot=1, n_episodes=2,
                                     n_samples=4, seed=0)
    assert set(out) == {REAL, "copy"}
    assert out["copy"]["recognisability"] == [1.0, 1.0]
    assert out["copy"]["diversity"] == [0.0, 0.0]
    assert out[REAL]["diversity"][0] > 0
    summary = summarise_metrics(out)
    assert summary["copy"]["recognisability"] == 1.0 and summary["copy"]["diversity_ci95"] == 0.0
    with pytest.raises(ValueError, match="N >= 2"):
        evaluate_generator_metrics(copy, test, embed, n_way=1)


def test_a_diverged_generator_scores_nan_instead_of_crashing():
    def nans(shots, n, seed):
        return torch.full((n, 1, 28, 28), math.nan)

    out = evaluate_generator_metrics({"nan": nans}, _tiny_test_set(), flat, n_way=2,
                                     n_episodes=2, n_samples=3, reference=False)
    assert set(out) == {"nan"} and set(out["nan"]) == {"recognisability", "diversity"}
    assert all(math.isnan(v) for values in out["nan"].values() for v in values)


def test_gan_generators_adapt_then_generate_like_fewshot_gan():
    cfg = FewShotGANConfig(z_dim=4, width=4)
    G, D = make_gan(cfg)
    theta = (params_of(G, False), params_of(D, False))
    fns = gan_generators(G, D, {"adapted": theta, "as_is": theta}, inner_steps=1, inner_lr=0.05,
                         adapt_methods=("adapted",))
    shots = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(4))
    assert torch.equal(fns["as_is"](shots, 3, 7), generate(G, theta[0], 3, seed=7))
    phi_g, _ = adapt_gan(G, D, *theta, shots, 1, 0.05, seed=7)
    expected = generate(G, phi_g, 3, seed=7)
    assert torch.equal(fns["adapted"](shots, 3, 7), expected)
    assert not torch.equal(expected, generate(G, theta[0], 3, seed=7))


def test_evaluation_reports_fd_and_an_is_between_1_and_c():
    from metagan_lab.gan.metrics import FeatureNet
    from metagan_lab.models import Conv4, seeded

    critic = seeded(lambda: Conv4(hidden=8), 0).eval()
    classifier = seeded(lambda: Conv4(hidden=8, n_classes=3), 1).eval()

    def noise(shots, n, seed):
        return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))

    out = evaluate_generator_metrics({"noise": noise}, _tiny_test_set(), critic, classifier,
                                     FeatureNet(critic.encoder, 8), n_way=2, n_episodes=2,
                                     n_samples=4)
    assert "fd" not in out[REAL] and len(out["noise"]["fd"]) == 2
    assert all(math.isfinite(v) and v >= 0 for v in out["noise"]["fd"])
    for row in out.values():
        assert all(1 - 1e-6 <= v <= 3 + 1e-6 for v in row["inception_score"])    # 1 ≤ IS ≤ C


def test_plane_figure_draws_each_method_and_the_chance_line():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.container import ErrorbarContainer

    from metagan_lab.viz.generation import diversity_recognisability_figure

    summary = {"a": {"diversity": 0.1, "diversity_ci95": 0.01, "recognisability": 0.9,
                     "recognisability_ci95": 0.05}, "b": {"diversity": 0.3, "recognisability": 0.4}}
    fig = diversity_recognisability_figure(summary, n_way=5)
    ax = fig.axes[0]
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert [tuple(c.lines[0].get_xydata()[0]) for c in bars] == [(0.1, 0.9), (0.3, 0.4)]
    chance = [line for line in ax.lines if line.get_label() == "chance (1/5)"]
    assert len(chance) == 1 and list(chance[0].get_ydata()) == [0.2, 0.2]
    plt.close(fig)


def test_format_metrics_one_line_per_generator_with_a_dash_where_a_metric_is_missing():
    from metagan_lab.gan.recognisability import format_metrics

    table = format_metrics({
        "real images": {"recognisability": 0.99, "recognisability_ci95": 0.005,
                        "diversity": 0.16, "diversity_ci95": 0.004,
                        "inception_score": 2.5, "inception_score_ci95": 0.1},
        "gan": {"recognisability": 0.2, "recognisability_ci95": 0.01, "diversity": 0.1,
                "diversity_ci95": 0.002, "inception_score": 1.0, "inception_score_ci95": 0.0,
                "fd": 20.45, "fd_ci95": 1.54}}).splitlines()
    assert table[0] == "| generator | recognisability R | diversity δ | in-domain IS | FD |"
    assert table[2] == "| real images | 0.99 ± 0.005 | 0.16 ± 0.004 | 2.5 ± 0.1 | — |"
    assert table[3] == "| gan | 0.2 ± 0.01 | 0.1 ± 0.002 | 1 ± 0 | 20.4 ± 1.5 |"
