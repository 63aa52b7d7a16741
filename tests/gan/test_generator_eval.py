"""`eval` of the few-shot generator kinds (statistician, fewshot_gan, meta_vae) through
``runs.generation``: on tiny untrained checkpoints and 12 glyph classes, the JSON holds
recognisability / diversity per method with the real-image reference (and FD, IS when asked) in
range, the FD keys of the GAN kinds are kept; the JSON's recognisability and diversity equal a
hand computation (prototypes, squared distances, argmin, per-feature std written out as loops in
float64) on the very samples the generators made; ``metric_keys`` against hand-written keys;
the IS classifier's accuracy against its own predictions counted by hand."""

import dataclasses
import json
import math

import pytest
import torch

import metagan_lab.runs.generation as generation
import metagan_lab.runs.kinds.fewshot_gan as fewshot_kind
import metagan_lab.runs.kinds.statistician as statistician_kind
from metagan_lab import runs
from metagan_lab.cli import main
from metagan_lab.data import MetaSplit, make_glyphs
from metagan_lab.gan.fewshot import FewShotGANConfig, make_gan
from metagan_lab.gan.meta_vae import MetaVAEConfig, make_vae
from metagan_lab.gan.recognisability import REAL, train_is_classifier
from metagan_lab.gan.statistician import StatisticianConfig, checkpoint_dict, make_statistician
from metagan_lab.models import params_of
from metagan_lab.runs.images import shipped_encoder

WAYS, SHOTS, SAMPLES = 3, 2, 4
OPTIONS = runs.EvalOptions(ways=WAYS, shots=SHOTS, episodes=1, samples=SAMPLES, inner_steps=1)
STAT_OPTIONS = dataclasses.replace(OPTIONS, inner_steps=None)      # no gradient step to count


@pytest.fixture(scope="module")
def split():
    data = make_glyphs(n_classes=12)
    return data, MetaSplit(data.subset(list(range(6))), data.subset([6, 7, 8]),
                           data.subset([9, 10, 11]))


@pytest.fixture(autouse=True)
def glyph_split(split, monkeypatch):
    for kind in (fewshot_kind, statistician_kind):      # meta_vae loads through fewshot_gan's
        monkeypatch.setattr(kind, "load_split", lambda options: split)


def gan_checkpoint():
    cfg = FewShotGANConfig(z_dim=4, width=4)
    (G, D), (G1, D1) = make_gan(cfg), make_gan(cfg, seed=5)
    return {"kind": "fewshot_gan", "config": dataclasses.asdict(cfg),
            "theta_g": params_of(G, False), "theta_d": params_of(D, False),
            "pretrained_g": params_of(G1, False), "pretrained_d": params_of(D1, False),
            "adapt_lr": {"reptile_adapted": 0.05}, "k_shot": SHOTS, "adapt_steps": 1,
            "iterations": 0, "dataset": "glyphs"}


def meta_vae_checkpoint():
    cfg = MetaVAEConfig(z_dim=3, hidden=8)
    return {"kind": "meta_vae", "config": dataclasses.asdict(cfg),
            "theta": params_of(make_vae(cfg), False),
            "pooled": params_of(make_vae(cfg, seed=3), False), "k_shot": SHOTS,
            "adapt_steps": 1, "iterations": 0, "dataset": "glyphs"}


def statistician_checkpoint():
    cfg = StatisticianConfig(z_dim=3, c_channels=2, width=4, hidden=8)
    return checkpoint_dict(make_statistician(cfg), cfg, 0, "glyphs")


def in_unit(result, key):
    return 0 <= result[key] <= 1 and result[key + "_ci95"] != result[key + "_ci95"]  # 1 episode


@pytest.mark.parametrize("make, methods", [
    (gan_checkpoint, ["reptile_adapted", "meta_init", "scratch", "pretrained_finetuned"]),
    (meta_vae_checkpoint, ["meta_vae_adapted", "meta_vae_init", "scratch_vae",
                           "pooled_vae_finetuned"])])
