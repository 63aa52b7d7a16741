"""PSNR and SSIM per image, from torchmetrics (not hand-written); images in [0, 1].

torchmetrics is imported inside the functions: it pulls in matplotlib, and the core library must
import with torch alone.
"""

from __future__ import annotations

from torch import Tensor

from .degradations import check_images


def psnr(output: Tensor, target: Tensor) -> Tensor:
    """PSNR = 10 log10(1 / MSE) per image, output clamped to [0, 1]. Returns [B]."""
    from torchmetrics.functional.image import peak_signal_noise_ratio

    check_images(output, name="output")
    return peak_signal_noise_ratio(output.clamp(0, 1), target, data_range=1.0,
                                   reduction="none", dim=(1, 2, 3))


def ssim(output: Tensor, target: Tensor) -> Tensor:
    """SSIM (Gaussian window 11, σ = 1.5) per image, output clamped to [0, 1]. Returns [B]."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    check_images(output, name="output")
    return structural_similarity_index_measure(output.clamp(0, 1), target, data_range=1.0,
                                               reduction="none")
