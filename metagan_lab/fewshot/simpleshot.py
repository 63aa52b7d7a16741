"""SimpleShot (Wang, Chao, Weinberger & van der Maaten, 2019): nearest centroid on centred,
L2-normalised features of a network pre-trained as a plain classifier.

paper symbol                              code name
f_θ (supervised pre-training)              finetune.PretrainNet, trained on class batches
x̄ = mean of f_θ(x) over training images    feature_mean(model, images, cfg) (a buffer)
CL2N: x̂ = (f − x̄) / ‖f − x̄‖               cl2n(z, mean)
centroid of class k: mean of its x̂         protonet.prototypes
ŷ = argmin_k ‖x̂ − c_k‖²                    simpleshot_logits = −‖x̂ − c_k‖²

The paper pre-trains with SGD; here the one episodic trainer's Adam (1e-3) does, on batches of 256
(the paper's batch size). x̄ is taken over ``mean_images`` random training images (the paper uses
all of them; 10 000 estimate the mean of a 64-d feature closely) before every validation and at
the end of training, and saved with the weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from ..checks import positive_int
from ..data.images import to_float
from ..types import Episode
from .episodic import embed_episode
from .finetune import PretrainConfig, PretrainNet
from .protonet import prototypes, squared_distances


@dataclass(frozen=True)
class SimpleShotConfig(PretrainConfig):
    """Wang et al.: batches of 256, CL2N features, nearest centroid."""

    batch: int = 256
    mean_images: int = 10_000  # training images averaged for x̄

    HELP: ClassVar[dict[str, str]] = {
        "batch": "images per pre-training step",
        "mean_images": "random training images averaged for the mean feature x̄"}

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_int("mean_images", self.mean_images)


class SimpleShotNet(PretrainNet):
    """PretrainNet plus the mean training feature x̄ (a buffer, saved in the checkpoint)."""

    def __init__(self, hidden: int, n_classes: int):
        super().__init__(hidden, n_classes)
        self.register_buffer("feature_mean", torch.zeros(hidden))


def build(cfg: SimpleShotConfig) -> SimpleShotNet:
    if cfg.train_classes is None:
        raise ValueError("SimpleShotConfig.train_classes is not set; train_episodic fills it "
                         "from the training split (or pass train_classes=…)")
    return SimpleShotNet(cfg.hidden, cfg.train_classes)


def cl2n(z: Tensor, mean: Tensor) -> Tensor:
    """x̂ = (z − x̄) / ‖z − x̄‖: z [..., D], x̄ [D] → [..., D]."""
    return F.normalize(z - mean, dim=-1)


@torch.no_grad()
def feature_mean(model: SimpleShotNet, images: Tensor, cfg: SimpleShotConfig,
                 chunk: int = 1000) -> Tensor:
    """x̄: the mean eval-mode feature of ``cfg.mean_images`` training images drawn without
    replacement with a generator seeded by ``cfg.seed`` (all images when there are fewer)."""
    flat = images.flatten(0, 1)                                          # [C*S, H, W] uint8
    gen = torch.Generator(device=flat.device).manual_seed(cfg.seed + 11)
    pick = torch.randperm(len(flat), generator=gen, device=flat.device)[: cfg.mean_images]
    was_training = model.training
    model.eval()
    dtype = model.feature_mean.dtype
    total = sum(model.encoder(to_float(flat[idx]).to(dtype)).double().sum(0)
                for idx in pick.split(chunk))
    model.train(was_training)
    return (total / len(pick)).to(dtype)


def prepare(model: SimpleShotNet, cfg: SimpleShotConfig, images: Tensor) -> None:
    """Store x̄ of the current network in ``model.feature_mean`` (before each evaluation)."""
    model.feature_mean.copy_(feature_mean(model, images, cfg))


def simpleshot_logits(model: SimpleShotNet, episode: Episode, cfg: SimpleShotConfig) -> Tensor:
    """−‖x̂ − c_k‖² [T, N*Q, N] with CL2N features x̂ and class centroids c_k (argmax: the
    nearest centroid)."""
    support_z, query_z = embed_episode(model.encoder, episode)
    support_z, query_z = cl2n(support_z, model.feature_mean), cl2n(query_z, model.feature_mean)
    return -squared_distances(query_z, prototypes(support_z, episode.support_y, cfg.n_way))
