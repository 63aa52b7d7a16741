"""The meta-training loop: it learns, checkpoints, evaluates with a CI, and stops on NaN, on an
exploded loss or exploded weights, leaving only finite checkpoints and weights (runs that cannot
lose or lie)."""

import math

import pytest
import torch
from meta_helpers import noise_classes

import metagan_lab.meta.train as meta_train_module
from metagan_lab import checks
from metagan_lab.io import safe_load
from metagan_lab.meta.config import MetaConfig
from metagan_lab.meta.engines.loop import LoopEngine
from metagan_lab.meta.registry import config_for
from metagan_lab.meta.train import (
    TrainingDiverged,
    learner_from_checkpoint,
    meta_test,
    meta_train,
    new_learner,
)

# train_shots=None: K = k_shot while training too (ReptileConfig's paper value is 10 shots)
TINY = dict(n_way=3, k_shot=1, train_shots=None, n_query=2, meta_batch=2, hidden=8, val_tasks=4,
            test_tasks=6, eval_query=2, eval_inner_steps=1)


def all_finite(params) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in params.values())


@pytest.mark.parametrize("algorithm", ["maml", "fomaml", "metasgd", "anil", "reptile"])
def test_each_algorithm_trains_checkpoints_and_reports_a_ci(algorithm, tmp_path):
    data = noise_classes()
    cfg = config_for(algorithm, iterations=3, val_every=2, **TINY)
    learner = new_learner(cfg)
    before = {n: p.detach().clone() for n, p in learner.params.items()}
    seen = []
    history = meta_train(learner, data, data, out=tmp_path, progress=False,
                         callback=lambda it, loss, acc: seen.append(it))
    measured = [1] if algorithm == "reptile" else [1, 2, 3]   # Reptile: every 10th iteration
    assert seen == measured and history["step"] == measured and history["iterations"] == 3
    assert len(history["loss"]) == len(history["accuracy"]) == len(measured)
    assert [it for it, _ in history["val"]] == [2, 3]
    assert any(not torch.equal(before[n], learner.params[n]) for n in before)
    state = safe_load(tmp_path / "checkpoint.pt")
    assert state["iteration"] == 3
    again = learner_from_checkpoint(state)
    assert all(torch.equal(again.params[n], learner.params[n].detach()) for n in before)
    assert (again.alphas is None) == (algorithm != "metasgd")
    result = meta_test(again, data, seed=5)
    assert result["tasks"] == 6 and 0 <= result["accuracy"] <= 1 and result["ci95"] >= 0
    assert result == meta_test(learner, data, seed=5)


def test_maml_beats_chance_on_easy_classes_after_a_few_iterations():
    data = noise_classes(n_classes=10, n_samples=8)
    cfg = config_for("maml", iterations=15, val_every=100, meta_lr=3e-3,
                     **{**TINY, "hidden": 16})
    learner = new_learner(cfg)
    meta_train(learner, data, None, progress=False)
    assert meta_test(learner, data, n_tasks=20)["accuracy"] > 0.6   # chance is 1/3


def test_a_nan_loss_stops_training_naming_the_iteration_and_keeps_the_last_checkpoint(
        tmp_path, monkeypatch):
    real = LoopEngine.outer_backward
    calls = {"train": 0}

    def poisoned(self, model, params, episode, inner, scale):
        loss, acc = real(self, model, params, episode, inner, scale)   # training calls only;
        calls["train"] += 1                                            # evaluation predicts
        if calls["train"] == 3:
            for p in params.values():
                p.grad = p.grad * math.nan
            return loss * math.nan, acc
        return loss, acc

    monkeypatch.setattr(LoopEngine, "outer_backward", poisoned)
    learner = new_learner(config_for("maml", iterations=5, val_every=2, path="loop", **TINY))
    assert learner.engine().name == "loop"
    with pytest.raises(TrainingDiverged) as info:
        meta_train(learner, noise_classes(), noise_classes(seed=1), out=tmp_path,
                   progress=False)
    message = str(info.value)
    assert "iteration 3" in message and "iteration 2" in message
    assert "inner learning rate" in message
    assert calls["train"] == 3
    assert safe_load(tmp_path / "checkpoint.pt")["iteration"] == 2
    assert all(torch.isfinite(p).all() for p in
               safe_load(tmp_path / "checkpoint.pt")["params"].values())
    assert all_finite(learner.params)                  # the NaN step was not taken


def test_checkpoints_refuse_foreign_files():
    with pytest.raises(ValueError, match="kind='meta'"):
        learner_from_checkpoint({"kind": "protonet"})


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_diverging_reptile_step_stops_before_theta_is_overwritten(optimizer):
    learner = new_learner(config_for("reptile", iterations=3, inner_lr=1e200, inner_steps=3,
                                     inner_optimizer=optimizer,
                                     **{**TINY, "eval_inner_steps": 1}))
    before = {n: p.detach().clone() for n, p in learner.params.items()}
    with pytest.raises(TrainingDiverged, match=r"reptile, iteration 1: reptile step at .* "
                                               r"NaN, infinite or larger than 1e\+06") as info:
        meta_train(learner, noise_classes(), None, progress=False)
    assert "inner learning rate (now 1e+200)" in str(info.value)
    assert all(torch.equal(before[n], learner.params[n]) for n in before)


def test_reptile_logs_the_query_loss_it_measured_every_tenth_iteration_only():
    """Reptile's step needs no query loss; it is measured at iterations 1, 11, 21, … and the
    history says which (``step``), instead of repeating a stale value in between."""
    seen = []
    learner = new_learner(config_for("reptile", iterations=12, val_every=100, **TINY))
    history = meta_train(learner, noise_classes(), None, progress=False,
                         callback=lambda it, loss, acc: seen.append((it, loss)))
    assert history["step"] == [1, 11] and history["iterations"] == 12
    assert len(history["loss"]) == len(history["accuracy"]) == 2
    assert [it for it, _ in seen] == [1, 11]
    assert [loss for _, loss in seen] == history["loss"]
    assert history["loss"][0] != history["loss"][1] and history["seconds"] > 0


