"""Meta-training and meta-testing for every algorithm of ``meta.registry``.

A run is: a learner (model skeleton, θ, Meta-SGD's α, config), an engine (how the per-task terms
are computed), the algorithm's outer step, and the library's one training loop
(``metagan_lab.training.run_loop``: sample → step → log → validate → finite checkpoint). Test
accuracy is the mean query accuracy ± 95% CI over ≥ 600 new tasks, each adapted with
``eval_inner_steps`` steps.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ..checks import TrainingDiverged, bad_tensors
from ..data.images import ClassImages
from ..models import Conv4, params_of, seeded
from ..stats import mean_ci95
from ..tasks.episodes import EpisodeSampler, check_episode_shape
from ..training import LoopSpec, StepResult, resume_start, run_loop
from ..types import Episode, Params
from .anil import head_names
from .config import MetaConfig
from .engines import Engine, get_engine
from .functional import InnerLoop, per_task_losses
from .meta_sgd import init_alphas
from .registry import ALGORITHMS, config_for

__all__ = ["MetaConfig", "MetaLearner", "TrainingDiverged", "evaluate_meta", "init_from",
           "learner_from_checkpoint", "meta_test", "meta_train", "new_learner",
           "query_loss_and_accuracy", "run_meta"]


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
        return head_names(self.params) if self.config.head_only else None

    @property
    def trainable(self) -> Params:
        """θ and (Meta-SGD) α in one dict; α's names get an ``alpha:`` prefix (θ's and α's
        names are the same, so merging the dicts plainly would drop θ)."""
        return {**self.params, **{f"alpha:{n}": a for n, a in (self.alphas or {}).items()}}

    def inner(self, steps: int | None = None, first_order: bool | None = None) -> InnerLoop:
        """The algorithm's inner loop: α (or learned α), k, first order, optimiser, adapted."""
        cfg = self.config
        return InnerLoop(lr=self.inner_lr, steps=cfg.inner_steps if steps is None else steps,
                         first_order=cfg.first_order if first_order is None else first_order,
                         optimizer=cfg.inner_optimizer, adapted=self.adapted)

    def engine(self, eval: bool = False) -> Engine:
        """The config's engine; evaluation runs a compiled learner on the eager batched path
        (other shapes; compiling them too would only cost time)."""
        path = "batched" if eval and self.config.path == "compiled" else self.config.path
        return get_engine(path, self.model, next(iter(self.params.values())).device)

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
    alphas = init_alphas(params, cfg.inner_lr) if cfg.learns_alpha else None
    return MetaLearner(model, params, alphas, cfg)


def learner_from_checkpoint(state: dict, device: str | torch.device = "cpu") -> MetaLearner:
    """The learner of a ``kind='meta'`` checkpoint; refuses non-finite weights."""
    if not isinstance(state, dict) or state.get("kind") != "meta":
        raise ValueError("not a meta-learning checkpoint of metagan-lab (expected kind='meta'); "
                         "re-create it with `metagan-lab train maml`")
    weights = {**state["params"], **{f"α:{n}": a for n, a in (state["alphas"] or {}).items()}}
    bad = bad_tensors(weights)
    if bad:
        raise ValueError(f"this {state['config']['algorithm']} checkpoint (iteration "
                         f"{state.get('iteration')}) has NaN, infinite or exploded weights in "
                         f"{bad[:4]}; it cannot be evaluated — re-train it")
    learner = new_learner(config_for(**state["config"]), device)
    learner.params = {n: p.to(device).requires_grad_() for n, p in state["params"].items()}
    if state["alphas"] is not None:
        learner.alphas = {n: a.to(device).requires_grad_() for n, a in state["alphas"].items()}
    return learner


