"""One generic core for learners that map an episode to query logits.

A ``Method`` says what a learner is: its config class (the paper's defaults), how to build its
network, the query logits of an episode and, when it is not the cross-entropy of those logits,
its own loss (and what a training batch is, for baselines pre-trained on plain class batches).
``train_episodic`` runs Adam on that loss on the library's one loop (``training.run_loop``: a NaN
or exploding loss stops the run with ``checks.TrainingDiverged``; checkpoints hold only finite
weights); ``evaluate_episodic`` reports the mean query accuracy ± 95 % CI over new test tasks.

paper symbol                 code name
episode (S, Q̂)               Episode: support_x [T, N*K, 1, 28, 28], support_y [T, N*K],
                             query_x [T, N*Q, 1, 28, 28], query_y [T, N*Q]
P(ŷ | x̂, S)                  method.logits(model, episode, cfg) → [T, N*Q, N] (argmax predicts)
J                            method.loss(model, batch, cfg) → (loss, accuracy); default
                             cross_entropy_loss: −log softmax(logits)[y], averaged

A method may use anything in the episode (a black-box learner reads ``support_y`` as input); the
methods live in their own modules and are listed in ``metagan_lab.methods``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import finite_loss, positive_int, positive_number
from ..data.images import ClassImages
from ..models.conv4 import seeded
from ..stats import mean_ci95
from ..tasks.episodes import check_episode_shape, sample_episode
from ..training import LoopSpec, StepResult, resume_start, run_loop
from ..types import Episode
from .protonet import accuracy, check_labels

FAMILIES = ("gradient-based", "metric", "baseline", "black-box", "generated-init")
LOSS_LIMIT = 1e3   # an N-way cross-entropy at chance is ln N ≈ 1.6; above 1e3 the run has exploded


@dataclass(frozen=True)
class EpisodicConfig:
    """What every episodic method shares; each method subclasses it with its paper's defaults."""

    n_way: int = 5             # N (training and test; the test N may be changed at evaluation)
    k_shot: int = 1            # K support images per class
    n_query: int = 15          # Q query images per class while training
    meta_batch: int = 1        # T tasks per Adam step (the metric papers use one episode)
    iterations: int = 2000     # Adam steps
    lr: float = 1e-3           # Adam learning rate
    lr_halve_every: int | None = None  # halve the learning rate every this many steps
    hidden: int = 64           # Conv-4 filters
    max_seconds: float | None = None   # stop training after this wall time (then test)
    val_every: int = 100       # validate (and checkpoint) every this many steps
    val_tasks: int = 100       # tasks per validation
    test_tasks: int = 600      # tasks of the final accuracy ± 95 % CI
    eval_query: int = 15       # query images per class at validation and test
    seed: int = 0

    # the field ``--inner-steps`` of ``metagan-lab eval`` sets (test-time steps), if any
    STEPS_FIELD: ClassVar[str | None] = None
    # help lines of the method's own fields (the CLI options generated from them)
    HELP: ClassVar[dict[str, str]] = {}
    # fields filled in from the training data, not set by hand (no CLI option)
    DERIVED: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for name in ("n_way", "k_shot", "n_query", "meta_batch", "iterations", "hidden",
                     "val_every", "val_tasks", "eval_query"):
            positive_int(name, getattr(self, name))
        positive_int("test_tasks (>= 2 for a confidence interval)", self.test_tasks, 2)
        positive_number("lr", self.lr, "try 1e-3 (Adam)")
        if self.lr_halve_every is not None:
            positive_int("lr_halve_every", self.lr_halve_every)
        if self.max_seconds is not None:
            positive_number("max_seconds", self.max_seconds)


Batch = Any   # an Episode, or what ``Method.sample`` draws (the baselines: images and labels)


