"""Figures for episodes and Prototypical Networks (matplotlib only)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..types import Episode

WRAP_AT_WAYS = 10        # from this many ways on, class rows are wrapped side by side
MAX_IMAGES_WIDE = 20     # at most this many images across a wrapped grid


def episode_layout(n_way: int, images_per_class: int) -> tuple[int, int]:
    """(grid rows, classes per grid row) of ``episode_figure``.

    Below ``WRAP_AT_WAYS`` ways every class has its own row. From there on the class rows are
    placed side by side, at most ``MAX_IMAGES_WIDE`` images across, and spread evenly over the
    grid rows (20 ways, 1 shot, 3 queries: 4 rows of 5 classes; 30 ways: 6 rows of 5).
    """
    if n_way < WRAP_AT_WAYS:
        return n_way, 1
    per_row = max(1, min(n_way, MAX_IMAGES_WIDE // images_per_class))
    rows = -(-n_way // per_row)                                   # ceil
    return rows, -(-n_way // rows)


def episode_figure(episode: Episode, task: int = 0, max_query: int = 5):
    """A grid of task ``task``: per class, its support images then its query images.

    One class per row below ``WRAP_AT_WAYS`` ways; from 10 ways on, several classes share a row
    (``episode_layout``), so a 20- or 30-way episode stays readable.
    """
    import matplotlib.pyplot as plt

    sx, sy = episode.support_x[task, :, 0], episode.support_y[task]     # [N*K, H, W], [N*K]
    qx, qy = episode.query_x[task, :, 0], episode.query_y[task]
    n_way = int(sy.max()) + 1
    k_shot, n_query = len(sy) // n_way, min(max_query, len(qy) // n_way)
    cols = k_shot + n_query                                              # images per class
    rows, per_row = episode_layout(n_way, cols)
    # a narrow blank column between neighbouring classes of the same row
    ratios = ([1.0] * cols + [0.35]) * (per_row - 1) + [1.0] * cols
    size = 1.1 if per_row == 1 else 0.8                                  # inches per image
    fig, axes = plt.subplots(rows, len(ratios), squeeze=False,
                             figsize=(size * sum(ratios), size * rows + 0.5),
                             gridspec_kw={"width_ratios": ratios})
    for ax in axes.flat:
        ax.axis("off")
    for k in range(n_way):
        r, first = k // per_row, (k % per_row) * (cols + 1)
        row = [*sx[sy == k][:k_shot], *qx[qy == k][:n_query]]
        for j, img in enumerate(row):
            ax = axes[r, first + j]
            ax.axis("on")
            ax.imshow(img.cpu().numpy(), cmap="gray_r" if j < k_shot else "Blues", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title("support" if j < k_shot else "query", fontsize=8)
        axes[r, first].set_ylabel(f"class {k}", fontsize=8)
    fig.suptitle(f"{n_way}-way {k_shot}-shot episode ({n_query} of the queries shown)")
    fig.tight_layout()
    return fig


def project_2d(points: Tensor) -> Tensor:
    """Principal-component projection of [M, D] points to [M, 2] (torch.pca_lowrank)."""
    centred = points - points.mean(0, keepdim=True)
    _, _, v = torch.pca_lowrank(centred, q=2, center=False)
    return centred @ v[:, :2]


def embedding_figure(query_emb: Tensor, query_y: Tensor, protos: Tensor, title: str = ""):
    """Queries (dots) and prototypes (stars) of one task in the 2-D PCA plane of the embeddings."""
    import matplotlib.pyplot as plt

    xy = project_2d(torch.cat([query_emb, protos]).detach().cpu().double())
    q, c = xy[: len(query_emb)], xy[len(query_emb):]
    fig, ax = plt.subplots(figsize=(5, 4.5))
    cmap = plt.get_cmap("tab10")
    for k in range(len(protos)):
        pts = q[query_y.cpu() == k]
        ax.scatter(pts[:, 0], pts[:, 1], s=18, color=cmap(k % 10), alpha=0.7,
                   label=f"class {k}")
        ax.scatter(c[k, 0], c[k, 1], s=260, marker="*", color=cmap(k % 10),
                   edgecolor="black", linewidth=1.2)
    ax.set_title(title or "queries (dots) and prototypes c_k (stars), PCA of f_φ(x)")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def training_curves(history: dict[str, list[float]], smooth: int = 20):
    """Loss and accuracy per step, with a running mean over ``smooth`` steps."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(history), figsize=(5 * len(history), 3), squeeze=False)
    for ax, (name, values) in zip(axes[0], history.items()):
        v = torch.tensor(values, dtype=torch.float64)
        ax.plot(v, alpha=0.3, color="C0")
        if len(v) >= smooth:
            kernel = torch.ones(smooth, dtype=torch.float64) / smooth
            running = torch.conv1d(v[None, None], kernel[None, None])[0, 0]
            ax.plot(range(smooth - 1, len(v)), running, color="C0")
        ax.set_xlabel("training episode")
        ax.set_title(f"{name}: each step's episode (faint), mean of {smooth} (solid)",
                     fontsize=9)
    fig.tight_layout()
    return fig
