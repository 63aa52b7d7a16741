"""Meta-training and meta-testing for MAML, first-order MAML, Meta-SGD, ANIL and Reptile.

One loop for all five: sample a meta-batch of tasks, take an outer step (Adam on the outer loss
for MAML/FOMAML/ANIL/Meta-SGD; ``reptile_step`` for Reptile), validate every ``val_every``
iterations, and write a checkpoint (atomically) after each finite validation, so that a loss that
turns NaN or infinite leaves the last good one in place. Test accuracy is the mean query
accuracy ± 95% CI over ≥ 600 new tasks, each adapted with ``eval_inner_steps`` steps.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.images import ClassImages
from ..io import atomic_save
from ..models import Conv4, params_of, seeded
from ..stats import mean_ci95
from ..tasks.episodes import EpisodeSampler, check_episode_shape
from ..types import Episode, Params
from .batched import per_task_losses
from .functional import INNER_OPTIMIZERS, check_inner_lr, check_inner_steps
from .maml import PATHS, adapted_predictions, head_names
from .meta_sgd import init_alphas
from .reptile import reptile_step

ALGORITHMS = ("maml", "fomaml", "metasgd", "anil", "reptile")


@dataclass(frozen=True)
class MetaConfig:
    algorithm: str = "maml"    # maml | fomaml | metasgd | anil | reptile
    n_way: int = 5             # N
    k_shot: int = 1            # K support images per class (at validation and test)
    train_shots: int | None = None  # K while meta-training (None: k_shot; Reptile's paper: 10)
    n_query: int = 5           # Q query images per class during meta-training
    meta_batch: int = 32       # T tasks per outer step (Finn et al.: 32 for 5-way Omniglot)
    inner_lr: float = 0.4      # α (Meta-SGD: α's initial value)
    inner_steps: int = 1       # k inner steps during meta-training
    inner_optimizer: str = "sgd"   # sgd | adam (β1 = 0, as in Reptile's experiments)
    eval_inner_steps: int = 3  # k at meta-test (Finn et al.: 3 for Omniglot)
    meta_lr: float = 1e-3      # β, Adam's step on the outer loss (unused by Reptile)
    alpha_lr: float | None = None  # Meta-SGD: Adam's step for α (None: the same as meta_lr)
    epsilon: float = 1.0       # Reptile's ε, annealed linearly to 0 over the iterations
    iterations: int = 1000     # outer steps
    max_seconds: float | None = None  # stop meta-training after this wall time (None: no limit)
    val_every: int = 100       # validate (and checkpoint) every this many iterations
    val_tasks: int = 100       # tasks per validation
    test_tasks: int = 600      # tasks for the final accuracy ± 95% CI
    eval_query: int = 15       # query images per class at validation and test
    hidden: int = 64           # Conv-4 filters
    path: str = "auto"         # auto | batched | compiled | loop (same numbers; maml.choose_path)
    seed: int = 0

    @property
    def shots_while_training(self) -> int:
        """K of the meta-training episodes: ``train_shots``, else ``k_shot``."""
        return self.train_shots or self.k_shot

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm={self.algorithm!r}; choose from {ALGORITHMS}")
        if self.path not in PATHS:
            raise ValueError(f"path={self.path!r}; choose from {PATHS}")
        if self.train_shots is not None and (not isinstance(self.train_shots, int)
                                             or self.train_shots < 1):
            raise ValueError(f"train_shots must be a positive integer or None, "
                             f"got {self.train_shots!r}")
        if self.inner_optimizer not in INNER_OPTIMIZERS:
            raise ValueError(f"inner_optimizer={self.inner_optimizer!r}; choose from "
                             f"{INNER_OPTIMIZERS}")
        if self.inner_optimizer == "adam" and self.algorithm not in ("fomaml", "reptile"):
            raise ValueError(f"inner_optimizer='adam' with algorithm={self.algorithm!r}: Adam "
                             "inner steps are for first-order methods (fomaml, reptile); "
                             "use --inner-optimizer sgd")
        if not isinstance(self.meta_batch, int) or self.meta_batch < 1:
            raise ValueError(f"meta_batch must be an integer >= 1, got {self.meta_batch!r}")
        for name in ("n_way", "k_shot", "n_query", "iterations", "val_every", "val_tasks",
                     "eval_query", "hidden"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.test_tasks, int) or self.test_tasks < 2:
            raise ValueError(f"test_tasks must be >= 2 for a confidence interval, "
                             f"got {self.test_tasks!r}")
        check_inner_lr(self.inner_lr)
        check_inner_steps(self.inner_steps)
        check_inner_steps(self.eval_inner_steps)
        for name in ("meta_lr", "epsilon", "alpha_lr", "max_seconds"):
            value = getattr(self, name)
            if value is None:
                continue
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


class TrainingDiverged(RuntimeError):
    """The outer loss became NaN or infinite; the message says where and what to try."""


@dataclass
class MetaLearner:
    """What meta-training produces: the model skeleton, θ, and Meta-SGD's α (else None)."""

    model: nn.Module
    params: Params
    alphas: Params | None
    config: MetaConfig

    @property
    def inner_lr(self) -> float | Params:
        return self.alphas if self.alphas is not None else self.config.inner_lr

    @property
    def adapted(self) -> tuple[str, ...] | None:
        return head_names(self.params) if self.config.algorithm == "anil" else None

    def state(self, iteration: int) -> dict:
        """A checkpoint dict loadable with ``torch.load(weights_only=True)``."""
        cpu = lambda d: {n: p.detach().cpu() for n, p in d.items()}  # noqa: E731
        return {"kind": "meta", "config": dataclasses.asdict(self.config), "iteration": iteration,
                "params": cpu(self.params),
                "alphas": cpu(self.alphas) if self.alphas is not None else None}


