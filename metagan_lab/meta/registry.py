"""The algorithms, in one explicit table: name → config class (paper defaults), outer step, help.

The CLI's ``train`` sub-commands and the notebooks' algorithm menus are generated from it; a new
algorithm is one module with its config and outer step, plus one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .anil import ANILConfig
from .config import MetaConfig
from .maml import FOMAMLConfig, GradientOuterStep, MAMLConfig
from .meta_sgd import MetaSGDConfig
from .reptile import ReptileConfig, ReptileOuterStep


@dataclass(frozen=True)
class Algorithm:
    name: str
    config: type[MetaConfig]
    outer_step: Callable            # (learner, engine, shard) → step(episode, it, done)
    help: str
    paper: str


ALGORITHMS: dict[str, Algorithm] = {a.name: a for a in (
    Algorithm("maml", MAMLConfig, GradientOuterStep, "MAML, second order",
              "Finn, Abbeel & Levine 2017"),
    Algorithm("fomaml", FOMAMLConfig, GradientOuterStep, "first-order MAML",
              "Finn, Abbeel & Levine 2017"),
    Algorithm("metasgd", MetaSGDConfig, GradientOuterStep,
              "Meta-SGD: learned per-parameter inner learning rates", "Li et al. 2017"),
    Algorithm("anil", ANILConfig, GradientOuterStep, "ANIL: adapt the head only",
              "Raghu et al. 2020"),
    Algorithm("reptile", ReptileConfig, ReptileOuterStep, "Reptile", "Nichol et al. 2018"),
)}


def config_for(algorithm: str, **changes) -> MetaConfig:
    """The algorithm's paper setting with ``changes`` applied, e.g.
    ``config_for("reptile", iterations=200)``."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm={algorithm!r}; choose from {tuple(ALGORITHMS)}")
    changes.pop("algorithm", None)
    return ALGORITHMS[algorithm].config(**changes)
