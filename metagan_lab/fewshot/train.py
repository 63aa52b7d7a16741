"""Training and evaluating Prototypical Networks on episodes (Adam, accuracy ± 95% CI).

Training runs on the library's one loop (``training.run_loop``); a loss that becomes NaN or
infinite raises ``checks.TrainingDiverged`` before the step is applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..checks import finite_loss, positive_int, positive_number
from ..data.images import ClassImages
from ..models.conv4 import Conv4, seeded
from ..stats import mean_ci95
from ..tasks.episodes import check_episode_shape, sample_episode
from ..training import LoopSpec, StepResult, resume_start, run_loop
from .protonet import accuracy, protonet_episode_logits, protonet_loss


@dataclass(frozen=True)
class ProtoNetConfig:
    n_way: int = 20            # training ways; Snell et al. train with more ways than they test
    k_shot: int = 1            # K: support images per class (train = test shots)
    n_query: int = 15          # Q: query images per class
    iterations: int = 2000     # episodes of training (one task per episode)
    lr: float = 1e-3           # Adam learning rate
    lr_halve_every: int = 2000  # halve the lr every this many episodes (Snell et al.)
    distance: str = "euclidean"  # or "cosine"
    hidden: int = 64           # Conv-4 filters
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_way", "k_shot", "n_query", "iterations", "lr_halve_every", "hidden"):
            positive_int(name, getattr(self, name))
        positive_number("lr", self.lr, "try 1e-3 (Adam, Snell et al.)")


@dataclass
class Checkpointing:
    """Save a training run every ``every`` episodes to ``path``: ``fields(encoder)`` (the
    checkpoint format, e.g. ``runs.kinds.protonet.checkpoint``) plus what resuming needs."""

    path: Path
    fields: Callable[[nn.Module], dict]
    every: int = 500


def protonet_step(encoder: nn.Module, optimizer: torch.optim.Optimizer, episode,
                  n_way: int, distance: str) -> tuple[float, float]:
    """One Adam step on the ProtoNet loss of an episode batch; returns (loss, accuracy)."""
    logits = protonet_episode_logits(encoder, episode.support_x, episode.support_y,
                                     episode.query_x, n_way, distance)
    loss = protonet_loss(logits, episode.query_y)
    finite_loss("the ProtoNet loss", loss.item(),
                f"lower the learning rate (now {optimizer.param_groups[0]['lr']:g})")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item(), accuracy(logits, episode.query_y).item()


def train_protonet(cfg: ProtoNetConfig, train: ClassImages, device: str | torch.device = "cpu",
                   progress: bool = True, callback=None, encoder: nn.Module | None = None,
                   checkpoint: Checkpointing | None = None, resume: dict | None = None
                   ) -> tuple[nn.Module, dict[str, list[float]]]:
    """Train a Conv-4 encoder with the ProtoNet loss. Returns (encoder, history).

    ``callback(step, loss, acc)`` (steps from 0) is called after every step (the notebooks' live
    plot); pass ``encoder`` to continue training one. Runs on ``training.run_loop``.
    ``checkpoint``: where and how often to save the run (with Adam's state, the schedule and the
    episode stream); ``resume``: such a checkpoint, from which the run goes on as if unbroken.
    """
    check_episode_shape(cfg.n_way, cfg.k_shot, cfg.n_query, train.n_classes, train.n_samples)
    device = torch.device(device)
    if encoder is None:
        encoder = seeded(lambda: Conv4(hidden=cfg.hidden), cfg.seed)
    encoder = encoder.to(device).train()
    optimizer = torch.optim.Adam(encoder.parameters(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, cfg.lr_halve_every, gamma=0.5)
    images = train.images.to(device)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    first = 1
    if resume is not None:
        first = resume_start(resume, cfg.iterations)
        encoder.load_state_dict(resume["state_dict"])
        optimizer.load_state_dict(resume["resume"]["optimizer"])
        schedule.load_state_dict(resume["resume"]["schedule"])
        gen.set_state(resume["resume"]["episodes"])

    def state(it: int) -> dict:
        return {**checkpoint.fields(encoder), "iteration": it, "resume": {
            "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
            "episodes": gen.get_state()}}

    def step(it: int) -> StepResult:
        episode = sample_episode(images, cfg.n_way, cfg.k_shot, cfg.n_query, 1, gen)
        loss, acc = protonet_step(encoder, optimizer, episode, cfg.n_way, cfg.distance)
        schedule.step()
        if callback is not None:
            callback(it - 1, loss, acc)
        return StepResult(loss, {"accuracy": acc})

    spec = LoopSpec(iterations=cfg.iterations, params=lambda: dict(encoder.named_parameters()),
                    desc="ProtoNet", fix=f"lower the learning rate (now {cfg.lr:g})",
                    progress=progress, start=first,
                    state=state if checkpoint is not None else None,
                    checkpoint=checkpoint.path if checkpoint is not None else None,
                    val_every=checkpoint.every if checkpoint is not None else 100)
    history = run_loop(step, spec)
    return encoder, {"loss": history["loss"], "accuracy": history.get("accuracy", [])}


@torch.no_grad()
def evaluate_protonet(encoder: nn.Module, test: ClassImages, n_way: int = 5, k_shot: int = 1,
                      n_query: int = 15, episodes: int = 600, distance: str = "euclidean",
                      seed: int = 1, device: str | torch.device = "cpu", batch: int = 20,
                      progress: bool = False) -> dict[str, float]:
    """Mean query accuracy ± 95% CI over ``episodes`` test episodes (BatchNorm in eval mode)."""
    from tqdm.auto import tqdm

    if episodes < 2:
        raise ValueError(f"episodes must be >= 2 for a confidence interval, got {episodes}")
    device = torch.device(device)
    encoder = encoder.to(device).eval()
    images = test.images.to(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    accs: list[float] = []
    with tqdm(total=episodes, desc="evaluate", disable=not progress) as bar:
        while len(accs) < episodes:
            t = min(batch, episodes - len(accs))
            ep = sample_episode(images, n_way, k_shot, n_query, t, gen)
            logits = protonet_episode_logits(encoder, ep.support_x, ep.support_y, ep.query_x,
                                             n_way, distance)                  # [T, N*Q, N]
            accs += (logits.argmax(-1) == ep.query_y).float().mean(-1).tolist()
            bar.update(t)
    mean, ci95 = mean_ci95(accs)
    return {"accuracy": mean, "ci95": ci95, "episodes": episodes, "n_way": n_way,
            "k_shot": k_shot}


def encoder_from_checkpoint(ckpt: dict, device: str | torch.device = "cpu") -> nn.Module:
    """The Conv-4 encoder f_φ of a ``kind='protonet'`` checkpoint, in eval mode (the format is
    ``runs.kinds.protonet.checkpoint``; load the file with ``runs.load`` or ``io.safe_load``)."""
    if not isinstance(ckpt, dict) or ckpt.get("kind") != "protonet":
        raise ValueError("not a ProtoNet checkpoint of metagan-lab (expected kind='protonet'); "
                         "make one with `metagan-lab train protonet`")
    encoder = Conv4(hidden=ckpt["config"]["hidden"])
    encoder.load_state_dict(ckpt["state_dict"])
    return encoder.to(device).eval()