def test_train_shots_size_the_training_episodes_and_k_shot_the_test_ones(monkeypatch):
    real = meta_train_module.EpisodeSampler
    shots = []

    def recording(data, n_way, k_shot, *args, **kwargs):
        shots.append(k_shot)
        return real(data, n_way, k_shot, *args, **kwargs)

    monkeypatch.setattr(meta_train_module, "EpisodeSampler", recording)
    cfg = config_for("reptile", iterations=2, val_every=2, **{**TINY, "train_shots": 3})
    learner = new_learner(cfg)
    meta_train(learner, noise_classes(), noise_classes(seed=1), progress=False)
    assert shots == [3, 1]                                   # training sampler, then validation
    with pytest.raises(ValueError, match="train_shots.*got 0"):
        MetaConfig(train_shots=0)


def test_max_seconds_stops_early_validates_and_checkpoints(tmp_path):
    cfg = config_for("maml", iterations=50, val_every=20, max_seconds=1e-9, **TINY)
    learner = new_learner(cfg)
    history = meta_train(learner, noise_classes(), noise_classes(seed=1), out=tmp_path,
                         progress=False)
    assert len(history["loss"]) == 1 and [it for it, _ in history["val"]] == [1]
    assert history["iterations"] == 1 and history["step"] == [1]
    assert safe_load(tmp_path / "checkpoint.pt")["iteration"] == 1
    with pytest.raises(ValueError, match="max_seconds.*-1"):
        MetaConfig(max_seconds=-1)


def test_a_validation_that_uses_up_the_time_ends_training_without_a_second_one(monkeypatch):
    real = meta_train_module.evaluate_meta
    clock = {"now": 0.0}
    monkeypatch.setattr(meta_train_module.time, "perf_counter", lambda: clock["now"])

    def slow_validation(*args, **kwargs):
        clock["now"] += 100.0                         # a validation takes 100 s of wall time
        return real(*args, **kwargs)

    monkeypatch.setattr(meta_train_module, "evaluate_meta", slow_validation)
    cfg = config_for("maml", iterations=50, val_every=2, max_seconds=50.0, **TINY)
    history = meta_train(new_learner(cfg), noise_classes(), noise_classes(seed=1), progress=False)
    assert len(history["loss"]) == 2 and [it for it, _ in history["val"]] == [2]
    assert history["iterations"] == 2


def glyphs():
    from metagan_lab.data import load_classes

    return load_classes("glyphs", glyph_classes=20, quiet=True)    # 20 classes × 20 images


@pytest.mark.parametrize("algorithm", ["maml", "metasgd", "anil", "reptile"])
def test_an_absurd_inner_learning_rate_raises_and_leaves_only_finite_weights(algorithm,
                                                                             tmp_path):
    """α = 1e16: the run stops with TrainingDiverged at once; any checkpoint left is finite, and
    so are the learner's weights (the exploded step was not taken)."""
    learner = new_learner(config_for(algorithm, inner_lr=1e16, iterations=5, val_every=1,
                                     **TINY))
    with pytest.raises(TrainingDiverged, match=f"{algorithm}, iteration 1: ") as info:
        meta_train(learner, glyphs(), glyphs(), out=tmp_path, progress=False)
    assert "no checkpoint was written" in str(info.value)
    assert "inner learning rate (now 1e+16)" in str(info.value)
    checkpoint = tmp_path / "checkpoint.pt"
    if checkpoint.exists():
        assert all_finite(safe_load(checkpoint)["params"])
    assert all_finite(learner.params)


@pytest.mark.parametrize("algorithm", ["maml", "fomaml", "metasgd", "anil", "reptile"])
def test_a_large_inner_learning_rate_stops_the_run_instead_of_succeeding(algorithm, tmp_path):
    """α = 1e6 on a tiny Conv-4 (glyphs): the query cross-entropy after the inner step explodes
    past meta.train.CROSS_ENTROPY_LIMIT = 1e3 (measured 7e10 at iteration 1 for the MAML family,
    1.6e6 for ANIL, whose head-only step swings between 1e4 and 2e6), or Reptile's weights past
    1e6 (Adam steps of ≈ α each), so the run stops instead of reporting a result."""
    learner = new_learner(config_for(algorithm, inner_lr=1e6, iterations=20, val_every=5,
                                     **TINY))
    expected = (r"weights .* larger than 1e\+06" if algorithm == "reptile"
                else r"the loss became \d(\.\d+)?e\+(0[4-9]|[1-9]\d)")
    with pytest.raises(TrainingDiverged, match=f"{algorithm}, iteration 1: .*{expected}"):
        meta_train(learner, glyphs(), glyphs(), out=tmp_path, progress=False)
    assert not (tmp_path / "checkpoint.pt").exists()
    assert all_finite(learner.params)


def test_the_loss_and_weight_limits_of_the_one_loop():
    """The limits the runs above hit: |loss| > 1e8 and |weight| > 1e6 count as diverged."""
    with pytest.raises(TrainingDiverged, match="became 2e\\+08"):
        checks.finite_loss("here", 2e8)
    assert checks.finite_loss("here", 9e7) == 9e7
    assert checks.bad_tensors({"w": torch.tensor([2e6]), "ok": torch.tensor([1e6])}) == ["w"]
    assert meta_train_module.TrainingDiverged is checks.TrainingDiverged
