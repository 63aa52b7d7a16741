"""Figures for notebooks 06 (GAN lab) and 07 (few-shot generation). matplotlib only; every
function takes tensors / histories computed by ``metagan_lab.gan`` and returns a Figure."""

from __future__ import annotations

import io
import math

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


class GANLabFigure:
    """The GAN lab's figure, built once; ``update(state)`` moves its artists in place. Left: D's
    decision surface σ(D(x)) as a heat map with real (black) and generated (red) points.
    Right: both losses over the steps.

    ``png()`` renders a frame for the lab's ``ipywidgets.Image`` (``pyplot=False``: the figure is
    not registered with pyplot, so it can be drawn from the lab's thread). Frames are blitted:
    the axes, ticks, labels and colour bar are drawn once and kept as a background; a frame
    restores it and draws only what moves (surface, points, curves, the step) before a
    fast PNG encoding. The loss axes grow in steps (x by ×1.5, y with a margin), and only a
    change of limits or of the loss name draws the whole figure again.
    """

    def __init__(self, state, extent: float = 3.0, n_points: int = 512, resolution: int = 60,
                 dpi: int = 80, pyplot: bool = True):
        from matplotlib.figure import Figure

        self.extent, self.n_points, self.resolution = extent, n_points, resolution
        size = (10, 4.2)
        if pyplot:
            self.fig = _plt().figure(figsize=size, dpi=dpi)
        else:
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            self.fig = Figure(figsize=size, dpi=dpi)
            FigureCanvasAgg(self.fig)
        ax, ax2 = self.fig.subplots(1, 2)
        blank = torch.full((resolution, resolution), 0.5).numpy()
        self.surface = ax.imshow(blank, origin="lower", cmap="RdBu_r", vmin=0, vmax=1,
                                 extent=(-extent, extent, -extent, extent), alpha=0.8)
        self.real = ax.scatter([], [], s=4, c="black", label="real x")
        self.fake = ax.scatter([], [], s=4, c="tab:red", label="G(z)")
        ax.set(xlim=(-extent, extent), ylim=(-extent, extent), title="step 0: σ(D(x))")
        # legends below the axes: nothing moving is drawn over them, they stay in the background
        below = dict(loc="upper center", ncol=2, fontsize=8, frameon=False)
        ax.legend(bbox_to_anchor=(0.5, -0.06), **below)
        self.fig.colorbar(self.surface, ax=ax, fraction=0.046)
        (self.d_line,) = ax2.plot([], [], label="D loss")
        (self.g_line,) = ax2.plot([], [], label="G loss")
        ax2.set(xlabel="step", title="losses", xlim=(0, 100), ylim=(0, 1))
        ax2.legend(bbox_to_anchor=(0.5, -0.13), **below)
        self.ax, self.ax2 = ax, ax2
        self.fig.tight_layout()                            # once: the layout stays fixed
        self._moving = [self.surface, self.real, self.fake, ax.title, self.d_line, self.g_line]
        self._blit = not pyplot
        for a in self._moving:
            a.set_animated(self._blit)                 # left out of the background
        self._background = self._state = None
        self.update(state)

    def update(self, state) -> None:
        """Show ``state``: D's surface on the grid, G(z) for a fixed z, the loss curves."""
        from ..gan.toy2d import evaluate_on_grid

        if self._state is not state:                   # a new run: new real points and z
            seeded = torch.Generator().manual_seed(0)
            x_real, _ = state.sample_real(self.n_points, seeded)
            self.real.set_offsets(x_real.cpu().numpy())
            self._z = torch.randn(self.n_points, state.generator.z_dim, generator=seeded)
            self._state = state
            self.ax2.set(xlim=(0, 100), ylim=(0, 1))     # the loss axes start small again
            self._background = None
        with torch.no_grad():                          # fixed z: the points move, not jitter
            fake = state.generator(self._z.to(state.device)).cpu()
        D = state.discriminator
        _, _, logits = evaluate_on_grid(lambda p: D(p.to(state.device)).cpu(), self.extent,
                                        self.resolution)
        self.surface.set_data(torch.sigmoid(logits).numpy())
        self.fake.set_offsets(fake.numpy())
        self.ax.set_title(f"step {state.step}: σ(D(x))")
        h = state.history
        self.d_line.set_data(h["step"], h["d_loss"])
        self.g_line.set_data(h["step"], h["g_loss"])
        title = f"losses ({state.cfg.loss})"
        if self.ax2.get_title() != title:
            self.ax2.set_title(title)
            self._background = None
        self._grow_loss_axes(h)

    def _grow_loss_axes(self, h) -> None:
        """Limits that change rarely: x grows ×1.5 past the last step; y covers the losses with
        a 10 % margin and is recomputed when they leave it or fill less than a third of it."""
        x0, x1 = self.ax2.get_xlim()
        y0, y1 = self.ax2.get_ylim()
        last = h["step"][-1] if h["step"] else 0
        new_x = (0, max(100, 1.5 * last)) if last > x1 else (x0, x1)
        new_y = (y0, y1)
        values = h["d_loss"] + h["g_loss"]
        finite = [v for v in values if math.isfinite(v)]
        if finite:
            lo, hi = min(finite), max(finite)
            span = max(hi - lo, 1e-3)
            if lo < y0 or hi > y1 or span < (y1 - y0) / 3:
                new_y = (lo - 0.1 * span, hi + 0.1 * span)
        if (new_x, new_y) != ((x0, x1), (y0, y1)):
            self.ax2.set(xlim=new_x, ylim=new_y)
            self._background = None

    def png(self) -> bytes:
        """The current frame as PNG bytes."""
        from PIL import Image

        canvas = self.fig.canvas
        if not self._blit:
            canvas.draw()
        else:
            if self._background is None:               # the still parts, drawn once
                canvas.draw()
                self._background = canvas.copy_from_bbox(self.fig.bbox)
            else:
                canvas.restore_region(self._background)
            for a in self._moving:
                a.axes.draw_artist(a)
        width, height = canvas.get_width_height()
        image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA",
                                 0, 1)
        buf = io.BytesIO()
        image.save(buf, format="png", compress_level=1)
        return buf.getvalue()


def gan_lab_figure(state, extent: float = 3.0, n_points: int = 512, resolution: int = 60):
    """The GAN lab's figure (``GANLabFigure``) for ``state``, as a pyplot Figure."""
    return GANLabFigure(state, extent, n_points, resolution, dpi=100).fig


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
    for ax in axes:
        ax.legend(fontsize=8)
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