def query_loss_and_accuracy(learner: MetaLearner, episode: Episode, inner: InnerLoop,
                            engine: Engine | None = None) -> tuple[Tensor, Tensor]:
    """(1/T) Σ_i L_query_i(θ'_i) (differentiable) and the per-task query accuracies [T]."""
    engine = engine or learner.engine()
    predictions = engine.predictions(learner.model, learner.params, episode, inner)  # [T, NQ, N]
    loss = per_task_losses(predictions, episode.query_y, inner.loss).mean()
    return loss, (predictions.argmax(-1) == episode.query_y).float().mean(-1)


def evaluate_meta(learner: MetaLearner, data: ClassImages, n_tasks: int, seed: int = 1,
                  n_query: int | None = None, inner_steps: int | None = None,
                  batch: int = 25) -> Tensor:
    """Query accuracy of each of ``n_tasks`` new tasks after adaptation: a tensor [n_tasks]."""
    cfg = learner.config
    n_query = cfg.eval_query if n_query is None else n_query
    inner = learner.inner(cfg.eval_inner_steps if inner_steps is None else inner_steps, True)
    device = learner.params[next(iter(learner.params))].device
    sampler = EpisodeSampler(data, cfg.n_way, cfg.k_shot, min(n_query, data.n_samples
                             - cfg.k_shot), min(batch, n_tasks), seed, device)
    engine = learner.engine(eval=True)
    accs = []
    while sum(len(a) for a in accs) < n_tasks:
        _, acc = query_loss_and_accuracy(learner, next(sampler), inner, engine)
        accs.append(acc.detach())
    return torch.cat(accs)[:n_tasks].cpu()


# Cross-entropy of N-way chance is ln N (≈ 1.6 for 5 ways); a query loss above this means the
# logits have exploded (e.g. ANIL at α = 1e6 swings between 1e4 and 2e6 with chance accuracy).
CROSS_ENTROPY_LIMIT = 1e3


def _fix(cfg: MetaConfig) -> str:
    return (f"Try a smaller inner learning rate (now {cfg.inner_lr}), a smaller meta learning "
            f"rate (now {cfg.meta_lr}; Reptile: epsilon, now {cfg.epsilon}), fewer inner steps "
            f"(now {cfg.inner_steps}), or float64.")


def meta_train(learner: MetaLearner, train: ClassImages, val: ClassImages | None = None,
               device: str | torch.device = "cpu", out: str | Path | None = None,
               progress: bool = True,
               callback: Callable[[int, float, float], None] | None = None,
               shard=None, resume: dict | None = None) -> dict:
    """Run ``config.iterations`` outer steps, or fewer when ``config.max_seconds`` of wall time
    (validation included) run out first; then it validates once more and stops. Returns the
    history: ``loss``/``accuracy`` at the iterations in ``step`` (Reptile measures them every
    10th), ``val`` pairs, ``iterations`` run.

    ``callback(iteration, loss, accuracy)`` runs after every step that measured a loss (the
    notebooks' live plot). With ``out`` set, ``out/checkpoint.pt`` holds the last validated state
    whose weights are finite, and with it what a resumed run needs (``resume_state``). ``shard``
    (``meta.distributed``) splits each meta-batch over processes; only rank 0 writes.

    ``resume``: such a checkpoint, whose θ and α the learner already holds (``init_from``);
    the run goes on from the iteration after it with the same Adam moments, episode stream and
    Reptile ε, so an iteration budget resumed gives what the run would have given unbroken.
    ``max_seconds`` counts from this call.
    """
    cfg = learner.config
    shots = cfg.shots_while_training
    check_episode_shape(cfg.n_way, shots, cfg.n_query, train.n_classes, train.n_samples)
    sampler = EpisodeSampler(train, cfg.n_way, shots, cfg.n_query, cfg.meta_batch,
                             cfg.seed, device)
    outer = ALGORITHMS[cfg.algorithm].outer_step(learner, learner.engine(), shard)
    first, progress_made = 1, {"done": 0.0}
    if resume is not None:
        first = _resume(resume, cfg, outer, sampler, progress_made)
    start = time.perf_counter()

    def step(it: int) -> StepResult:
        done = max(progress_made["done"], (it - 1) / cfg.iterations)  # Reptile anneals ε over
        if cfg.max_seconds is not None:                    # the run, or over the time if limited
            done = max(done, (time.perf_counter() - start) / cfg.max_seconds)
        progress_made["done"] = done
        loss, acc = outer(next(sampler), it, done)
        if loss is not None and callback is not None:
            callback(it, loss, acc)
        return StepResult(loss, {} if acc is None else {"accuracy": acc})

    validate = (None if val is None else
                lambda: evaluate_meta(learner, val, cfg.val_tasks, seed=cfg.seed + 7).mean().item())
    spec = LoopSpec(iterations=cfg.iterations,
                    params=lambda: learner.trainable,
                    state=lambda it: {**learner.state(it), "resume": resume_state(
                        outer, sampler, progress_made["done"])},
                    validate=validate, val_every=cfg.val_every, start=first,
                    checkpoint=Path(out) / "checkpoint.pt" if out is not None else None,
                    max_seconds=cfg.max_seconds, desc=cfg.algorithm, fix=_fix(cfg),
                    loss_limit=CROSS_ENTROPY_LIMIT,
                    progress=progress, is_writer=shard is None or shard.rank == 0)
    return run_loop(step, spec)


