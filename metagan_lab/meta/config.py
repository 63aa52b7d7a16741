"""The settings every gradient-based meta-learner shares; each algorithm's module subclasses
``MetaConfig`` with its paper's defaults (``ReptileConfig()`` *is* Nichol et al.'s setting).

Build a config with the algorithm's own class (``MAMLConfig``, ``ReptileConfig`` …) or
``meta.config_for(name, **changes)``; ``MetaConfig(algorithm="reptile")`` is refused because it
would silently take MAML's α and steps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from ..checks import positive_int, positive_number, unit_interval
from .functional import INNER_OPTIMIZERS, check_inner_lr, check_inner_steps

PATHS = ("auto", "batched", "compiled", "fused", "loop")   # engines (meta/engines); same numbers
_OWN_CONFIG: dict[str, type] = {}                 # algorithm name → its config class


@dataclass(frozen=True)
class MetaConfig:
    algorithm: str = "maml"    # maml | fomaml | metasgd | anil | reptile (see meta.registry)
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
    path: str = "auto"         # auto | batched | compiled | fused | loop (same numbers)
    seed: int = 0

    # What the algorithm is, fixed by its class (not settable per run):
    first_order: ClassVar[bool] = False     # inner gradients are constants (FOMAML, Reptile)
    head_only: ClassVar[bool] = False       # only the head adapts (ANIL)
    learns_alpha: ClassVar[bool] = False    # α is learned per parameter (Meta-SGD)

    @property
    def shots_while_training(self) -> int:
        """K of the meta-training episodes: ``train_shots``, else ``k_shot``."""
        return self.train_shots or self.k_shot

    def __init_subclass__(cls, **kwargs) -> None:
        """Each algorithm's config class registers itself under its default ``algorithm``."""
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("algorithm")
        if isinstance(name, str):
            _OWN_CONFIG.setdefault(name, cls)

    def __post_init__(self) -> None:
        if self.algorithm not in _OWN_CONFIG:
            raise ValueError(f"algorithm={self.algorithm!r}; choose from {tuple(_OWN_CONFIG)}")
        own = _OWN_CONFIG[self.algorithm]
        if type(self) is not own and (_defaults(own) != _defaults(type(self))
                                      or _kind(own) != _kind(type(self))):
            raise ValueError(f"{type(self).__name__}(algorithm={self.algorithm!r}) would take "
                             f"{type(self).__name__}'s defaults and inner loop (first order, "
                             f"head only, learned α), not {self.algorithm}'s; use "
                             f"{own.__name__}(...) (the paper's setting) or "
                             f"metagan_lab.meta.config_for({self.algorithm!r}, ...)")
        if self.path not in PATHS:
            raise ValueError(f"path={self.path!r}; choose from {PATHS}")
        if self.train_shots is not None:
            positive_int("train_shots", self.train_shots)
        if self.inner_optimizer not in INNER_OPTIMIZERS:
            raise ValueError(f"inner_optimizer={self.inner_optimizer!r}; choose from "
                             f"{INNER_OPTIMIZERS}")
        if self.inner_optimizer == "adam" and not type(self).first_order:
            raise ValueError(f"inner_optimizer='adam' with algorithm={self.algorithm!r}: Adam "
                             "inner steps are for first-order methods (fomaml, reptile); "
                             "use --inner-optimizer sgd")
        for name in ("meta_batch", "n_way", "k_shot", "n_query", "iterations", "val_every",
                     "val_tasks", "eval_query", "hidden"):
            positive_int(name, getattr(self, name))
        positive_int("test_tasks (>= 2 for a confidence interval)", self.test_tasks, 2)
        check_inner_lr(self.inner_lr)
        check_inner_steps(self.inner_steps)
        check_inner_steps(self.eval_inner_steps)
        unit_interval("epsilon (Reptile's ε)", self.epsilon, "try 1.0 (annealed to 0) or 0.1")
        for name in ("meta_lr", "alpha_lr", "max_seconds"):
            if getattr(self, name) is not None:
                positive_number(name, getattr(self, name))


def _defaults(cls: type) -> dict:
    return {f.name: f.default for f in dataclasses.fields(cls) if f.name != "algorithm"}


def _kind(cls: type) -> tuple[bool, bool, bool]:
    """What the algorithm is (class-level, not fields): MetaConfig(algorithm="metasgd") must not
    pass for Meta-SGD while learning no α, nor MetaConfig(algorithm="fomaml") run second order."""
    return cls.first_order, cls.head_only, cls.learns_alpha
