"""Baselines: classical scikit-image methods help, pre-training on all degradations learns."""

import pytest
import torch

from metagan_lab.models import params_of
from metagan_lab.restore.baselines import classical_restore, pretrain_on_all, scratch_params
from metagan_lab.restore.data import restoration_images, sample_task
from metagan_lab.restore.degradations import Setting, TaskFamily, degrade
from metagan_lab.restore.evaluate import (
    Method,
    adaptation_curve,
    compare_methods,
    format_table,
    rows_to_curves,
)
from metagan_lab.restore.meta import RestoreMetaConfig
from metagan_lab.restore.metrics import psnr
from metagan_lab.restore.models import Restorer


def _smooth_images(n=6, size=24):
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    phase = torch.linspace(0, 3, n)[:, None, None]
    return (0.5 + 0.4 * torch.sin(3 * xx + 2 * yy + phase))[:, None]   # [n, 1, size, size]


def test_classical_methods_beat_the_degraded_input():
    x = _smooth_images()
    for setting in (Setting("noise", 0.15), Setting("inpaint", 0.4), Setting("blur", 1.0)):
        obs = degrade(x, setting, torch.Generator().manual_seed(0))
        restored = classical_restore(obs.degraded, obs.known, setting)
        assert restored.shape == x.shape
        assert psnr(restored, x).mean() > psnr(obs.degraded, x).mean() + 1.0, setting


def test_natural_patches_load_offline_and_split_by_photograph():
    train, test = restoration_images("natural", "train"), restoration_images("natural", "test")
    assert train.shape[1:] == test.shape[1:] == (1, 32, 32)
    assert train.shape[0] > 100 and test.shape[0] > 20
    assert 0 <= train.min() and train.max() <= 1


def test_pretraining_on_all_lowers_the_loss_and_the_table_has_every_row():
    images = _smooth_images(12, 16)
    model = Restorer(hidden=6, depth=3)
    theta = params_of(model)
    cfg = RestoreMetaConfig(meta_batch=2, k_shot=2, n_query=2, meta_lr=3e-3, tv_weight=0.0)
    history = pretrain_on_all(model, theta, images, TaskFamily(kinds=("noise",)), cfg, 40,
                              progress=False)
    assert sum(history[-5:]) < 0.7 * sum(history[:5])
    setting = Setting("noise", 0.25)
    task = sample_task(images, setting, 2, 2, torch.Generator().manual_seed(3))
    curve = adaptation_curve(model, scratch_params(lambda: Restorer(hidden=6, depth=3)), task,
                             0.1, steps=(0, 2))
    assert curve["steps"] == [0, 2]
    assert abs(curve["psnr"][0] - psnr(task.query_x, task.query_y).mean().item()) < 1e-4
    rows = compare_methods(model, [Method("pre", theta), Method("classic", None)], images,
                           [setting], 0.1, n_tasks=2, k_shot=2, n_query=2, steps=(0, 1),
                           progress=False)
    assert len(rows) == 4 and "| noise sigma=0.25 | classic |" in format_table(rows)
    classic = [r for r in rows if r["method"] == "classic"]
    assert classic[0]["psnr"] == classic[1]["psnr"]          # no adaptation for classical
    curves = rows_to_curves(rows, "noise sigma=0.25")
    assert set(curves) == {"pre", "classic"} and curves["pre"]["steps"] == [0, 1]
    with pytest.raises(ValueError, match="no rows for setting 'blur'"):
        rows_to_curves(rows, "blur")


def test_glyph_images_split_by_class_with_a_channel_axis():
    train = restoration_images("glyphs", "train", glyph_classes=10)
    test = restoration_images("glyphs", "test", glyph_classes=10)
    assert train.shape == (7 * 20, 1, 28, 28) and test.shape == (3 * 20, 1, 28, 28)
    assert train.dtype == torch.float32 and 0 <= train.min() and train.max() <= 1