def new_learner(cfg: MetaConfig, device: str | torch.device = "cpu",
                dtype: torch.dtype = torch.float32) -> MetaLearner:
    """Conv-4 with a linear head and batch statistics at train and test time (as in MAML)."""
    model = seeded(lambda: Conv4(hidden=cfg.hidden, n_classes=cfg.n_way,
                                 track_running_stats=False), cfg.seed).to(device, dtype)
    params = params_of(model)
    alphas = init_alphas(params, cfg.inner_lr) if cfg.algorithm == "metasgd" else None
    return MetaLearner(model, params, alphas, cfg)


def learner_from_checkpoint(state: dict, device: str | torch.device = "cpu") -> MetaLearner:
    if not isinstance(state, dict) or state.get("kind") != "meta":
        raise ValueError("not a meta-learning checkpoint of metagan-lab (expected kind='meta'); "
                         "re-create it with `metagan-lab train maml`")
    learner = new_learner(MetaConfig(**state["config"]), device)
    learner.params = {n: p.to(device).requires_grad_() for n, p in state["params"].items()}
    if state["alphas"] is not None:
        learner.alphas = {n: a.to(device).requires_grad_() for n, a in state["alphas"].items()}
    return learner


def outer_loss_and_accuracy(learner: MetaLearner, episode: Episode, inner_steps: int,
                            first_order: bool, compiled: bool = True) -> tuple[Tensor, Tensor]:
    """(1/T) Σ_i L_query_i(θ'_i) and the per-task query accuracies [T].

    ``compiled=False`` runs a ``path='compiled'`` learner on the eager batched path (validation
    and test shapes differ from training's; compiling them too would only cost time).
    """
    path = learner.config.path
    path = "batched" if path == "compiled" and not compiled else path
    predictions = adapted_predictions(learner.model, learner.params, episode, learner.inner_lr,
                                      inner_steps, first_order, F.cross_entropy,
                                      learner.adapted, path,
                                      learner.config.inner_optimizer)         # [T, N*Q, N]
    loss = per_task_losses(predictions, episode.query_y, F.cross_entropy).mean()
    return loss, (predictions.argmax(-1) == episode.query_y).float().mean(-1)


