"""Notebook 01's trainer says which accuracy is the average over test episodes and which is one."""

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import torch  # noqa: E402

from metagan_lab.data.images import ClassImages  # noqa: E402
from metagan_lab.widgets.fewshot import ProtoNetTrainer  # noqa: E402


def _tiny(n_classes: int, seed: int) -> ClassImages:
    g = torch.Generator().manual_seed(seed)
    images = (torch.rand(n_classes, 20, 28, 28, generator=g) * 255).to(torch.uint8)
    return ClassImages(images, tuple(f"c{i}" for i in range(n_classes)))


def test_status_names_the_average_and_the_plot_names_one_episode():
    trainer = ProtoNetTrainer(_tiny(6, 0), _tiny(6, 1), eval_episodes=3)
    trainer.steps.value, trainer.ways.value = 10, 3
    trainer.on_train()
    status = trainer.status.value
    assert "average test accuracy over 3 5-way 1-shot episodes" in status
    assert "95 % CI" in status
    titles = []
    trainer.embedding_plot(lambda *args: titles.append(args[-1]))
    assert titles and titles[0].startswith("one test episode")
