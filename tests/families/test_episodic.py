"""The episodic core: config refusals, the default loss by hand, a method that reads the support
labels and has its own loss (as a black-box learner will), a loss that turns NaN (the last good
checkpoint is kept, its weights finite), accuracy ± 95 % CI = mean_ci95 of the task accuracies."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from metagan_lab.checks import TrainingDiverged
from metagan_lab.data import make_glyphs
from metagan_lab.fewshot.episodic import (
    EpisodicConfig,
    Method,
    cross_entropy_loss,
    embed_episode,
    evaluate_episodic,
    task_accuracies,
    train_episodic,
)
from metagan_lab.stats import mean_ci95
from metagan_lab.types import Episode

DT = torch.float64


@pytest.fixture(scope="module")
def tiny():
    return make_glyphs(n_classes=8)


class LabelReader(nn.Module):
    """A toy 'black-box' learner: logits from the support images' mean per label (read from
    support_y) and one learned scale."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))


def reader_logits(model: LabelReader, episode: Episode, cfg: EpisodicConfig) -> torch.Tensor:
    s, q = episode.support_x.flatten(2), episode.query_x.flatten(2)       # [T, S, P], [T, Q, P]
    onehot = nn.functional.one_hot(episode.support_y, cfg.n_way).to(s.dtype)   # [T, S, N]
    means = onehot.transpose(1, 2) @ s / onehot.sum(1).unsqueeze(-1)       # [T, N, P]
    return model.scale * q @ means.transpose(1, 2)


def nan_at_third(model, episode, cfg):
    logits = reader_logits(model, episode, cfg)
    loss, acc = cross_entropy_loss(logits, episode.query_y)
    nan_at_third.calls += 1
    return (loss * math.nan if nan_at_third.calls == 3 else loss), acc


READER = Method("reader", "black-box", EpisodicConfig, lambda cfg: LabelReader(), reader_logits,
                "toy", "none")


def tiny_config(**changes) -> EpisodicConfig:
    values = dict(n_way=3, n_query=2, iterations=4, val_every=1, val_tasks=2, test_tasks=4,
                  eval_query=2)
    return EpisodicConfig(**{**values, **changes})


@pytest.mark.parametrize("changes,needle", [({"lr": -1.0}, "lr"), ({"test_tasks": 1}, ">= 2"),
                                            ({"n_way": 0}, "n_way"),
                                            ({"lr_halve_every": 0}, "lr_halve_every")])
def test_config_refuses_bad_values_in_one_line(changes, needle):
    with pytest.raises(ValueError, match=needle):
        EpisodicConfig(**changes)


def test_method_refuses_an_unknown_family():
    with pytest.raises(ValueError, match="family"):
        Method("x", "magic", EpisodicConfig, lambda cfg: None, reader_logits, "", "")


def test_cross_entropy_loss_by_hand():
    logits = torch.tensor([[[0.0, math.log(3.0)], [2.0, 2.0]]], dtype=DT)   # [T=1, Q=2, N=2]
    y = torch.tensor([[1, 0]])
    loss, acc = cross_entropy_loss(logits, y)
    # query 1: p(1) = 3/4; query 2: p(0) = 1/2
    assert loss.item() == pytest.approx(-(math.log(3 / 4) + math.log(1 / 2)) / 2, abs=1e-14)
    assert acc.item() == pytest.approx(1.0)   # ties go to the first class: query 2 → 0


def test_embed_episode_splits_one_pass_back_into_support_and_query():
    sx, qx = torch.rand(2, 3, 1, 4, 4, dtype=DT), torch.rand(2, 5, 1, 4, 4, dtype=DT)
    s, q = embed_episode(nn.Flatten(), Episode(sx, torch.zeros(2, 3), qx, torch.zeros(2, 5)))
    assert torch.equal(s, sx.flatten(2)) and torch.equal(q, qx.flatten(2))


def test_a_method_reading_the_support_labels_trains_and_evaluates(tiny, tmp_path):
    learner, history = train_episodic(READER, tiny_config(), tiny, tiny, out=tmp_path,
                                      progress=False)
    assert history["iterations"] == 4 and len(history["val"]) == 4
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ckpt["kind"] == "episodic" and ckpt["method"] == "reader" and ckpt["iteration"] == 4
    result = evaluate_episodic(learner, tiny, tasks=6, seed=3)
    mean, ci95 = mean_ci95(task_accuracies(learner, tiny, 6, seed=3))
    assert result["accuracy"] == pytest.approx(mean) and result["ci95"] == pytest.approx(ci95)
    assert result["tasks"] == 6 and result["n_way"] == 3 and result["family"] == "black-box"


def test_a_nan_loss_stops_the_run_and_keeps_the_last_finite_checkpoint(tiny, tmp_path):
    nan_at_third.calls = 0
    method = Method("reader", "black-box", EpisodicConfig, lambda cfg: LabelReader(),
                    reader_logits, "toy", "none", loss=nan_at_third)
    with pytest.raises(TrainingDiverged, match="iteration 3.*iteration 2"):
        train_episodic(method, tiny_config(), tiny, tiny, out=tmp_path, progress=False)
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ckpt["iteration"] == 2 and torch.isfinite(ckpt["state_dict"]["scale"])


def test_episodes_the_split_cannot_give_are_refused_before_training(tiny):
    with pytest.raises(ValueError, match="n_way=9"):
        train_episodic(READER, tiny_config(n_way=9), tiny, progress=False)
