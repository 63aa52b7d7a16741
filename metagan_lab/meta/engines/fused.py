"""The per-task loop with Conv-4's BatchNorm, ReLU and max-pool fused by hand (``path="fused"``).

Same equation, same numbers as ``path="loop"`` (one task at a time, each task's share
back-propagated at once, so only one task's graph is alive), restructured for one CPU core.
Conv-4 (batch statistics, ReLU, 2×2 max-pool) is computed with mathematically identical changes:

* **Layer 1 as a GEMM with BatchNorm folded in.** The first conv sees the images, which need no
  gradient, so it is linear in a task's fixed 3×3 patches P [M, 9·C_in]. BatchNorm's batch mean
  and variance of z = P Wᵀ + b are then p̄ Wᵀ + b and diag(W Σ_P Wᵀ), with p̄ and Σ_P the patches'
  mean and covariance (computed once per meta-batch), so y = γ (z − μ)/σ + β = P W̃ᵀ + b̃ with
  W̃ = diag(γ/σ) W and b̃ = β − W̃ p̄. The 64-channel 28×28 maps are written once, by a GEMM into a
  reused buffer, and pooled; BatchNorm's statistics, backward and double backward at layer 1 are
  9×9 matrix algebra that autograd differentiates.
* **Max-pool before ReLU.** relu(maxpool(y)) = maxpool(relu(y)) (ReLU is monotone: the same
  element wins every window, ties included), so the ReLU runs on a quarter of the elements.
* **Layers 2–4: BatchNorm + max-pool + ReLU as one autograd function** with hand-written backward
  and double backward (``_Block``, ``_BlockBackward``), in channels-last memory, where PyTorch's
  CPU max-pool is ~10× faster than in NCHW. The batch statistics are two-pass sums (PyTorch's
  channels-last BatchNorm kernel is ~25× less accurate in float32, which second-order MAML
  amplifies to ~1e-2 meta-gradient errors).
* **Conv biases are left out of the convolutions**: BatchNorm's batch mean cancels them. Each
  stays in the graph as a ``(b − b)`` term, with its exact meta-gradient, 0 (the loop's is
  rounding noise, ~1e-8 in float32).

Convolutions are PyTorch's (oneDNN, channels-last) with their own double backward; the inner loop
is ``functional.inner_loop`` (so α, k, first order, Adam, Meta-SGD, ANIL behave as everywhere).
Temporaries of the size of a layer's activations go to work buffers shared by the tasks of one
call (``_buffer``, ``_Patches.buffer``): a fresh multi-megabyte tensor costs page faults on every
task (the loop takes ~150k minor faults per meta-iteration, this path ~15k).

Exactness: ``tests/meta/test_fused_engine.py`` pins the meta-gradient to the plain per-task loop at
1e-10 in float64 (MAML, FOMAML, Meta-SGD θ and α, ANIL, tied max-pool windows). In float32 a
task's meta-gradient is as close to float64 as the loop's (median ~2e-6 on Omniglot), but oneDNN's
channels-last convolutions round ~2× more than its NCHW ones, so a near-tied max-pool window
(a gap of ~1e-6) flips to the other element somewhat more often: ~5% of tasks against ~1% for the
loop, each such task off by ~1e-3–1e-2 (both are valid subgradients; ``bench_vs_higher.py``
reports the count). ``scripts/bench_vs_higher.py`` times it against ``higher`` and a hand-written
loop. Nothing is compiled: the first call costs what every call costs. Other models (tanh,
average pooling, running statistics, MLPs) are refused: use ``path="loop"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd import Function
from torch.autograd.function import once_differentiable

from ...models import Conv4
from ...types import Episode, Params
from ..functional import InnerLoop, inner_loop, per_task_losses

CL = torch.channels_last
_aten = torch.ops.aten
_POOL = ([2, 2], [2, 2], [0, 0], [1, 1], False)      # kernel, stride, padding, dilation, ceil


def supports_fused(model: nn.Module) -> bool:
    """Conv-4 with 3×3 convs (padding 1), batch statistics only, ReLU and 2×2 max-pools."""
    if not isinstance(model, Conv4):
        return False
    for conv, bn, act, pool in model.encoder:
        if (conv.kernel_size != (3, 3) or conv.padding != (1, 1) or conv.stride != (1, 1)
                or conv.dilation != (1, 1) or conv.groups != 1 or conv.bias is None
                or not isinstance(bn, nn.BatchNorm2d) or bn.track_running_stats or not bn.affine
                or not isinstance(act, nn.ReLU) or not isinstance(pool, nn.MaxPool2d)):
            return False
        if (pool.kernel_size, pool.stride, pool.padding, pool.dilation, pool.ceil_mode) not in (
                (2, 2, 0, 1, False), ((2, 2), (2, 2), 0, 1, False)):
            return False
    return True


def _rows(t: Tensor) -> Tensor:
    """[B, C, H, W] → its channels-last storage as a [B·H·W, C] matrix (a view if channels-last)."""
    return t.contiguous(memory_format=CL).permute(0, 2, 3, 1).reshape(-1, t.shape[1])


def _image(rows: Tensor, shape: torch.Size) -> Tensor:
    """[B·H·W, C] → a channels-last [B, C, H, W] view."""
    b, c, h, w = shape
    return rows.view(b, h, w, c).permute(0, 3, 1, 2)


# ---------------------------------------------------------------- layers 2–4: BN + pool + ReLU

def _buffer(work: dict, name: str, like: Tensor) -> Tensor:
    """A work buffer shaped like ``like``, shared by every task of one engine call: no fresh
    allocation (and page faults) per task and layer for a temporary."""
    key = (name, like.shape, like.dtype)
    buf = work.get(key)
    if buf is None:
        buf = work[key] = torch.empty_like(like, memory_format=torch.contiguous_format)
    return buf


def _block_grads(gh: Tensor, gamma: Tensor, d: Tensor, r: Tensor, idx: Tensor, h: Tensor,
                 shape: torch.Size, work: dict | None = None) -> tuple[Tensor, ...]:
    """Backward of h = relu(maxpool(γ (z − μ) r + β)): (G_y, W, Σ G_y d, G_z, g_γ, g_β), where
    G_y is the gradient at BatchNorm's output and G_z = γ r W. With ``work`` (nothing will
    differentiate this backward), G_y and W live in work buffers."""
    m = d.shape[0]
    gp = _aten.threshold_backward(gh, h, 0)
    like = _image(d, shape)
    if work is None:
        gy = _rows(_aten.max_pool2d_with_indices_backward(gp, like, *_POOL, idx))
        g_beta = gy.sum(0)
        gd = (gy * d).sum(0)
        w = torch.addcmul(gy - g_beta / m, d, r * r * gd / m, value=-1)
    else:
        gy = _buffer(work, "gy", d)
        _aten.max_pool2d_with_indices_backward.grad_input(gp, like, *_POOL, idx,
                                                         grad_input=_image(gy, shape))
        g_beta = gy.sum(0)
        gd = torch.mul(gy, d, out=_buffer(work, "gyd", d)).sum(0)
        w = gy.sub_(g_beta / m).addcmul_(d, r * r * gd / m, value=-1)
    return gy, w, gd, w * (gamma * r), r * gd, g_beta


class _BlockBackward(Function):
    """(G_h; z, γ) ↦ (G_z, g_γ, g_β), differentiable once more (the double backward of MAML)."""

    @staticmethod
    def forward(ctx, gh, z, gamma, d, r, idx, h, shape):
        # z (the conv output) is an input only so that the double backward reaches it; d, r are
        # its centred values and 1/σ, treated as functions of z in backward
        gy, w, gd, gz, g_gamma, g_beta = _block_grads(gh, gamma, d, r, idx, h, shape)
        ctx.shape = shape
        ctx.save_for_backward(gy, w, gd, gamma, d, r, idx, h)
        return _image(gz, shape), g_gamma, g_beta

    @staticmethod
    @once_differentiable
    def backward(ctx, u_z, u_gamma, u_beta):
        gy, w, gd, gamma, d, r, idx, h = ctx.saved_tensors
        shape = ctx.shape
        m = d.shape[0]
        u_z = torch.zeros_like(d) if u_z is None else _rows(u_z)
        u_gamma = torch.zeros_like(r) if u_gamma is None else u_gamma
        u_beta = torch.zeros_like(r) if u_beta is None else u_beta
        v = u_z * (gamma * r)
        mean_v = v.sum(0) / m
        mean_vx = r * (v * d).sum(0) / m                   # mean(v x̂), x̂ = d r
        grad_gy = torch.addcmul(v + (u_beta - mean_v), d, r * (u_gamma - mean_vx))
        t = (u_z * w).sum(0)
        grad_gamma = r * t
        a = torch.addcmul(gy * (u_gamma - mean_vx), v, r * gd / m, value=-1)   # ∂/∂x̂
        mean_a = a.sum(0) / m
        mean_ad = (a * d).sum(0) / m
        r3 = r * r * r
        grad_z = torch.addcmul(a * r - r * mean_a, d, r3 * mean_ad + gamma * t * r3 / m, value=-1)
        gathered = _image(grad_gy, shape).flatten(2).gather(2, idx.flatten(2)).view_as(h)
        return (_aten.threshold_backward(gathered, h, 0), _image(grad_z, shape), grad_gamma,
                None, None, None, None, None)


class _Block(Function):
    """h = relu(maxpool₂ₓ₂(BatchNorm_batch-stats(z; γ, β))), channels-last, two-pass statistics;
    temporaries in ``work`` buffers."""

    @staticmethod
    def forward(ctx, z, gamma, beta, eps, work):
        zr = _rows(z)
        m = zr.shape[0]
        d = zr - zr.sum(0) / m
        r = (torch.mul(d, d, out=_buffer(work, "y", d)).sum(0) / m + eps).rsqrt()
        y = torch.addcmul(beta, d, gamma * r, out=_buffer(work, "y", d))
        pooled, idx = F.max_pool2d_with_indices(_image(y, z.shape), 2)
        h = pooled.relu_()
        ctx.shape, ctx.work = z.shape, work
        ctx.save_for_backward(z, gamma, d, r, idx, h)
        return h

    @staticmethod
    def backward(ctx, gh):
        z, gamma, d, r, idx, h = ctx.saved_tensors
        if torch.is_grad_enabled():                        # create_graph: second-order MAML
            gz, g_gamma, g_beta = _BlockBackward.apply(gh, z, gamma, d, r, idx, h, ctx.shape)
            return gz, g_gamma, g_beta, None, None
        *_, gz, g_gamma, g_beta = _block_grads(gh, gamma, d, r, idx, h, ctx.shape, ctx.work)
        return _image(gz, ctx.shape), g_gamma, g_beta, None, None


# ---------------------------------------------------------------- layer 1: patches · folded BN

@dataclass
class _Patches:
    """One task's fixed layer-1 inputs: P1 = [patches − c, 1] [M, k+1] (a transposed view; c the
    task's mean pixel, which BatchNorm cancels), the mean p̄ [k] and covariance Σ_P [k, k] of
    the shifted patches."""

    p1: Tensor
    mean: Tensor
    cov: Tensor
    shape: tuple[int, int, int]            # B, H, W
    scratch: dict

    def buffer(self, name: str, channels: int) -> Tensor:
        """A [M, channels] work buffer shared by every task of one engine call (no fresh 5 MB
        allocation, and page faults, per task)."""
        key = (name, self.p1.shape[0], channels)
        buf = self.scratch.get(key)
        if buf is None:
            buf = self.scratch[key] = self.p1.new_empty(self.p1.shape[0], channels)
        return buf


def _pool_shape(x: _Patches, channels: int) -> torch.Size:
    b, h, w = x.shape
    return torch.Size((b, channels, h, w))


def _layer1_grad(gh: Tensor, h: Tensor, idx: Tensor, x: _Patches) -> Tensor:
    """∂/∂A of Σ G_h · relu(maxpool(P1 A)): P1ᵀ G_y, G_y scattered into a reused buffer."""
    c = h.shape[1]
    gp = _aten.threshold_backward(gh, h, 0)
    gy = _image(x.buffer("g", c), _pool_shape(x, c))
    like = _image(x.buffer("y", c), _pool_shape(x, c))
    _aten.max_pool2d_with_indices_backward.grad_input(gp, like, *_POOL, idx, grad_input=gy)
    return x.p1.t() @ _rows(gy)


class _Layer1Backward(Function):
    """G_h ↦ ∂/∂A (linear in G_h: P1 and the pooling's argmax are constants)."""

    @staticmethod
    def forward(ctx, gh, h, idx, x):
        ctx.x = x
        ctx.save_for_backward(h, idx)
        return _layer1_grad(gh, h, idx, x)

    @staticmethod
    @once_differentiable
    def backward(ctx, u):
        h, idx = ctx.saved_tensors
        x = ctx.x
        c = h.shape[1]
        yu = _image(torch.mm(x.p1, u, out=x.buffer("y", c)), _pool_shape(x, c))
        gathered = yu.flatten(2).gather(2, idx.flatten(2)).view_as(h)
        return _aten.threshold_backward(gathered, h, 0), None, None, None


class _Layer1(Function):
    """h = relu(maxpool₂ₓ₂(P1 A)) with the [M, C] pre-pool map in a reused buffer."""

    @staticmethod
    def forward(ctx, a, x):
        c = a.shape[1]
        y = torch.mm(x.p1, a, out=x.buffer("y", c))
        pooled, idx = F.max_pool2d_with_indices(_image(y, _pool_shape(x, c)), 2)
        h = pooled.relu_()
        ctx.x = x
        ctx.save_for_backward(h, idx)
        return h

    @staticmethod
    def backward(ctx, gh):
        h, idx = ctx.saved_tensors
        if torch.is_grad_enabled():
            return _Layer1Backward.apply(gh, h, idx, ctx.x), None
        return _layer1_grad(gh, h, idx, ctx.x), None


def _layer1(model: Conv4, params: Params, x: _Patches) -> Tensor:
    """Layer 1 with BatchNorm folded: A = [W̃ᵀ; b̃] with W̃ = diag(γ/σ) W and
    b̃ = β − W̃ p̄ − (γ/σ)(b − b): the conv bias b cancels against the batch mean, written out so
    that it stays in the graph with its exact meta-gradient, 0."""
    bn = model.encoder[0][1]
    w, b = params["encoder.0.0.weight"], params["encoder.0.0.bias"]
    w = w.reshape(w.shape[0], -1)                                     # [C, k]
    var = ((w @ x.cov) * w).sum(1)                                    # diag(W Σ_P Wᵀ)
    s = params["encoder.0.1.weight"] * (var + bn.eps).rsqrt()         # γ/σ
    wt = w * s[:, None]
    bt = params["encoder.0.1.bias"] - wt @ x.mean - s * (b - b)
    return _Layer1.apply(torch.cat([wt.t(), bt[None]], 0), x)


def patches(images: Tensor, scratch: dict | None = None) -> list[_Patches]:
    """Each task's layer-1 inputs from images [T, B, C, H, W]: the [patches, 1] matrix P1
    [B·H·W, 9C+1] (stored transposed, one contiguous row per patch entry: nine strided copies)
    and the patches' mean and covariance.

    Second-order MAML in float32 is sensitive to rounding at layer 1: it moves near-tied max-pool
    windows, and a window that flips changes a task's meta-gradient by ~1e-2. Two things keep
    layer 1 as accurate as PyTorch's conv + BatchNorm (or more): the pixels are shifted by the
    task's mean (BatchNorm is shift invariant), so P1 W̃ᵀ + b̃ does not cancel a large mean as a
    conv of [0, 1] images followed by z − μ does; and the statistics are summed in float64 (a
    float32 GEMM over a 784-pixel image is ~1e-6 off, PyTorch's BatchNorm ~1e-7).
    """
    n_tasks, b, c, h, w = images.shape
    k, m = 9 * c, b * h * w
    shift = images.mean((1, 2, 3, 4)).view(n_tasks, 1, 1, 1, 1)
    padded = F.pad(images, (1, 1, 1, 1)) - shift                     # zero padding, then shifted
    rows = images.new_empty(n_tasks, k + 1, b, h, w)                # P1ᵀ per task
    for ci in range(c):
        for i in range(3):
            for j in range(3):
                rows[:, 9 * ci + 3 * i + j].copy_(padded[:, :, ci, i:i + h, j:j + w])
    rows[:, k] = 1
    rows = rows.view(n_tasks, k + 1, m)
    second = rows.new_empty(n_tasks, k + 1, k + 1, dtype=torch.float64)   # E[p1 p1ᵀ]
    exact = rows.new_empty(k + 1, m, dtype=torch.float64)            # one task at a time: cached
    for t in range(n_tasks):
        exact.copy_(rows[t])
        torch.mm(exact, exact.t(), out=second[t])
    second /= m
    mean = second[:, :k, k]
    cov = (second[:, :k, :k] - mean[:, :, None] * mean[:, None, :]).to(images.dtype)
    mean = mean.to(images.dtype)
    scratch = {} if scratch is None else scratch
    return [_Patches(rows[t].t(), mean[t], cov[t], (b, h, w), scratch) for t in range(n_tasks)]


def fused_forward(model: Conv4, params: Params, x: _Patches) -> Tensor:
    """f_θ(images of one task) [B, out] from the task's ``_Patches``; same function as
    ``functional_call(model, params, (images,))``."""
    h = _layer1(model, params, x)
    for i, (_, bn, _, _) in enumerate(model.encoder):
        if i == 0:
            continue
        b = params[f"encoder.{i}.0.bias"]                 # cancelled by BatchNorm's mean
        z = F.conv2d(h, params[f"encoder.{i}.0.weight"], None, padding=1)
        h = _Block.apply(z, params[f"encoder.{i}.1.weight"],
                         params[f"encoder.{i}.1.bias"] + (b - b), bn.eps, x.scratch)
    z = h.flatten(1)
    if model.head is None:
        return z
    return F.linear(z, params["head.weight"], params["head.bias"])


def _check(model: nn.Module) -> None:
    if not supports_fused(model):
        raise ValueError(f"path='fused' supports Conv4 with ReLU, 2×2 max-pools and batch "
                         f"statistics only (track_running_stats=False), not this "
                         f"{type(model).__name__}; use path='loop'")


class FusedEngine:
    """The per-task loop engine on ``fused_forward``: same meta-gradient, less time per task."""

    name = "fused"

    def _adapt(self, model: Conv4, params: Params, x: _Patches, y: Tensor,
               inner: InnerLoop) -> Params:
        return inner_loop(lambda p: inner.loss(fused_forward(model, p, x), y), params, inner)

    def predictions(self, model: nn.Module, params: Params, episode: Episode,
                    inner: InnerLoop) -> Tensor:
        _check(model)
        scratch: dict = {}
        support, query = patches(episode.support_x, scratch), patches(episode.query_x, scratch)
        return torch.stack([fused_forward(model, self._adapt(model, params, s, y, inner), q)
                            for s, y, q in zip(support, episode.support_y, query)])

    def adapt(self, model: nn.Module, params: Params, support_x: Tensor, support_y: Tensor,
              inner: InnerLoop) -> list[Params]:
        _check(model)
        return [self._adapt(model, params, s, y, inner)
                for s, y in zip(patches(support_x), support_y)]

    def outer_backward(self, model: nn.Module, params: Params, episode: Episode,
                       inner: InnerLoop, scale: float) -> tuple[Tensor, Tensor]:
        _check(model)
        scratch: dict = {}
        support, query = patches(episode.support_x, scratch), patches(episode.query_x, scratch)
        losses, accs = [], []
        for s, y_s, q, y_q in zip(support, episode.support_y, query, episode.query_y):
            pred = fused_forward(model, self._adapt(model, params, s, y_s, inner), q)
            loss = per_task_losses(pred[None], y_q[None], inner.loss)[0]
            (scale * loss).backward()                                      # frees task i's graph
            losses.append(loss.detach())
            accs.append((pred.argmax(-1) == y_q).float().mean().detach())
        return scale * torch.stack(losses).sum(), torch.stack(accs)