@dataclass(frozen=True)
class Method:
    """One learner of the episodic core.

    build(cfg) → nn.Module                              the network (built under cfg.seed)
    logits(model, episode, cfg) → [T, N*Q, N]          query predictions (argmax); N = cfg.n_way
    loss(model, batch, cfg) → (loss, accuracy)         None: cross_entropy_loss of the logits
    sample(images, cfg, generator) → batch             None: T = cfg.meta_batch episodes
    setup(cfg, train) → cfg                            fills the config's DERIVED fields
    prepare(model, cfg, images)                        before evaluation (e.g. a feature mean)
    """

    name: str
    family: str
    config: type[EpisodicConfig]
    build: Callable[[EpisodicConfig], nn.Module]
    logits: Callable[[nn.Module, Episode, EpisodicConfig], Tensor]
    help: str
    paper: str
    loss: Callable[[nn.Module, Batch, EpisodicConfig], tuple[Tensor, Tensor]] | None = None
    sample: Callable[[Tensor, EpisodicConfig, torch.Generator], Batch] | None = None
    setup: Callable[[EpisodicConfig, ClassImages], EpisodicConfig] | None = None
    prepare: Callable[[nn.Module, EpisodicConfig, Tensor], None] | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"Method {self.name!r}: family={self.family!r}; choose from "
                             f"{FAMILIES}")


