"""The lessons' "load or train" widget: the shipped model at once, a check, a retrain."""

from __future__ import annotations

import pytest
import torch

from metagan_lab.data import ClassImages, MetaSplit
from metagan_lab.meta.train import MetaLearner
from metagan_lab.pretrained import entry

pytest.importorskip("ipywidgets")
from metagan_lab.widgets.pretrained import LoadOrTrain, card_html, retrain_estimate  # noqa: E402


@pytest.fixture(scope="module")
def split():
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(30, 20, 28, 28, generator=g) > 0.8).to(torch.uint8) * 255
    data = ClassImages(images, tuple(map(str, range(30))), source="random")
    return MetaSplit(data.subset(list(range(24))), None, data.subset(list(range(24, 30))))


def test_card_and_estimate_come_from_the_manifest():
    e = entry("maml-5w1s")
    card = card_html("maml-5w1s")
    assert f"{100 * e['result']['accuracy']:.2f}" in card and "metagan-lab train maml" in card
    minutes = f"{e['train_seconds'] / 60:.0f} min"
    assert minutes in retrain_estimate("maml-5w1s", "cpu")
    assert "GPU" in retrain_estimate("maml-5w1s", "cuda")


def test_check_and_retrain_a_meta_model(split):
    torch.set_num_threads(1)
    w = LoadOrTrain("anil-5w1s", split, check_tasks=4)
    assert isinstance(w.model, MetaLearner) and w.source == "shipped"
    shipped = {n: p.detach().clone() for n, p in w.model.params.items()}
    result = w.check()
    assert result["tasks"] == 4 and "not Omniglot" in w.status.value
    w.retrain(iterations=2, max_seconds=None, meta_batch=2, hidden=w.model.config.hidden)
    assert w.source.startswith("retrained")
    assert any(not torch.equal(shipped[n], p.detach()) for n, p in w.model.params.items())


def test_retrain_a_protonet(split):
    torch.set_num_threads(1)
    w = LoadOrTrain("protonet-5w1s", split, check_tasks=3)
    before = [p.detach().clone() for p in w.model.parameters()]
    w.retrain(iterations=2, n_way=5, n_query=2)
    assert w.source.startswith("retrained") and not w.retrain_button.disabled
    assert any(not torch.equal(a, b.detach()) for a, b in zip(before, w.model.parameters()))


def test_quick_mode_retrains_a_few_iterations_only(split, monkeypatch):
    monkeypatch.setenv("METAGAN_LAB_QUICK", "1")
    torch.set_num_threads(1)
    w = LoadOrTrain("fomaml-5w1s", split, check_tasks=2)
    w.retrain()                       # the shipped config says --max-seconds 600: not in quick mode
    assert w.source.startswith("retrained") and "s)" in w.source