def test_gan_kinds_report_recognisability_and_diversity_beside_their_fd(make, methods):
    result = runs.evaluate(make(), OPTIONS)
    for m in methods:
        assert in_unit(result, f"recognisability_{m}") and result[f"diversity_{m}"] >= 0
        assert math.isfinite(result[f"fd_{m}"]) and f"fd_{m}_ci95" in result     # kept as is
    assert in_unit(result, "real_recognisability") and result["real_diversity"] > 0
    assert (result["ways"], result["shots"], result["episodes"], result["samples"]) == \
        (WAYS, SHOTS, 1, SAMPLES) and result["critic"] == generation.CRITIC
    assert not any(k.startswith(("inception_score", "real_fd", "is_")) for k in result)


def test_statistician_reports_fd_and_only_when_asked_the_in_domain_is(monkeypatch):
    result = runs.evaluate(statistician_checkpoint(), STAT_OPTIONS)
    assert in_unit(result, "recognisability") and in_unit(result, "real_recognisability")
    assert result["diversity"] >= 0 and result["fd"] >= 0 and "fd_ci95" in result
    assert "real_fd" not in result and not any("inception" in k for k in result)
    monkeypatch.setattr(generation, "IS_STEPS", 2)
    asked = runs.evaluate(statistician_checkpoint(),
                          dataclasses.replace(STAT_OPTIONS, is_classes=3))
    assert 1 <= asked["inception_score"] <= 3 and 1 <= asked["real_inception_score"] <= 3
    assert asked["is_classes"] == 3 and asked["is_steps"] == 2
    assert 0 <= asked["is_classifier_accuracy"] <= 1
    assert asked["recognisability"] == result["recognisability"]     # same episodes and noise


def recording(adapters, calls):
    """Each adapter, also appending (method, shots, samples) of every call to ``calls``."""
    def wrap(name, fn):
        def adapt_and_generate(shots, n, seed):
            samples = fn(shots, n, seed)
            calls.append((name, shots.clone(), samples.clone()))
            return samples
        return adapt_and_generate
    return {name: wrap(name, fn) for name, fn in adapters.items()}


def noisy_copy(shots, n, seed):
    """The shots with strong seeded noise: often but not always recognised."""
    noise = torch.randn(n, *shots.shape[1:], generator=torch.Generator().manual_seed(seed))
    return (shots[torch.arange(n) % len(shots)] + 0.3 * noise).clamp(0, 1)


def hand_recognisability_and_diversity(support, samples, embed):
    """support [N, K, 1, H, W], samples [N, M, 1, H, W] (class n's in row n): prototypes,
    squared distances and argmin as loops in float64; δ = mean over classes of the mean over
    features of the unbiased std over the M samples."""
    f = lambda x: embed(x).double()                                             # noqa: E731
    protos = [f(s).mean(0) for s in support]
    hits, predicted, spread = 0, [], 0.0
    for n, class_samples in enumerate(samples):
        emb = f(class_samples)                                                  # [M, D]
        for e in emb:
            d = [float(((e - c) ** 2).sum()) for c in protos]
            predicted.append(d.index(min(d)))
            hits += predicted[-1] == n
        centred = emb - emb.mean(0)
        spread += float(((centred ** 2).sum(0) / (len(emb) - 1)).sqrt().mean()) / len(samples)
    return hits / (len(samples) * len(class_samples)), spread, predicted