@dataclass
class EpisodicLearner:
    """What training produces: the method, its network and its (completed) config."""

    method: Method
    model: nn.Module
    config: EpisodicConfig

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def state(self, iteration: int, dataset: str = "") -> dict:
        """The ``kind='episodic'`` checkpoint (``runs.kinds.episodic``), loadable with
        ``torch.load(weights_only=True)``."""
        return {"kind": "episodic", "method": self.method.name, "family": self.method.family,
                "config": dataclasses.asdict(self.config), "iteration": iteration,
                "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                "dataset": dataset}


def new_learner(method: Method, cfg: EpisodicConfig,
                device: str | torch.device = "cpu") -> EpisodicLearner:
    """The method's network, built under ``cfg.seed`` (the global RNG is left alone)."""
    if not isinstance(cfg, method.config):
        raise ValueError(f"{method.name} needs a {method.config.__name__}, got "
                         f"{type(cfg).__name__}")
    model = seeded(lambda: method.build(cfg), cfg.seed).to(device)
    return EpisodicLearner(method, model, cfg)


def embed_episode(encoder: nn.Module, episode: Episode) -> tuple[Tensor, Tensor]:
    """Support and query embeddings [T, N*K, …] and [T, N*Q, …] from one encoder pass (one
    BatchNorm batch, as ProtoNet does)."""
    sx, qx = episode.support_x, episode.query_x
    if sx.dim() != 5 or qx.dim() != 5 or sx.shape[0] != qx.shape[0] or sx.shape[2:] != qx.shape[2:]:
        raise ValueError(f"embed_episode: support_x {tuple(sx.shape)} and query_x "
                         f"{tuple(qx.shape)} must be [T, N*K, C, H, W] and [T, N*Q, C, H, W]")
    t, s = sx.shape[:2]
    emb = encoder(torch.cat([sx.flatten(0, 1), qx.flatten(0, 1)]))   # [T*(N*K + N*Q), …]
    return emb[: t * s].unflatten(0, (t, s)), emb[t * s :].unflatten(0, (t, qx.shape[1]))


def one_hot(y: Tensor, n_way: int, dtype: torch.dtype) -> Tensor:
    """Y [..., S, N]: row i is the one-hot vector of label y_i."""
    check_labels("one_hot", y, n_way)
    return F.one_hot(y, n_way).to(dtype)


def cross_entropy_loss(logits: Tensor, query_y: Tensor) -> tuple[Tensor, Tensor]:
    """J = mean over the queries of −log softmax(logits)[y], and the accuracy of argmax."""
    if logits.shape[:-1] != query_y.shape:
        raise ValueError(f"cross_entropy_loss: logits {tuple(logits.shape)} and labels "
                         f"{tuple(query_y.shape)} must be [T, N*Q, N] and [T, N*Q]")
    loss = F.cross_entropy(logits.flatten(0, -2), query_y.flatten())
    return loss, accuracy(logits.detach(), query_y)


def method_loss(learner: EpisodicLearner, batch: Batch) -> tuple[Tensor, Tensor]:
    """The method's loss on a training batch (its own, else the logits' cross-entropy)."""
    m, cfg = learner.method, learner.config
    if m.loss is not None:
        return m.loss(learner.model, batch, cfg)
    return cross_entropy_loss(m.logits(learner.model, batch, cfg), batch.query_y)


def sample_episodes(images: Tensor, cfg: EpisodicConfig, generator: torch.Generator) -> Episode:
    """The default training batch: T = cfg.meta_batch N-way K-shot episodes, Q queries each."""
    return sample_episode(images, cfg.n_way, cfg.k_shot, cfg.n_query, cfg.meta_batch, generator)


def _fix(cfg: EpisodicConfig) -> str:
    return f"lower the learning rate (now {cfg.lr:g}) or train in float64"


def _resume(state: dict, cfg: EpisodicConfig, model: nn.Module, optimizer, schedule,
            streams: dict[str, torch.Generator]) -> int:
    """Load a checkpoint's weights, Adam and schedule state and random streams; the first
    iteration to run."""
    first = resume_start(state, cfg.iterations)
    model.load_state_dict(state["state_dict"])
    optimizer.load_state_dict(state["resume"]["optimizer"])
    if schedule is not None:
        schedule.load_state_dict(state["resume"]["schedule"])
    for name, g in streams.items():
        g.set_state(state["resume"]["random"][name])
    return first


def train_episodic(method: Method, cfg: EpisodicConfig, train: ClassImages,
                   val: ClassImages | None = None, device: str | torch.device = "cpu",
                   out: str | Path | None = None, progress: bool = True,
                   callback: Callable[[int, float, float], None] | None = None,
                   resume: dict | None = None) -> tuple[EpisodicLearner, dict]:
    """Adam on the method's loss for ``cfg.iterations`` steps (or ``cfg.max_seconds``).

    Validation accuracy on ``val`` every ``cfg.val_every`` steps; with ``out`` set,
    ``out/checkpoint.pt`` holds the last validated state whose weights are finite. A NaN or
    exploding loss raises ``TrainingDiverged`` before its step is applied.
    ``callback(step, loss, accuracy)`` runs after every step. Returns (learner, history).

    ``resume``: a checkpoint of this function (``out/checkpoint.pt``); training goes on from the
    iteration after it with its weights, Adam's state, the learning-rate schedule and the random
    streams (episodes, MANN's orders), as the unbroken run would. ``max_seconds`` counts from now.
    """
    if method.setup is not None:
        cfg = method.setup(cfg, train)
    if method.sample is None:
        check_episode_shape(cfg.n_way, cfg.k_shot, cfg.n_query, train.n_classes, train.n_samples)
    if val is not None:
        check_episode_shape(cfg.n_way, cfg.k_shot, 1, val.n_classes, val.n_samples)
    learner = new_learner(method, cfg, device)
    model, device = learner.model, learner.device
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    schedule = (torch.optim.lr_scheduler.StepLR(optimizer, cfg.lr_halve_every, gamma=0.5)
                if cfg.lr_halve_every else None)
    images = train.images.to(device)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    streams = {"episodes": gen}
    if isinstance(getattr(model, "order_generator", None), torch.Generator):
        streams["orders"] = model.order_generator                   # MANN's support orders
    first = 1 if resume is None else _resume(resume, cfg, model, optimizer, schedule, streams)
    draw = method.sample or sample_episodes
    prepared = {"at": None, "now": 0}

    def prepare() -> None:               # e.g. SimpleShot's mean feature, once per iteration
        if method.prepare is not None and prepared["at"] != prepared["now"]:
            method.prepare(model, cfg, images)
            prepared["at"] = prepared["now"]

    def step(it: int) -> StepResult:
        prepared["now"] = it
        model.train()
        loss, acc = method_loss(learner, draw(images, cfg, gen))
        finite_loss(f"the {method.name} loss", loss.item(), _fix(cfg), LOSS_LIMIT)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        if callback is not None:
            callback(it - 1, loss.item(), acc.item())
        return StepResult(loss.item(), {"accuracy": acc.item()})

    def validate() -> float:
        prepare()
        return task_accuracies(learner, val, cfg.val_tasks, seed=cfg.seed + 7).mean().item()

    def state(it: int) -> dict:
        prepare()
        return {**learner.state(it, train.source), "resume": {
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict() if schedule is not None else None,
            "random": {name: g.get_state() for name, g in streams.items()}}}

    spec = LoopSpec(iterations=cfg.iterations, params=lambda: dict(model.named_parameters()),
                    state=state, validate=None if val is None else validate,
                    val_every=cfg.val_every,
                    checkpoint=Path(out) / "checkpoint.pt" if out is not None else None,
                    max_seconds=cfg.max_seconds, desc=method.name, fix=_fix(cfg),
                    loss_limit=LOSS_LIMIT, progress=progress, start=first)
    history = run_loop(step, spec)
    prepare()
    model.eval()
    return learner, history


@torch.no_grad()
def task_accuracies(learner: EpisodicLearner, data: ClassImages, tasks: int, seed: int = 1,
                    batch: int = 20, progress: bool = False) -> Tensor:
    """Query accuracy of each of ``tasks`` new N-way K-shot tasks (the config's N, K, and
    ``eval_query`` queries per class, fewer if the classes hold fewer images): a tensor [tasks].

    The network is in eval mode (BatchNorm running statistics); a method that takes gradient
    steps at test time (ProtoMAML, the fine-tuned head) enables gradients inside its logits.
    """
    from tqdm.auto import tqdm

    cfg, model, device = learner.config, learner.model, learner.device
    queries = min(cfg.eval_query, data.n_samples - cfg.k_shot)
    check_episode_shape(cfg.n_way, cfg.k_shot, queries, data.n_classes, data.n_samples)
    model.eval()
    images = data.images.to(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    accs: list[Tensor] = []
    with tqdm(total=tasks, desc="evaluate", disable=not progress) as bar:
        while sum(len(a) for a in accs) < tasks:
            t = min(batch, tasks - sum(len(a) for a in accs))
            ep = sample_episode(images, cfg.n_way, cfg.k_shot, queries, t, gen)
            logits = learner.method.logits(model, ep, cfg)                  # [T, N*Q, N]
            accs.append((logits.argmax(-1) == ep.query_y).double().mean(-1).cpu())
            bar.update(t)
    return torch.cat(accs)


def with_protocol(learner: EpisodicLearner, n_way: int | None = None, k_shot: int | None = None,
                  eval_query: int | None = None, steps: int | None = None) -> EpisodicLearner:
    """The learner tested as N-way K-shot with Q queries (and ``steps`` test-time steps for the
    methods that take them); None keeps the config's value. θ is shared, not copied."""
    cfg = learner.config
    changes = {"n_way": n_way or cfg.n_way, "k_shot": k_shot or cfg.k_shot,
               "eval_query": eval_query or cfg.eval_query}
    if steps is not None:
        if cfg.STEPS_FIELD is None:
            raise ValueError(f"--inner-steps does not apply to a {learner.method.name} "
                             "checkpoint (it takes no gradient steps at test)")
        changes[cfg.STEPS_FIELD] = steps
    return dataclasses.replace(learner, config=dataclasses.replace(cfg, **changes))


def evaluate_episodic(learner: EpisodicLearner, test: ClassImages, tasks: int | None = None,
                      seed: int = 1, progress: bool = False) -> dict:
    """Mean query accuracy ± 95 % CI over ``tasks`` (default ``config.test_tasks``, 600) new
    test tasks. To test another N or K: ``dataclasses.replace(learner.config, n_way=…)``."""
    tasks = learner.config.test_tasks if tasks is None else tasks
    positive_int("tasks (>= 2 for a confidence interval)", tasks, 2)
    mean, ci95 = mean_ci95(task_accuracies(learner, test, tasks, seed, progress=progress))
    cfg = learner.config
    return {"algorithm": learner.method.name, "family": learner.method.family,
            "accuracy": mean, "ci95": ci95, "tasks": tasks, "n_way": cfg.n_way,
            "k_shot": cfg.k_shot}
