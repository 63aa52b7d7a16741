"""Figures for gradient-based meta-learning (matplotlib only, imported inside each function).

Every function takes arrays or tensors and returns a figure (or a string), so notebooks and
widgets stay thin: sinusoid fits, learning curves, 2-D meta-update paths, Meta-SGD's learned
learning rates, and results tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ..types import Params


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def sinusoid_figure(grid, truth, support_x, support_y, curves: Mapping[str, object],
                    title: str = "", ax=None):
    """The true sine, the K support points and one adapted curve per label (e.g. MAML, k=1)."""
    import matplotlib.pyplot as plt

    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 3.6))
    ax.plot(_np(grid), _np(truth), color="black", lw=2, label="true function")
    styles = ["-", "--", ":", "-."]
    for i, (label, curve) in enumerate(curves.items()):
        ax.plot(_np(grid), _np(curve), styles[i % len(styles)], lw=1.6, label=label)
    ax.scatter(_np(support_x).ravel(), _np(support_y).ravel(), color="crimson", zorder=5,
               label=f"K = {np.size(_np(support_x))} support points")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_ylim(-6, 6)
    ax.legend(fontsize=7, loc="lower left", ncol=2)
    ax.set_title(title, fontsize=10)
    return fig if fig is not None else ax.figure


def learning_curves_figure(curves: Mapping[str, Sequence[float]], ylabel: str = "loss",
                           smooth: int = 10, ax=None,
                           steps: Mapping[str, Sequence[int]] | None = None):
    """One line per label; a moving average over ``smooth`` points (raw values faint).
    ``steps[label]`` gives the iterations of a curve's values (Reptile measures every 10th);
    by default they are 1, 2, 3, …"""
    import matplotlib.pyplot as plt

    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for label, values in curves.items():
        v = np.asarray(values, dtype=float)
        if len(v) == 0:
            continue
        x = (np.asarray(steps[label], dtype=float) if steps and label in steps
             else np.arange(1, len(v) + 1, dtype=float))
        if len(x) != len(v):
            raise ValueError(f"curve {label!r}: {len(v)} values but {len(x)} steps")
        line, = ax.plot(x, v, alpha=0.25)
        w = max(1, min(smooth, len(v)))
        avg = np.convolve(v, np.ones(w) / w, mode="valid")
        ax.plot(x[w - 1:], avg, color=line.get_color(), label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return fig if fig is not None else ax.figure


def paths_2d_figure(paths: Mapping[str, np.ndarray], optima, ax=None):
    """Meta-update paths [steps+1, 2] over the contours of the mean task loss ½‖θ − c_i‖²."""
    import matplotlib.pyplot as plt

    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 5))
    c = np.asarray(optima, dtype=float).reshape(-1, 2)
    pts = np.concatenate([c, *[np.asarray(p) for p in paths.values()]])
    lo, hi = pts.min(0) - 0.7, pts.max(0) + 0.7
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 120), np.linspace(lo[1], hi[1], 120))
    mean_loss = sum(0.5 * ((gx - ci[0]) ** 2 + (gy - ci[1]) ** 2) for ci in c) / len(c)
    ax.contour(gx, gy, mean_loss, levels=12, colors="0.8", linewidths=0.7)
    ax.scatter(c[:, 0], c[:, 1], marker="*", s=160, color="gold", edgecolor="black",
               zorder=5, label="task optima $c_i$")
    for label, p in paths.items():
        p = np.asarray(p)
        ax.plot(p[:, 0], p[:, 1], "o-", ms=3, label=label)
    ax.scatter(*np.asarray(next(iter(paths.values())))[0], color="black", zorder=6,
               label="start θ₀")
    ax.set_aspect("equal")
    ax.set_xlabel("θ₁")
    ax.set_ylabel("θ₂")
    ax.legend(fontsize=8, loc="best")
    return fig if fig is not None else ax.figure


def alphas_figure(alphas: Params, initial: float | None = None):
    """Meta-SGD's learned α: a box per parameter tensor, and the first conv layer's α as images."""
    import matplotlib.pyplot as plt

    names = list(alphas)
    fig = plt.figure(figsize=(11, 4.2))
    ax = fig.add_axes([0.06, 0.42, 0.55, 0.5])
    ax.boxplot([_np(alphas[n]).ravel() for n in names], showfliers=False)
    ax.set_xticks(range(1, len(names) + 1))
    ax.set_xticklabels([n.replace("encoder.", "e").replace(".weight", ".w")
                        .replace(".bias", ".b") for n in names], rotation=70, fontsize=7)
    if initial is not None:
        ax.axhline(initial, color="crimson", lw=1, ls="--", label=f"initial α = {initial}")
        ax.legend(fontsize=8)
    ax.set_ylabel("learned α (per parameter)")
    first = next((n for n in names if _np(alphas[n]).ndim == 4), None)
    if first is not None:
        a = _np(alphas[first])[:, 0]                                     # [C_out, 3, 3]
        show = a[: min(16, len(a))]
        vmax = float(np.abs(a).max())
        for i, k in enumerate(show):
            sub = fig.add_axes([0.65 + 0.075 * (i % 4), 0.70 - 0.2 * (i // 4), 0.065, 0.18])
            tile = sub.imshow(k, cmap="coolwarm", vmin=-vmax, vmax=vmax)
            sub.set_xticks([])
            sub.set_yticks([])
        # one scale for every tile (symmetric about 0: a negative α steps up the gradient)
        bar = fig.colorbar(tile, cax=fig.add_axes([0.955, 0.12, 0.012, 0.76]))
        bar.set_label("α", fontsize=8)
        bar.ax.tick_params(labelsize=7)
        fig.text(0.65, 0.93, f"α of the first {len(show)} 3×3 filters of {first}", fontsize=8)
    return fig


def results_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> str:
    """A Markdown table (display with IPython.display.Markdown); floats get 3 decimals, or
    scientific notation below 0.001 (a relative error of 7e-06 must not read 0.000)."""
    def cell(v):
        if isinstance(v, float):
            return f"{v:.3f}" if v == 0 or abs(v) >= 1e-3 else f"{v:.1e}"
        return "—" if v is None else str(v)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)