def test_json_recognisability_and_diversity_equal_a_hand_computation(monkeypatch):
    calls = []
    real_generators = fewshot_kind.generators
    monkeypatch.setattr(fewshot_kind, "generators", lambda ckpt, steps, device: recording(
        {"reptile_adapted": real_generators(ckpt, steps, device)["reptile_adapted"],
         "noisy_copy": noisy_copy}, calls))
    result = runs.evaluate(gan_checkpoint(), OPTIONS)
    critic = shipped_encoder(generation.CRITIC).eval()
    for method in ("reptile_adapted", "noisy_copy"):
        episode = [c for c in calls if c[0] == method][-WAYS:]    # FD's class comes first
        support = torch.stack([shots for _, shots, _ in episode])              # [N, K, 1, H, W]
        samples = torch.stack([made for _, _, made in episode])                # [N, M, 1, H, W]
        assert support.shape[:2] == (WAYS, SHOTS) and samples.shape[:2] == (WAYS, SAMPLES)
        with torch.no_grad():
            r, delta, predicted = hand_recognisability_and_diversity(support, samples, critic)
        assert result[f"recognisability_{method}"] == pytest.approx(r, abs=5e-5)
        assert result[f"diversity_{method}"] == pytest.approx(delta, abs=5e-5)
    assert len(set(predicted)) > 1 and 0 < r < 1, predicted  # noisy copies: a mix-up shows


def test_metric_keys_name_methods_the_reference_and_a_single_generator():
    summary = {REAL: {"recognisability": 0.98765, "recognisability_ci95": 0.01234},
               "scratch": {"diversity": 0.123456, "diversity_ci95": float("nan")},
               "statistician": {"fd": 12.345678, "fd_ci95": 1.0}}
    keys = generation.metric_keys(summary, single="statistician")
    assert math.isnan(keys.pop("diversity_scratch_ci95"))
    assert keys.pop("diversity_scratch") == 0.1235
    assert keys == {"real_recognisability": 0.9877, "real_recognisability_ci95": 0.0123,
                    "fd": 12.3457, "fd_ci95": 1.0}
    assert generation.fd_keys({"a": [1.0, 3.0]})["fd_a"] == 2.0


def test_is_classifier_accuracy_is_its_hand_counted_accuracy_and_bad_counts_are_refused(split):
    train = split[1].train
    classifier, accuracy = train_is_classifier(train, 4, steps=3, held_out=2)
    x = train.images[:4, -2:].flatten(0, 1).unsqueeze(1).float() / 255         # [8, 1, 28, 28]
    with torch.no_grad():
        predicted = classifier(x).argmax(1).tolist()
    assert accuracy == sum(p == i // 2 for i, p in enumerate(predicted)) / 8
    with pytest.raises(ValueError, match="n_classes=7: the training classes number only 6"):
        train_is_classifier(train, 7)
    with pytest.raises(ValueError, match="held_out=20"):
        train_is_classifier(train, 2, held_out=20)
    with pytest.raises(ValueError, match="--is-classes 9: the training split"):
        runs.evaluate(statistician_checkpoint(), dataclasses.replace(STAT_OPTIONS, is_classes=9))


def test_cli_eval_is_classes_and_ways_checks(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(generation, "IS_STEPS", 1)
    path = runs.save(statistician_checkpoint(), tmp_path / "s.pt")
    argv = ["eval", str(path), "--ways", "2", "--episodes", "2", "--samples", "2", "--device",
            "cpu", "--quiet", "--json"]
    assert main([*argv, "--is-classes", "2"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 1 <= result["inception_score"] <= 2 and result["is_classes"] == 2
    with pytest.raises(SystemExit):
        main([*argv[:2], "--ways", "4", *argv[4:]])
    assert "--ways 4: the test split" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*argv, "--is-classes", "1"])
    assert "is_classes must be an integer >= 2, got 1" in capsys.readouterr().err


def test_older_fewshot_gan_files_show_the_pooled_dcgan_as_it_is():
    """A file without "pretrained_d" (the format before the pooled D was stored): the pooled
    DCGAN is the method "pretrained", sampled without adaptation (its G is the file's), and the
    meta-init keeps Reptile's name when the config has no "method"."""
    old = gan_checkpoint()
    del old["pretrained_d"], old["config"]["method"]
    G, _, inits = fewshot_kind.build(old)
    assert list(inits) == ["reptile_adapted", "meta_init", "scratch", "pretrained"]
    for name, p in old["pretrained_g"].items():
        torch.testing.assert_close(inits["pretrained"][0][name], p)
    assert "pretrained_finetuned" in fewshot_kind.build(gan_checkpoint())[2]
