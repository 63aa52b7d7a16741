"""Figures for notebooks 06 (GAN lab) and 07 (few-shot generation). matplotlib only; every
function takes tensors / histories computed by ``metagan_lab.gan`` and returns a Figure."""

from __future__ import annotations

import io

import torch
from torch import Tensor


def _plt():
    import matplotlib.pyplot as plt

    return plt


def figure_png(fig) -> bytes:
    """A figure as PNG bytes (for an ``ipywidgets.Image`` updated from a background thread)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def gan_lab_figure(state, extent: float = 3.0, n_points: int = 512, resolution: int = 60):
    """Left: D's decision surface σ(D(x)) as a heat map with real (black) and generated (red)
    points. Right: both losses over the steps."""
    from ..gan.toy2d import evaluate_on_grid
    from ..gan.train import sample_noise

    plt = _plt()
    x_real, _ = state.sample_real(n_points, torch.Generator().manual_seed(0))
    with torch.no_grad():
        fake = state.generator(sample_noise(state, n_points)).cpu()
    D = state.discriminator
    xs, ys, logits = evaluate_on_grid(lambda p: D(p.to(state.device)).cpu(), extent, resolution)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
    im = ax.imshow(torch.sigmoid(logits).numpy(), origin="lower", cmap="RdBu_r", vmin=0, vmax=1,
                   extent=(-extent, extent, -extent, extent), alpha=0.8)
    ax.scatter(x_real[:, 0], x_real[:, 1], s=4, c="black", label="real x")
    ax.scatter(fake[:, 0], fake[:, 1], s=4, c="tab:red", label="G(z)")
    ax.set(xlim=(-extent, extent), ylim=(-extent, extent), title=f"step {state.step}: σ(D(x))")
    ax.legend(loc="upper right", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046)
    h = state.history
    ax2.plot(h["step"], h["d_loss"], label="D loss")
    ax2.plot(h["step"], h["g_loss"], label="G loss")
    ax2.set(xlabel="step", title=f"losses ({state.cfg.loss})")
    ax2.legend()
    fig.tight_layout()
    return fig


def generator_gradient_figure(logits: Tensor, grads: dict[str, Tensor], norms=None):
    """|∂L_G/∂ℓ| against D(G(z)) = σ(ℓ) for both generator losses (``gan.losses``), and
    optionally the measured ‖∇_θG L_G‖ at the start of training as bars."""
    plt = _plt()
    ncols = 2 if norms else 1
    fig, axes = plt.subplots(1, ncols, figsize=(5 * ncols, 3.6), squeeze=False)
    ax = axes[0, 0]
    d = torch.sigmoid(logits)
    for name, g in grads.items():
        ax.plot(d, g.abs(), label=name)
    ax.set(xlabel="D(G(z))", ylabel="|∂L_G / ∂ logit|", title="generator gradient vs D's verdict")
    ax.legend()
    if norms:
        ax = axes[0, 1]
        ax.bar(list(norms), list(norms.values()), color=["tab:blue", "tab:orange"])
        ax.set(yscale="log", ylabel="‖∇_θG L_G‖", title="at the start of training")
    fig.tight_layout()
    return fig


def lr_comparison_figure(runs: dict[str, dict[str, list[float]]]):
    """Learning rates of G and D and the D loss over steps, one line per run (fixed vs
    hypergradient)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    for name, h in runs.items():
        axes[0].plot(h["step"], h["lr_g"], label=name)
        axes[1].plot(h["step"], h["lr_d"], label=name)
        axes[2].plot(h["diversity_step"], h["diversity"], marker="o", label=name)
    axes[0].set(title="α_G", xlabel="step", yscale="log")
    axes[1].set(title="α_D", xlabel="step", yscale="log")
    axes[2].set(title="relative sample diversity (1 = real)", xlabel="step")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig


def image_rows_figure(rows: dict[str, Tensor], nrow: int = 10, title: str | None = None):
    """One labelled row of images per entry (e.g. the K shots, then samples of each method);
    each row is a torchvision ``make_grid`` (``gan.metrics.sample_grid``)."""
    from ..gan.metrics import sample_grid

    plt = _plt()
    fig, axes = plt.subplots(len(rows), 1, figsize=(nrow * 0.75, 0.95 * len(rows) + 0.3),
                             squeeze=False)
    for ax, (name, images) in zip(axes[:, 0], rows.items()):
        ax.imshow(sample_grid(images[:nrow], nrow=nrow).numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def fd_bar_figure(summary: dict[str, tuple[float, float]]):
    """Mean Fréchet distance ± 95% CI per method (lower is better)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3))
    names = list(summary)
    ax.barh(names, [summary[n][0] for n in names], xerr=[summary[n][1] for n in names],
            color="tab:gray")
    ax.invert_yaxis()
    ax.set(xlabel="Fréchet distance (lower is better)")
    fig.tight_layout()
    return fig


def curves_figure(history: dict[str, list[float]], title: str = ""):
    """Each series of a history dict against the step index (e.g. ELBO, reconstruction, KL)."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(history), figsize=(4 * len(history), 3), squeeze=False)
    for ax, (name, values) in zip(axes[0], history.items()):
        ax.plot(values)
        ax.set(title=name, xlabel="step")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
