"""The meta-training loop: it learns, checkpoints, evaluates with a CI, and stops on NaN."""

import math

import pytest
import torch
from meta_helpers import noise_classes

import metagan_lab.meta.train as meta_train_module
from metagan_lab.io import safe_load
from metagan_lab.meta.train import (
    MetaConfig,
    TrainingDiverged,
    learner_from_checkpoint,
    meta_test,
    meta_train,
    new_learner,
)

TINY = dict(n_way=3, k_shot=1, n_query=2, meta_batch=2, hidden=8, val_tasks=4, test_tasks=6,
            eval_query=2, eval_inner_steps=1)


@pytest.mark.parametrize("algorithm", ["maml", "fomaml", "metasgd", "anil", "reptile"])
def test_each_algorithm_trains_checkpoints_and_reports_a_ci(algorithm, tmp_path):
    data = noise_classes()
    cfg = MetaConfig(algorithm=algorithm, iterations=3, val_every=2, **TINY)
    learner = new_learner(cfg)
    before = {n: p.detach().clone() for n, p in learner.params.items()}
    seen = []
    history = meta_train(learner, data, data, out=tmp_path, progress=False,
                         callback=lambda it, loss, acc: seen.append(it))
    assert seen == [1, 2, 3] and len(history["loss"]) == 3
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
    cfg = MetaConfig(iterations=15, val_every=100, meta_lr=3e-3, **{**TINY, "hidden": 16})
    learner = new_learner(cfg)
    meta_train(learner, data, None, progress=False)
    assert meta_test(learner, data, n_tasks=20)["accuracy"] > 0.6   # chance is 1/3


def test_a_nan_loss_stops_training_naming_the_iteration_and_keeps_the_last_checkpoint(
        tmp_path, monkeypatch):
    real = meta_train_module.outer_loss_and_accuracy
    calls = {"train": 0}

    def poisoned(learner, episode, inner_steps, first_order, **kwargs):
        loss, acc = real(learner, episode, inner_steps, first_order, **kwargs)
        if not first_order:                                 # training calls; evaluation is FO
            calls["train"] += 1
            if calls["train"] == 3:
                return loss * math.nan, acc
        return loss, acc

    monkeypatch.setattr(meta_train_module, "outer_loss_and_accuracy", poisoned)
    learner = new_learner(MetaConfig(iterations=5, val_every=2, **TINY))
    with pytest.raises(TrainingDiverged) as info:
        meta_train(learner, noise_classes(), noise_classes(seed=1), out=tmp_path,
                   progress=False)
    message = str(info.value)
    assert "iteration 3" in message and "iteration 2" in message
    assert "inner learning rate" in message
    assert safe_load(tmp_path / "checkpoint.pt")["iteration"] == 2
    assert all(torch.isfinite(p).all() for p in
               safe_load(tmp_path / "checkpoint.pt")["params"].values())


def test_checkpoints_refuse_foreign_files():
    with pytest.raises(ValueError, match="kind='meta'"):
        learner_from_checkpoint({"kind": "protonet"})


def test_a_diverging_reptile_step_stops_before_theta_is_overwritten():
    learner = new_learner(MetaConfig(algorithm="reptile", iterations=3, inner_lr=1e200,
                                     inner_steps=3, **{**TINY, "eval_inner_steps": 1}))
    before = {n: p.detach().clone() for n, p in learner.params.items()}
    with pytest.raises(TrainingDiverged, match="Reptile step became .* at iteration 1"):
        meta_train(learner, noise_classes(), None, progress=False)
    assert all(torch.equal(before[n], learner.params[n]) for n in before)


def test_train_shots_size_the_training_episodes_and_k_shot_the_test_ones(monkeypatch):
    real = meta_train_module.EpisodeSampler
    shots = []

    def recording(data, n_way, k_shot, *args, **kwargs):
        shots.append(k_shot)
        return real(data, n_way, k_shot, *args, **kwargs)

    monkeypatch.setattr(meta_train_module, "EpisodeSampler", recording)
    cfg = MetaConfig(algorithm="reptile", iterations=2, val_every=2, train_shots=3, **TINY)
    learner = new_learner(cfg)
    meta_train(learner, noise_classes(), noise_classes(seed=1), progress=False)
    assert shots == [3, 1]                                   # training sampler, then validation
    with pytest.raises(ValueError, match="train_shots.*got 0"):
        MetaConfig(train_shots=0)


def test_max_seconds_stops_early_validates_and_checkpoints(tmp_path):
    cfg = MetaConfig(iterations=50, val_every=20, max_seconds=1e-9, **TINY)
    learner = new_learner(cfg)
    history = meta_train(learner, noise_classes(), noise_classes(seed=1), out=tmp_path,
                         progress=False)
    assert len(history["loss"]) == 1 and [it for it, _ in history["val"]] == [1]
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
    cfg = MetaConfig(iterations=50, val_every=2, max_seconds=50.0, **TINY)
    history = meta_train(new_learner(cfg), noise_classes(), noise_classes(seed=1), progress=False)
    assert len(history["loss"]) == 2 and [it for it, _ in history["val"]] == [2]
