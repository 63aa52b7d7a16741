"""The notebook's widgets run headless: thin views whose results come from the library."""

import matplotlib
import pytest
import torch

from metagan_lab.models import params_of, seeded
from metagan_lab.restore.degradations import TaskFamily
from metagan_lab.restore.meta import RestoreMetaConfig
from metagan_lab.restore.models import Restorer

pytest.importorskip("ipywidgets")
matplotlib.use("Agg")


def test_adaptation_lab_and_explorer_run_headless():
    from metagan_lab.widgets.restore import AdaptationLab, MetaTrainer, degradation_explorer

    images = torch.rand(12, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    model = seeded(lambda: Restorer(hidden=4, depth=2), 0)
    theta = params_of(model)
    cfg = RestoreMetaConfig(k_shot=2, n_query=2, meta_batch=2, inner_steps=1)
    lab = AdaptationLab(model, {"init": theta, "classical": None}, images, cfg, kind="noise")
    lab.steps.value = 2
    curves = lab.run()
    assert set(curves) == {"init", "classical"} and curves["init"]["steps"] == [0, 1, 2]
    lab.optimizer.value, lab.mode.value, lab.inner_lr.value = "adam", "gains", 1e-2
    gains = lab.run()["init"]
    # reference: the library call the widget is a view of, with the same choices
    from metagan_lab.restore.data import sample_task
    from metagan_lab.restore.evaluate import Method, compare_on_task
    task = sample_task(images, lab.setting(), 2, 2, torch.Generator().manual_seed(0))
    want = compare_on_task(model, [Method("init", theta)], task, 1e-2, lab.tv_weight.value,
                           [0, 1, 2], 0, optimizer="adam", mode="gains")["init"]
    assert gains["psnr"] == pytest.approx(want["psnr"]) and gains["psnr"] != curves["init"]["psnr"]
    lab.controls[0].value = "downsample"
    lab.controls[1].value = 3                      # 3 does not divide 16: shown, not raised
    assert lab.run() == {} and "must divide" in lab.status.value
    trainer = MetaTrainer(model, theta, images, TaskFamily(kinds=("noise",)), cfg)
    trainer.n.value = 5
    assert len(trainer.run()) == 5 and len(trainer.history) == 5
    assert degradation_explorer(images) is not None
