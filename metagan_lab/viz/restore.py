"""Figures for meta-learned restoration (matplotlib only): images side by side, PSNR curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import Tensor


def _image(ax, img: Tensor, title: str | None = None) -> None:
    ax.imshow(img.detach().cpu().squeeze(0).clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def restoration_figure(clean: Tensor, degraded: Tensor, restored: Mapping[str, Tensor],
                       scores: Mapping[str, Sequence[float]] | None = None, n: int = 3,
                       title: str = ""):
    """Rows = images; columns = clean | degraded | one column per method.

    clean, degraded, restored[name]: [B, 1, H, W]; scores[name]: PSNR per image (optional).
    """
    import matplotlib.pyplot as plt

    n = min(n, clean.shape[0])
    cols = 2 + len(restored)
    fig, axes = plt.subplots(n, cols, figsize=(1.6 * cols, 1.7 * n), squeeze=False)
    for i in range(n):
        _image(axes[i, 0], clean[i], "clean" if i == 0 else None)
        _image(axes[i, 1], degraded[i], "degraded" if i == 0 else None)
        for j, (name, out) in enumerate(restored.items()):
            label = name if i == 0 else ""
            if scores is not None and name in scores:
                label = f"{label}\n{scores[name][i]:.1f} dB".strip()
            _image(axes[i, 2 + j], out[i], label or None)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def degradation_figure(clean: Tensor, degraded: Tensor, kernel: Tensor | None = None,
                       known: Tensor | None = None, title: str = "", n: int = 4):
    """Top row clean images, bottom row degraded; an extra column shows the blur kernel or the
    inpainting mask of the first image."""
    import matplotlib.pyplot as plt

    n = min(n, clean.shape[0])
    extra = kernel is not None or known is not None
    fig, axes = plt.subplots(2, n + extra, figsize=(1.6 * (n + extra), 3.4), squeeze=False)
    for i in range(n):
        _image(axes[0, i], clean[i], "clean" if i == 0 else None)
        _image(axes[1, i], degraded[i], "degraded" if i == 0 else None)
    if extra:
        ax = axes[0, n]
        if kernel is not None:
            ax.imshow(kernel.detach().cpu().numpy(), cmap="magma")
            ax.set_title(f"kernel {tuple(kernel.shape)}", fontsize=8)
        else:
            ax.imshow(known[0, 0].cpu().float().numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_title("mask (white = kept)", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        axes[1, n].axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def psnr_curves_figure(curves: Mapping[str, Mapping[str, Sequence[float]]], title: str = "",
                       metric: str = "psnr"):
    """PSNR (or SSIM) versus adaptation steps, one line per method.

    curves[name] = {"steps": [...], "psnr": [...], "ssim": [...]} (``adaptation_curve``'s dict).
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    for name, c in curves.items():
        flat = len(set(c[metric])) == 1
        ax.plot(c["steps"], c[metric], "--" if flat else "-o", label=name, markersize=4)
    ax.set_xlabel("adaptation steps k")
    ax.set_ylabel("PSNR (dB)" if metric == "psnr" else "SSIM")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def loss_figure(histories: Mapping[str, Sequence[float]], smooth: int = 10):
    """Training losses (moving average over ``smooth`` steps), log scale."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(5.2, 3.0))
    for name, h in histories.items():
        h = np.asarray(h, dtype=float)
        if len(h) == 0:
            continue
        w = max(1, min(smooth, len(h)))
        ax.plot(np.arange(w - 1, len(h)), np.convolve(h, np.ones(w) / w, mode="valid"),
                label=name)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def show(fig) -> None:
    """Display a figure once in a notebook (any backend) and free it."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig)
    plt.close(fig)
