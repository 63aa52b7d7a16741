"""Glyphs: a procedural, Omniglot-like data set that needs no download (the offline default).

Each class is 2–4 random pen strokes (quadratic Bézier curves); each sample re-draws them with
jittered control points, a small random rotation/scale/shift and a varying pen width, rendered
anti-aliased at 28×28 (stroke = 255, background = 0). Fully determined by the seed.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .images import ClassImages

CURVE_POINTS = 8  # points per Bézier stroke when rendering (7 segments)


def _bezier(ctrl: Tensor, n: int = CURVE_POINTS) -> Tensor:
    """ctrl [..., 3, 2] → points [..., n, 2] on the quadratic Bézier curve."""
    t = torch.linspace(0, 1, n, dtype=ctrl.dtype)[:, None]              # [n, 1]
    p0, p1, p2 = ctrl[..., 0:1, :], ctrl[..., 1:2, :], ctrl[..., 2:3, :]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def render_strokes(points: Tensor, mask: Tensor, width: Tensor, size: int = 28) -> Tensor:
    """Anti-aliased polylines → images. points [B, S, P, 2] in [0, 1], mask [B, S], width [B].

    Intensity = clamp(w + ½ − d, 0, 1), d the distance in pixels from a pixel centre to the
    nearest segment. Returns float [B, size, size] in [0, 1].
    """
    a, b = points[:, :, :-1] * size, points[:, :, 1:] * size             # [B, S, P-1, 2]
    seg_mask = mask[:, :, None].expand(-1, -1, points.shape[2] - 1)      # [B, S, P-1]
    a, b, seg_mask = a.flatten(1, 2), b.flatten(1, 2), seg_mask.flatten(1)  # G = S*(P-1)
    coords = torch.arange(size, dtype=points.dtype) + 0.5
    py = coords.repeat_interleave(size)[None]                            # [1, HW]
    px = coords.repeat(size)[None]
    d2 = torch.full((points.shape[0], size * size), float("inf"), dtype=points.dtype)
    for j in range(a.shape[1]):  # one segment at a time keeps every tensor [B, HW]
        ax, ay = a[:, j, 0:1], a[:, j, 1:2]
        abx, aby = b[:, j, 0:1] - ax, b[:, j, 1:2] - ay
        apx, apy = px - ax, py - ay
        t = ((apx * abx + apy * aby) / (abx * abx + aby * aby).clamp_min(1e-9)).clamp_(0, 1)
        dist2 = (apx - t * abx).square_() + (apy - t * aby).square_()
        dist2[~seg_mask[:, j]] = float("inf")
        torch.minimum(d2, dist2, out=d2)
    img = (width[:, None] + 0.5 - d2.sqrt()).clamp(0, 1)
    return img.view(-1, size, size)


def make_glyphs(n_classes: int = 1623, n_samples: int = 20, seed: int = 0, size: int = 28,
                chunk: int = 4096) -> ClassImages:
    """Generate the glyphs data set: uint8 [n_classes, n_samples, size, size]."""
    if n_classes <= 0 or n_samples <= 0:
        raise ValueError(f"n_classes and n_samples must be positive, got {n_classes}, {n_samples}")
    g = torch.Generator().manual_seed(seed)
    n_strokes = torch.randint(2, 5, (n_classes,), generator=g)           # 2–4 strokes
    ctrl = 0.15 + 0.7 * torch.rand(n_classes, 4, 3, 2, generator=g)      # [C, S=4, 3, 2]
    mask = torch.arange(4)[None] < n_strokes[:, None]                    # [C, 4]
    # per-sample jitter: control points, rotation, scale, shift, pen width
    n = n_classes * n_samples
    jitter = 0.035 * torch.randn(n, 4, 3, 2, generator=g)
    angle = (torch.rand(n, generator=g) - 0.5) * math.radians(20)
    scale = 0.9 + 0.2 * torch.rand(n, generator=g)
    shift = (torch.rand(n, 2, generator=g) - 0.5) * 0.08
    width = 0.6 + 0.5 * torch.rand(n, generator=g)
    cls = torch.arange(n_classes).repeat_interleave(n_samples)
    pts = ctrl[cls] + jitter - 0.5                                       # centred, [n, 4, 3, 2]
    cos, sin = torch.cos(angle), torch.sin(angle)
    rot = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    pts = torch.einsum("nij,nscj->nsci", rot * scale[:, None, None], pts) + 0.5
    pts = pts + shift[:, None, None]
    curves = _bezier(pts)                                                # [n, 4, P, 2]
    out = torch.empty(n, size, size, dtype=torch.uint8)
    for i in range(0, n, chunk):
        img = render_strokes(curves[i : i + chunk], mask[cls[i : i + chunk]],
                             width[i : i + chunk], size)
        out[i : i + chunk] = (img * 255).round().to(torch.uint8)
    names = tuple(f"glyph{c:04d}" for c in range(n_classes))
    meta = {"seed": seed, "n_classes": n_classes, "n_samples": n_samples, "size": size}
    return ClassImages(out.view(n_classes, n_samples, size, size), names, "glyphs", meta)