def evaluate_meta(learner: MetaLearner, data: ClassImages, n_tasks: int, seed: int = 1,
                  n_query: int | None = None, inner_steps: int | None = None,
                  batch: int = 25) -> Tensor:
    """Query accuracy of each of ``n_tasks`` new tasks after adaptation: a tensor [n_tasks]."""
    cfg = learner.config
    n_query = cfg.eval_query if n_query is None else n_query
    steps = cfg.eval_inner_steps if inner_steps is None else inner_steps
    device = learner.params[next(iter(learner.params))].device
    sampler = EpisodeSampler(data, cfg.n_way, cfg.k_shot, min(n_query, data.n_samples
                             - cfg.k_shot), min(batch, n_tasks), seed, device)
    accs = []
    while sum(len(a) for a in accs) < n_tasks:
        episode = next(sampler)
        _, acc = outer_loss_and_accuracy(learner, episode, steps, first_order=True,
                                         compiled=False)
        accs.append(acc.detach())
    return torch.cat(accs)[:n_tasks].cpu()


def _stop_if_not_finite(value: float, it: int, cfg: MetaConfig, last_good: int | None,
                        checkpoint: Path | None) -> None:
    if math.isfinite(value):
        return
    kept = (f"the last good checkpoint (iteration {last_good}) is kept at {checkpoint}"
            if last_good else "no checkpoint was written yet")
    what = "Reptile step" if cfg.algorithm == "reptile" else "outer loss"
    raise TrainingDiverged(
        f"{cfg.algorithm}: the {what} became {value} at iteration {it}; {kept}. Try a smaller "
        f"inner learning rate (now {cfg.inner_lr}), a smaller meta learning rate (now "
        f"{cfg.meta_lr}; Reptile: epsilon, now {cfg.epsilon}), fewer inner steps (now "
        f"{cfg.inner_steps}), or float64.")


def _past(start: float, max_seconds: float | None) -> bool:
    return max_seconds is not None and time.perf_counter() - start >= max_seconds


def meta_train(learner: MetaLearner, train: ClassImages, val: ClassImages | None = None,
               device: str | torch.device = "cpu", out: str | Path | None = None,
               progress: bool = True,
               callback: Callable[[int, float, float], None] | None = None) -> dict:
    """Run ``config.iterations`` outer steps, or fewer when ``config.max_seconds`` of wall time
    (validation included) run out first; then it validates once more and stops. Returns the
    history (loss and accuracy per step, validation), so ``len(history["loss"])`` steps ran.

    ``callback(iteration, loss, accuracy)`` runs after every step (the notebooks' live plot).
    With ``out`` set, ``out/checkpoint.pt`` holds the last finite validated state. Reptile's ε is
    annealed linearly to 0 over the iterations, or over ``max_seconds`` if that comes first.
    """
    from tqdm.auto import tqdm

    cfg = learner.config
    shots = cfg.shots_while_training
    check_episode_shape(cfg.n_way, shots, cfg.n_query, train.n_classes, train.n_samples)
    sampler = EpisodeSampler(train, cfg.n_way, shots, cfg.n_query, cfg.meta_batch,
                             cfg.seed, device)
    groups = [{"params": list(learner.params.values())}]
    if learner.alphas is not None:
        groups.append({"params": list(learner.alphas.values()), "lr": cfg.alpha_lr or cfg.meta_lr})
    optimizer = torch.optim.Adam(groups, lr=cfg.meta_lr) if cfg.algorithm != "reptile" else None
    history: dict[str, list] = {"loss": [], "accuracy": [], "val": []}
    checkpoint = Path(out) / "checkpoint.pt" if out is not None else None
    last_good = None
    bar = tqdm(range(1, cfg.iterations + 1), desc=cfg.algorithm, disable=not progress)
    start = time.perf_counter()
    for it in bar:
        episode = next(sampler)
        if cfg.algorithm == "reptile":
            done = (it - 1) / cfg.iterations                           # linear annealing to 0,
            if cfg.max_seconds is not None:                            # over time when limited
                done = max(done, (time.perf_counter() - start) / cfg.max_seconds)
            epsilon = cfg.epsilon * max(1 - done, 1e-3)
            new = reptile_step(learner.model, learner.params, episode, cfg.inner_lr,
                               cfg.inner_steps, epsilon, path=cfg.path,
                               inner_optimizer=cfg.inner_optimizer)
            step = sum((new[n] - p.detach()).pow(2).sum() for n, p in learner.params.items())
            _stop_if_not_finite(step.item(), it, cfg, last_good, checkpoint)
            learner.params = {n: p.requires_grad_() for n, p in new.items()}
            if it % 10 == 1:            # the query loss after k inner steps, every 10 iterations
                loss, acc = outer_loss_and_accuracy(learner, episode, cfg.inner_steps, True,
                                                    compiled=False)
        else:
            loss, acc = outer_loss_and_accuracy(learner, episode, cfg.inner_steps,
                                                cfg.algorithm == "fomaml")
            _stop_if_not_finite(loss.item(), it, cfg, last_good, checkpoint)  # before stepping
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        loss_value, acc_value = loss.item(), acc.mean().item()
        history["loss"].append(loss_value)
        history["accuracy"].append(acc_value)
        if callback is not None:
            callback(it, loss_value, acc_value)
        if it % 10 == 0:
            bar.set_postfix(loss=f"{loss_value:.3f}", acc=f"{acc_value:.3f}")
        out_of_time = _past(start, cfg.max_seconds)
        validate = val is not None and (it % cfg.val_every == 0 or it == cfg.iterations
                                        or out_of_time)
        if validate:
            val_acc = evaluate_meta(learner, val, cfg.val_tasks, seed=cfg.seed + 7).mean().item()
            history["val"].append((it, val_acc))
            bar.set_postfix(loss=f"{loss_value:.3f}", val=f"{val_acc:.3f}")
            if checkpoint is not None:
                atomic_save(learner.state(it), checkpoint)
                last_good = it
        if out_of_time or (validate and _past(start, cfg.max_seconds)):   # just validated: stop
            break
    return history


