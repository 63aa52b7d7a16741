"""Figures of test-time adaptation: accuracy and loss vs inner steps, and one task's predictions."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from ..meta.adaptation import AdaptationTrace
from ..types import Episode

RIGHT, WRONG = np.array([0.15, 0.65, 0.2]), np.array([0.85, 0.1, 0.1])


def prediction_mosaic(episode: Episode, predictions: Tensor, task: int = 0,
                      pad: int = 3) -> np.ndarray:
    """An RGB image: row 0 the support images (one column per class, K=1 shown), then each
    class's query images below it, framed green when predicted right, red when wrong."""
    sx, qx = episode.support_x[task, :, 0], episode.query_x[task, :, 0]   # [N*K,H,W] [N*Q,H,W]
    sy, qy = episode.support_y[task], episode.query_y[task]
    n = int(sy.max()) + 1
    q = len(qy) // n
    h, w = sx.shape[-2:]
    mosaic = np.ones(((q + 1) * (h + 2 * pad), n * (w + 2 * pad), 3))
    for c in range(n):
        x0 = c * (w + 2 * pad)
        shot = sx[(sy == c).nonzero()[0, 0]].cpu().numpy()
        mosaic[pad:pad + h, x0 + pad:x0 + pad + w] = (1 - shot)[..., None]
        for j, i in enumerate((qy == c).nonzero().flatten().tolist()):
            y0 = (j + 1) * (h + 2 * pad)
            colour = RIGHT if int(predictions[i]) == c else WRONG
            mosaic[y0:y0 + h + 2 * pad, x0:x0 + w + 2 * pad] = colour
            query = 1 - qx[i].cpu().numpy()
            mosaic[y0 + pad:y0 + pad + h, x0 + pad:x0 + pad + w] = query[..., None]
    return mosaic


def adaptation_figure(trace: AdaptationTrace, episode: Episode, steps: int, alpha_label: str,
                      reference: AdaptationTrace | None = None, reference_label: str = "",
                      fig=None):
    """Three panels: query accuracy vs step, query (and support) loss vs step, and the adapted
    predictions of task 0 after ``steps`` steps. Pass ``fig`` to redraw into the same figure."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    if fig is None:
        fig = Figure(figsize=(12, 3.6), layout="constrained")
    fig.clear()
    ax_acc, ax_loss, ax_img = fig.subplots(1, 3, width_ratios=(1, 1, 1.1))
    x = np.arange(steps + 1)
    n_way = int(episode.query_y.max()) + 1
    if reference is not None and reference.steps >= steps:
        ax_acc.plot(x, reference.accuracy[:, : steps + 1].mean(0), "--", color="grey",
                    label=reference_label)
        ax_loss.plot(x, reference.loss[:, : steps + 1].mean(0), "--", color="grey",
                     label=reference_label)
    acc = trace.accuracy[:, : steps + 1]
    ax_acc.plot(x, acc.mean(0), "o-", color="C0", label=alpha_label)
    ax_acc.fill_between(x, acc.min(0).values, acc.max(0).values, color="C0", alpha=0.15,
                        label="range over tasks")
    ax_acc.axhline(1 / n_way, color="k", lw=0.8, ls=":", label=f"chance (1/{n_way})")
    ax_acc.set(xlabel="inner step j", ylabel="query accuracy", ylim=(0, 1.02),
               title="accuracy after j steps")
    ax_acc.legend(fontsize=8, loc="lower right")
    loss = trace.loss[:, : steps + 1].mean(0).clamp(max=1e6)
    ax_loss.plot(x, loss, "o-", color="C3", label=f"query, {alpha_label}")
    ax_loss.plot(x, trace.support_loss[:, : steps + 1].mean(0).clamp(max=1e6), "s:", color="C1",
                 label="support")
    ax_loss.set(xlabel="inner step j", ylabel="cross-entropy (log scale)", yscale="log",
                title="loss after j steps")
    ax_loss.legend(fontsize=8)
    right = float(trace.accuracy[0, steps])
    ax_img.imshow(prediction_mosaic(episode, trace.predictions[0, steps]))
    ax_img.set_axis_off()
    ax_img.set_title(f"task 1 after {steps} step(s): {right:.0%} of queries right\n"
                     "top: support shots · below: queries (green right, red wrong)", fontsize=9)
    for ax in (ax_acc, ax_loss):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig
