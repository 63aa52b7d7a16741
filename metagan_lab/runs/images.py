"""Pictures and distances shared by the generator kinds: PNG grids, the feature network of the
Fréchet distance, and the closed-form Fréchet distance of two point clouds."""

from __future__ import annotations

import io
import math

import torch
from torch import Tensor

from ..data import ClassImages

FEATURE_MODEL = "protonet-5w1s"   # shipped Conv-4 encoder: in-domain features, nothing to train


def grid_png(images: Tensor, nrow: int | None = None) -> bytes:
    """images [N, 1, H, W] in [0, 1] → one PNG of a grid (``gan.metrics.sample_grid``)."""
    from PIL import Image

    from ..gan.metrics import sample_grid

    nrow = nrow or max(1, math.ceil(math.sqrt(len(images))))
    grid = sample_grid(images, nrow=nrow)                                   # [H', W'] in [0, 1]
    buf = io.BytesIO()
    Image.fromarray((grid.numpy() * 255).round().astype("uint8"), mode="L").save(buf, "PNG")
    return buf.getvalue()


def rows_png(rows: dict[str, Tensor], title: str | None = None) -> bytes:
    """One labelled row of images [n_i, 1, H, W] in [0, 1] per entry, shorter rows padded with
    blanks, drawn as one picture (matplotlib, Agg) → PNG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..gan.metrics import sample_grid
    from ..viz.gan import figure_png

    n = max(len(v) for v in rows.values())
    strips = []
    for images in rows.values():
        images = images.detach().float().cpu()
        blank = images.new_zeros(n - len(images), *images.shape[1:])
        strips.append(sample_grid(torch.cat([images, blank]), nrow=n))          # [h, W]
    picture, h = torch.cat(strips), strips[0].shape[0]
    fig, ax = plt.subplots(figsize=(picture.shape[1] / 40 + 2.5, picture.shape[0] / 40 + 0.5))
    ax.imshow(picture.numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set_yticks([h * (i + 0.5) for i in range(len(rows))], list(rows), fontsize=9)
    ax.set_xticks([])
    ax.tick_params(length=0)
    if title:
        ax.set_title(title, fontsize=10)
    return figure_png(fig)


def rgb_png(image) -> bytes:
    """An RGB array [H, W, 3] in [0, 1] (e.g. ``viz.adaptation.prediction_mosaic``) → PNG."""
    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((np.clip(image, 0, 1) * 255).round().astype("uint8"), mode="RGB").save(
        buf, "PNG")
    return buf.getvalue()


def shipped_encoder(name: str, device: str | torch.device = "cpu"):
    """The Conv-4 encoder of the shipped ProtoNet ``name`` (a critic or a feature network)."""
    from ..fewshot.train import encoder_from_checkpoint
    from ..pretrained import PREFIX, load_checkpoint

    return encoder_from_checkpoint(load_checkpoint(PREFIX + name.removeprefix(PREFIX)), device)


def feature_network(train: ClassImages | None, device: str | torch.device = "cpu"):
    """(φ, its name): the shipped ProtoNet encoder as a frozen feature network; without shipped
    models, a Conv-4 classifier trained for 200 steps on ``train`` (``gan.metrics``)."""
    from ..gan.metrics import FeatureNet, feature_net, train_feature_classifier
    from ..pretrained import names

    if FEATURE_MODEL in names():
        encoder = shipped_encoder(FEATURE_MODEL, device)
        return FeatureNet(encoder, encoder.encoder[-1][0].out_channels), \
            f"Conv-4 encoder of the shipped {FEATURE_MODEL}"
    if train is None:
        raise ValueError(f"the shipped {FEATURE_MODEL} is missing and no training classes were "
                         "given to train a feature network; re-install metagan_lab")
    classifier = train_feature_classifier(train, steps=200, device=device)
    return feature_net(classifier), "Conv-4 classifier trained 200 steps on the training classes"


def real_images(part: ClassImages, n: int, seed: int) -> Tensor:
    """``n`` random images of ``part`` as float [n, 1, H, W] in [0, 1]."""
    flat = part.images.flatten(0, 1)
    idx = torch.randperm(len(flat), generator=torch.Generator().manual_seed(seed))[:n]
    return flat[idx].unsqueeze(1).float() / 255.0


def gaussian_frechet(a: Tensor, b: Tensor) -> float:
    """‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^{1/2}) of two point sets [N, d] (the Fréchet
    distance of the Gaussians fitted to them; 2-D toy data needs no feature network)."""
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    if a.shape[0] < 2 or b.shape[0] < 2:
        raise ValueError(f"need >= 2 points in each set, got {a.shape[0]} and {b.shape[0]}")
    s_a, s_b = torch.cov(a.T).reshape(a.shape[1], -1), torch.cov(b.T).reshape(b.shape[1], -1)
    e, v = torch.linalg.eigh(s_a)
    root_a = v @ torch.diag(e.clamp_min(0).sqrt()) @ v.T
    cross = torch.linalg.eigvalsh(root_a @ s_b @ root_a).clamp_min(0).sqrt().sum()
    return float((a.mean(0) - b.mean(0)).square().sum() + s_a.trace() + s_b.trace() - 2 * cross)