def resume_state(outer, sampler: EpisodeSampler, done: float) -> dict:
    """What a checkpoint holds besides θ and α so that training can go on as if unbroken: the
    outer optimiser's state, the episode sampler's random state, Reptile's progress ``done``."""
    return {"outer": outer.state_dict(), "sampler": sampler.generator.get_state(), "done": done}


def _resume(state: dict, cfg: MetaConfig, outer, sampler: EpisodeSampler,
            progress_made: dict) -> int:
    """Load ``resume_state`` into the outer step and the sampler; the first iteration to run."""
    first = resume_start(state, cfg.iterations)
    outer.load_state_dict(state["resume"]["outer"])
    sampler.generator.set_state(state["resume"]["sampler"])
    progress_made["done"] = state["resume"]["done"]
    return first


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
    old = config_for(**state["config"])
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


def check_splits(cfg: MetaConfig, train: ClassImages, val: ClassImages | None,
                 test: ClassImages | None) -> None:
    """Refuse, before any training, a config whose episodes a split cannot supply."""
    for name, data, shots, queries in (("train", train, cfg.shots_while_training, cfg.n_query),
                                       ("validation", val, cfg.k_shot, 1),
                                       ("test", test, cfg.k_shot, 1)):
        if data is None:
            continue
        try:
            check_episode_shape(cfg.n_way, shots, queries, data.n_classes, data.n_samples)
        except ValueError as exc:
            raise ValueError(f"the {name} split cannot supply these episodes: {exc}") from None


def run_meta(cfg: MetaConfig, train: ClassImages, val: ClassImages | None, test: ClassImages,
             device: str | torch.device = "cpu", out: str | Path | None = None,
             progress: bool = True, start_from: dict | None = None,
             shard=None, resume: bool = False) -> tuple[MetaLearner, dict]:
    """Meta-train then meta-test; returns the learner and a result dict (accuracy, ci95, …).

    ``start_from``: a checkpoint dict whose θ (and α) the training continues from; with
    ``resume`` it goes on as that run would have (``meta_train``'s ``resume``).
    """
    check_splits(cfg, train, val, test)
    learner = new_learner(cfg, device)
    if start_from is not None:
        init_from(learner, start_from)
    start = time.perf_counter()
    history = meta_train(learner, train, val, device, out, progress, shard=shard,
                         resume=start_from if resume else None)
    seconds = time.perf_counter() - start
    result = {"algorithm": cfg.algorithm, **meta_test(learner, test),
              "seconds": round(seconds, 2), "iterations": history["iterations"],
              "device": str(torch.device(device)), "n_way": cfg.n_way, "k_shot": cfg.k_shot,
              "final_train_loss": history["loss"][-1],
              "val_accuracy": history["val"][-1][1] if history["val"] else None}
    return learner, result
