"""Generated initial parameters: a hypernetwork writes each new task's classifier head.

Instead of MAML's one learned initialisation θ shared by every task, a network that has seen
the task distribution generates the initialisation from the task's own support set (Qiao, Liu,
Shen & Yuille, CVPR 2018, "Few-shot image recognition by predicting parameters from
activations"; Rusu et al., ICLR 2019, LEO, adds inner steps from the generated parameters).

paper symbol                          code name
f_φ(x)                                model.encoder(x) → [B, D] (Conv-4)
c_k = (1/K) Σ_{y_i = k} f_φ(x_i)      class_embeddings(support_emb, support_y, n_way)
(w_k, b_k) = h_ψ(c_k)                 generate_head(model.hyper, c) → W [T, N, D], b [T, N]
logits = W f_φ(x̂) + b                 head_logits(z, W, b)
(W, b) ← (W, b) − α ∇ L_support       adapt_head(z_s, y_s, W, b, inner): k first-order steps,
                                      inner = head_steps(k, α)
the whole learner                     hypernet_logits(model, episode, inner) → [T, N*Q, N]

h_ψ is one MLP applied to each class embedding on its own, so the generator is permutation-
equivariant: relabelling the classes permutes the rows of (W, b) and the columns of the logits.
``generated_head`` returns (W, b) for a notebook; ``head_images`` shows each class's w_k as an
image, next to MAML's single learned head (``head_images(params["head.weight"])``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import positive_int
from ..fewshot.protonet import prototypes
from ..meta.functional import InnerLoop, inner_loop, per_task_losses
from ..models.conv4 import Conv4
from ..types import Episode


class HyperNet(nn.Module):
    """f_φ (Conv-4, ``hidden`` features) and h_ψ: D → ``hyper_hidden`` → D + 1 (ReLU MLP).

    The inner steps are not part of the network: pass ``head_steps(k, α)`` to the functions.
    """

    def __init__(self, hidden: int = 64, hyper_hidden: int = 128, in_channels: int = 1):
        super().__init__()
        positive_int("hidden", hidden)
        positive_int("hyper_hidden", hyper_hidden)
        self.encoder = Conv4(in_channels, hidden)
        self.hyper = nn.Sequential(nn.Linear(hidden, hyper_hidden), nn.ReLU(),
                                   nn.Linear(hyper_hidden, hidden + 1))


def head_steps(steps: int, lr: float) -> InnerLoop:
    """k first-order SGD steps of (W, b) ← (W, b) − α ∇ L_support (k = 0: none)."""
    return InnerLoop(lr=lr, steps=steps, first_order=True)


NO_STEPS = head_steps(0, 1.0)


def class_embeddings(support_emb: Tensor, support_y: Tensor, n_way: int) -> Tensor:
    """c_k = (1/K) Σ_{y_i = k} f_φ(x_i): the task encoder. [T, S, D], [T, S] → [T, N, D]."""
    return prototypes(support_emb, support_y, n_way)


def generate_head(hyper: nn.Module, c: Tensor) -> tuple[Tensor, Tensor]:
    """(w_k, b_k) = h_ψ(c_k) for each class: c [T, N, D] → W [T, N, D], b [T, N]."""
    out = hyper(c)                                                         # [T, N, D+1]
    if out.shape[-1] != c.shape[-1] + 1:
        raise ValueError(f"generate_head: h_ψ maps {c.shape[-1]} features to {out.shape[-1]}, "
                         f"but a head row needs D + 1 = {c.shape[-1] + 1} (w_k and b_k)")
    return out[..., :-1], out[..., -1]


def head_logits(z: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """logits = W z + b: z [T, B, D], W [T, N, D], b [T, N] → [T, B, N]."""
    return z @ weight.transpose(-1, -2) + bias[..., None, :]


def adapt_head(support_emb: Tensor, support_y: Tensor, weight: Tensor, bias: Tensor,
               inner: InnerLoop) -> tuple[Tensor, Tensor]:
    """k steps of (W, b) ← (W, b) − α ∇_{W,b} L_support_t(W, b) for every task t at once.

    L_support_t is task t's mean cross-entropy of ``head_logits`` on its support; the sum over
    tasks is differentiated, so each task's (W_t, b_t) gets its own gradient. First order: the
    gradients are constants, the query loss reaches ψ and φ through the generated (W, b).
    Works under ``torch.no_grad`` too (evaluation).
    """
    if inner.steps == 0:
        return weight, bias
    tracked = weight.requires_grad or bias.requires_grad
    params = {"weight": weight, "bias": bias}
    if not tracked:
        params = {n: p.detach().requires_grad_() for n, p in params.items()}

    def support_loss(p: dict[str, Tensor]) -> Tensor:
        logits = head_logits(support_emb, p["weight"], p["bias"])         # [T, S, N]
        return per_task_losses(logits, support_y, inner.loss).sum()

    with torch.enable_grad():
        new = inner_loop(support_loss, params, inner)
    if not tracked:
        return new["weight"].detach(), new["bias"].detach()
    return new["weight"], new["bias"]


def _n_way(support_y: Tensor, n_way: int | None) -> int:
    return int(support_y.max()) + 1 if n_way is None else n_way


def embed_episode(encoder: nn.Module, support_x: Tensor, query_x: Tensor) -> tuple[Tensor, Tensor]:
    """f_φ of every image in one pass (one BatchNorm batch) → [T, S, D] and [T, Q', D]."""
    t, s, q = support_x.shape[0], support_x.shape[1], query_x.shape[1]
    emb = encoder(torch.cat([support_x.flatten(0, 1), query_x.flatten(0, 1)]))
    return emb[: t * s].view(t, s, -1), emb[t * s:].view(t, q, -1)


def generated_head(model: HyperNet, support_x: Tensor, support_y: Tensor,
                   inner: InnerLoop = NO_STEPS, n_way: int | None = None
                   ) -> tuple[Tensor, Tensor]:
    """The head a task gets: (W [T, N, D], b [T, N]) = h_ψ(c_k), then ``inner`` steps (none by
    default: the generated initialisation itself). N defaults to max(support_y) + 1."""
    support_emb = model.encoder(support_x.flatten(0, 1)).view(*support_x.shape[:2], -1)
    n = _n_way(support_y, n_way)
    weight, bias = generate_head(model.hyper, class_embeddings(support_emb, support_y, n))
    return adapt_head(support_emb, support_y, weight, bias, inner)


def hypernet_logits(model: HyperNet, episode: Episode, inner: InnerLoop = NO_STEPS,
                    n_way: int | None = None) -> Tensor:
    """Query logits [T, N*Q, N] = W' f_φ(x̂) + b', (W', b') = the generated head after the
    ``inner`` steps (all images through f_φ in one pass)."""
    support_emb, query_emb = embed_episode(model.encoder, episode.support_x, episode.query_x)
    n = _n_way(episode.support_y, n_way)
    weight, bias = generate_head(model.hyper, class_embeddings(support_emb, episode.support_y, n))
    weight, bias = adapt_head(support_emb, episode.support_y, weight, bias, inner)
    return head_logits(query_emb, weight, bias)


def hypernet_loss(model: HyperNet, episode: Episode,
                  inner: InnerLoop = NO_STEPS) -> tuple[Tensor, Tensor]:
    """Mean query cross-entropy of ``hypernet_logits``; returns (loss, query accuracy)."""
    logits = hypernet_logits(model, episode, inner)                        # [T, N*Q, N]
    loss = F.cross_entropy(logits.flatten(0, 1), episode.query_y.flatten())
    return loss, (logits.argmax(-1) == episode.query_y).float().mean()


def head_images(weight: Tensor, side: int | None = None) -> Tensor:
    """Each class's weight vector w_k as a ``side`` × ``side`` image: [..., N, D] →
    [..., N, side, side] (side = √D by default; D = 64 gives 8 × 8). Works for a generated head
    [T, N, D] and for MAML's single learned ``params["head.weight"]`` [N, D] alike."""
    d = weight.shape[-1]
    side = math.isqrt(d) if side is None else side
    positive_int("side", side)
    if side * side != d:
        raise ValueError(f"head_images: D = {d} features do not fill a square image; pass side "
                         f"with side² = D")
    return weight.detach().reshape(*weight.shape[:-1], side, side)
