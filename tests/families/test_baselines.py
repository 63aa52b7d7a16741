"""The non-meta baselines in float64: the fine-tuned head reaches 100 % on separable features and
fits each task as if alone; class batches; SimpleShot's CL2N and nearest centroid by hand; the
mean feature x̄ equals the plain mean over all images."""

from __future__ import annotations

import math

import pytest
import torch

from metagan_lab.data import to_float
from metagan_lab.fewshot.finetune import FinetuneConfig, class_batch, fit_linear_head
from metagan_lab.fewshot.simpleshot import (
    SimpleShotConfig,
    SimpleShotNet,
    cl2n,
    feature_mean,
    simpleshot_logits,
)
from metagan_lab.models import seeded
from metagan_lab.types import Episode

DT = torch.float64


def separable(n_way=4, per_class=5, d=8, tasks=3, seed=0) -> tuple[torch.Tensor, torch.Tensor]:
    """Features 2·e_{class} + small noise: linearly separable. z [T, N*per, D], y [T, N*per]."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n_way).repeat_interleave(per_class).expand(tasks, -1)
    z = 2 * torch.nn.functional.one_hot(y, d).to(DT)
    return z + 0.3 * torch.randn(z.shape, generator=g, dtype=DT), y


def test_the_fine_tuned_head_reaches_100_percent_on_separable_features():
    zs, ys = separable(per_class=1)                      # 4-way 1-shot support
    zq, yq = separable(per_class=10, seed=1)              # new samples of the same classes
    weight, bias = fit_linear_head(zs, ys, 4, FinetuneConfig())   # Chen et al.: 100 SGD steps
    logits = zq @ weight.transpose(1, 2) + bias.unsqueeze(1)
    assert (logits.argmax(-1) == yq).all()


def test_the_tasks_heads_are_fitted_as_if_each_were_alone():
    z, y = separable()
    cfg = FinetuneConfig(finetune_steps=20)
    weight, bias = fit_linear_head(z, y, 4, cfg)
    for t in range(3):
        w_t, b_t = fit_linear_head(z[t : t + 1], y[t : t + 1], 4, cfg)
        torch.testing.assert_close(weight[t : t + 1], w_t, rtol=0, atol=1e-13)
        torch.testing.assert_close(bias[t : t + 1], b_t, rtol=0, atol=1e-13)


def test_the_hand_written_sgd_is_torch_optim_sgd_with_momentum_and_weight_decay():
    z, y = separable(tasks=1)
    cfg = FinetuneConfig(finetune_steps=5)
    weight, bias = fit_linear_head(z, y, 4, cfg)
    w = torch.zeros(1, 4, 8, dtype=DT, requires_grad=True)              # the reference
    b = torch.zeros(1, 4, dtype=DT, requires_grad=True)
    sgd = torch.optim.SGD([w, b], lr=cfg.finetune_lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)
    for _ in range(5):
        sgd.zero_grad()
        torch.nn.functional.cross_entropy((z @ w.transpose(1, 2) + b[:, None])[0], y[0]).backward()
        sgd.step()
    torch.testing.assert_close(weight, w.detach(), rtol=0, atol=1e-14)
    torch.testing.assert_close(bias, b.detach(), rtol=0, atol=1e-14)


def test_class_batches_draw_labelled_images_of_all_training_classes(glyphs):
    images = glyphs.images[:7]
    x, y = class_batch(images, FinetuneConfig(batch=32), torch.Generator().manual_seed(0))
    assert x.shape == (32, 1, 28, 28) and y.shape == (32,) and 0 <= y.min() and y.max() < 7
    assert 0 <= x.min() and x.max() <= 1 and x.max() > 0.5


def test_cl2n_centres_then_l2_normalises_by_hand():
    z = torch.tensor([[3.0, 4.0], [2.0, 1.0]], dtype=DT)
    out = cl2n(z, torch.tensor([0.0, 0.0], dtype=DT))
    torch.testing.assert_close(out[0], torch.tensor([0.6, 0.8], dtype=DT), rtol=0, atol=1e-15)
    out = cl2n(z, torch.tensor([1.0, 1.0], dtype=DT))
    torch.testing.assert_close(out, torch.tensor([[2 / math.sqrt(13), 3 / math.sqrt(13)],
                                                  [1.0, 0.0]], dtype=DT), rtol=0, atol=1e-15)


def test_simpleshot_logits_are_minus_squared_distances_to_cl2n_centroids_by_hand():
    model = SimpleShotNet(hidden=2, n_classes=2).to(DT)
    model.encoder = torch.nn.Flatten()                   # features = the toy's 2-d points
    model.feature_mean.copy_(torch.tensor([1.0, 1.0], dtype=DT))
    # support: class 0 at (4, 1) and (1, 4) → x̂ = (1, 0), (0, 1); class 1 at (−2, 1) → (−1, 0)
    s = torch.tensor([[4.0, 1.0], [1.0, 4.0], [-2.0, 1.0]], dtype=DT)
    q = torch.tensor([[2.0, 2.0]], dtype=DT)             # x̂ = (1/√2, 1/√2)
    ep = Episode(s.view(1, 3, 1, 1, 2), torch.tensor([[0, 0, 1]]), q.view(1, 1, 1, 1, 2),
                 torch.tensor([[0]]))
    logits = simpleshot_logits(model, ep, SimpleShotConfig(n_way=2, train_classes=2))
    r = 1 / math.sqrt(2)
    c0, c1 = (0.5, 0.5), (-1.0, 0.0)                     # the centroids of the x̂
    expected = [-((r - c0[0]) ** 2 + (r - c0[1]) ** 2), -((r - c1[0]) ** 2 + (r - c1[1]) ** 2)]
    torch.testing.assert_close(logits[0, 0], torch.tensor(expected, dtype=DT), rtol=0,
                               atol=1e-15)


def test_the_mean_feature_is_the_plain_mean_over_all_images(glyphs):
    cfg = SimpleShotConfig(hidden=4, train_classes=3, mean_images=10_000)
    model = seeded(lambda: SimpleShotNet(4, 3), 0).to(DT)
    images = glyphs.images[:3, :5]                                             # 15 images
    x = to_float(images.flatten(0, 1)).to(DT)                                 # [15, 1, 28, 28]
    model.eval()
    with torch.no_grad():
        expected = model.encoder(x).mean(0)
    model.train()
    torch.testing.assert_close(feature_mean(model, images, cfg, chunk=4), expected, rtol=0,
                               atol=1e-14)
    assert model.training                                   # left as it was


@pytest.mark.parametrize("config", [FinetuneConfig, SimpleShotConfig])
def test_the_baselines_need_their_training_classes_to_build(config):
    from metagan_lab.methods import METHODS

    name = "finetune" if config is FinetuneConfig else "simpleshot"
    with pytest.raises(ValueError, match="train_classes"):
        METHODS[name].build(config())
