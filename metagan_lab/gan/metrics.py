"""Offline evaluation of generators: Fréchet distance on in-domain features, and sample grids.

FD(x, g) = ‖μ_x − μ_g‖² + Tr(Σ_x + Σ_g − 2 (Σ_x Σ_g)^{1/2}) on features φ(·) of a network trained
on the meta-training classes (no Inception download). The computation is torchmetrics'
``FrechetInceptionDistance`` with a custom ``feature`` module — that path does not need
torch-fidelity (only the default Inception extractor does).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import finite_loss
from ..data.images import ClassImages
from ..models import Conv4
from ..training import LoopSpec, StepResult, run_loop


class FeatureNet(nn.Module):
    """φ(x): frozen Conv-4 embedding of a trained classifier; x [B, 1, 28, 28] → [B, 64]."""

    def __init__(self, encoder: nn.Module, num_features: int):
        super().__init__()
        self.encoder = encoder.eval()
        self.num_features = num_features            # read by torchmetrics (no dummy forward)
        for p in self.encoder.parameters():
            p.requires_grad_(False)

    def forward(self, x: Tensor) -> Tensor:
        return self.encoder(x.float()).flatten(1)


def feature_net(classifier: Conv4) -> FeatureNet:
    """The encoder of a trained Conv-4 classifier as a frozen feature extractor."""
    return FeatureNet(classifier.encoder, classifier.encoder[-1][0].out_channels)


def train_feature_classifier(classes: ClassImages, steps: int = 300, batch_size: int = 128,
                             lr: float = 1e-3, seed: int = 0, device: str | torch.device = "cpu",
                             progress: bool = False) -> Conv4:
    """Conv-4 + linear head trained by cross-entropy to tell the (training) classes apart (on
    the library's one loop, ``training.run_loop``)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Conv4(n_classes=classes.n_classes).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    images = classes.images
    fix = f"lower lr (now {lr:g})"

    def step(it: int) -> StepResult:
        c = torch.randint(0, classes.n_classes, (batch_size,), generator=gen)
        s = torch.randint(0, classes.n_samples, (batch_size,), generator=gen)
        x = (images[c, s].unsqueeze(1).float() / 255.0).to(device)           # [B, 1, 28, 28]
        loss = F.cross_entropy(model(x), c.to(device))
        value = finite_loss("the cross-entropy", loss.item(), fix)            # before the update
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return StepResult(value)

    model.train()
    run_loop(step, LoopSpec(iterations=steps, params=lambda: dict(model.named_parameters()),
                            desc="feature classifier", fix=fix, progress=progress))
    return model.eval()


def frechet_distance(real: Tensor, fake: Tensor, feature: nn.Module,
                     batch_size: int = 256) -> float:
    """FD between two image sets [N, 1, 28, 28] (float, [0, 1]) on ``feature`` embeddings.

    Needs ≥ 2 images in each set; with fewer images than feature dimensions the covariances are
    rank-deficient, so compare FDs computed with the same sample counts only.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance

    if real.shape[0] < 2 or fake.shape[0] < 2:
        raise ValueError(f"need >= 2 real and fake images, got {real.shape[0]} and {fake.shape[0]}")
    device = next(feature.parameters()).device
    fid = FrechetInceptionDistance(feature=feature, normalize=True).to(device)
    with torch.no_grad():
        for images, is_real in ((real, True), (fake, False)):
            for chunk in images.split(batch_size):
                fid.update(chunk.to(device), real=is_real)
        return float(fid.compute())


def sample_grid(images: Tensor, nrow: int = 8, padding: int = 2) -> Tensor:
    """images [N, 1, H, W] in [0, 1] → one picture [H', W'] (torchvision's make_grid, channel 0)."""
    from torchvision.utils import make_grid

    return make_grid(images.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=padding,
                     pad_value=0.5)[0]