def meta_test(learner: MetaLearner, test: ClassImages, n_tasks: int | None = None,
              seed: int = 12345) -> dict[str, float]:
    """Mean query accuracy ± 95% CI over ``n_tasks`` (default config.test_tasks) test tasks."""
    accs = evaluate_meta(learner, test, n_tasks or learner.config.test_tasks, seed=seed)
    mean, ci95 = mean_ci95(accs)
    return {"accuracy": mean, "ci95": ci95, "tasks": len(accs)}


def init_from(learner: MetaLearner, state: dict) -> MetaLearner:
    """Start from a checkpoint's θ (and Meta-SGD's α) instead of a fresh initialisation.

    The checkpoint must come from the same architecture (algorithm family, N, filters); the
    optimiser state is not stored in checkpoints, so Adam starts afresh.
    """
    old = MetaConfig(**state["config"])
    cfg = learner.config
    for name in ("n_way", "hidden"):
        if getattr(old, name) != getattr(cfg, name):
            raise ValueError(f"--init-from: the checkpoint has {name}={getattr(old, name)}, this "
                             f"run {name}={getattr(cfg, name)}; use the same value")
    if (state["alphas"] is None) != (learner.alphas is None):
        raise ValueError(f"--init-from: a {old.algorithm} checkpoint cannot start a "
                         f"{cfg.algorithm} run (Meta-SGD's α is in one and not the other)")
    device = next(iter(learner.params.values())).device
    learner.params = {n: p.detach().to(device).clone().requires_grad_()
                      for n, p in state["params"].items()}
    if state["alphas"] is not None:
        learner.alphas = {n: a.detach().to(device).clone().requires_grad_()
                          for n, a in state["alphas"].items()}
    return learner


def run_meta(cfg: MetaConfig, train: ClassImages, val: ClassImages | None, test: ClassImages,
             device: str | torch.device = "cpu", out: str | Path | None = None,
             progress: bool = True, start_from: dict | None = None) -> tuple[MetaLearner, dict]:
    """Meta-train then meta-test; returns the learner and a result dict (accuracy, ci95, …).

    ``start_from``: a checkpoint dict whose θ (and α) the training continues from.
    """
    learner = new_learner(cfg, device)
    if start_from is not None:
        init_from(learner, start_from)
    start = time.perf_counter()
    history = meta_train(learner, train, val, device, out, progress)
    seconds = time.perf_counter() - start
    result = {"algorithm": cfg.algorithm, **meta_test(learner, test),
              "seconds": round(seconds, 2), "iterations": len(history["loss"]),
              "device": str(torch.device(device)), "n_way": cfg.n_way, "k_shot": cfg.k_shot,
              "final_train_loss": history["loss"][-1],
              "val_accuracy": history["val"][-1][1] if history["val"] else None}
    return learner, result
