"""Every few-shot algorithm of the library in one table: name → family, config, help, paper.

It joins the two registries that train them: ``meta.registry`` (gradient-based meta-learning on
``meta.train``: MAML, FOMAML, Meta-SGD, ANIL, Reptile) and ``methods`` (the episodic
core ``fewshot.episodic``: Matching and Relation Networks, Proto-MAML, the supervised baselines),
plus Prototypical Networks (``fewshot.train``). Each runs as ``metagan-lab train <name>``.

    >>> from metagan_lab.algorithms import ALGORITHMS, by_family
    >>> ALGORITHMS["relation"].family
    'metric'
    >>> sorted(by_family("baseline"))
    ['finetune', 'simpleshot']
"""

from __future__ import annotations

from dataclasses import dataclass

from .fewshot.episodic import FAMILIES
from .fewshot.train import ProtoNetConfig
from .meta.registry import ALGORITHMS as META_ALGORITHMS
from .methods import METHODS


@dataclass(frozen=True)
class Algorithm:
    name: str
    family: str        # one of FAMILIES
    config: type       # the config class; its defaults are the paper's setting
    help: str
    paper: str
    registry: str      # where it lives: "meta.registry", "methods" or "fewshot.train"

    @property
    def command(self) -> str:
        return f"metagan-lab train {self.name}"


ALGORITHMS: dict[str, Algorithm] = {
    **{name: Algorithm(name, "gradient-based", a.config, a.help, a.paper, "meta.registry")
       for name, a in META_ALGORITHMS.items()},
    "protonet": Algorithm("protonet", "metric", ProtoNetConfig,
                          "Prototypical Networks: nearest class mean in a learned embedding",
                          "Snell et al. 2017", "fewshot.train"),
    **{name: Algorithm(name, m.family, m.config, m.help, m.paper, "methods")
       for name, m in METHODS.items()},
}

_NAMES = [*META_ALGORITHMS, "protonet", *METHODS]
if len(set(_NAMES)) != len(_NAMES):   # one name, one `train` sub-command
    raise RuntimeError(f"two registries use the same algorithm name: {sorted(_NAMES)}")


def by_family(family: str) -> dict[str, Algorithm]:
    """The algorithms of one family (gradient-based, metric, baseline, black-box,
    generated-init)."""
    if family not in FAMILIES:
        raise ValueError(f"family={family!r}; choose from {FAMILIES}")
    return {n: a for n, a in ALGORITHMS.items() if a.family == family}


__all__ = ["ALGORITHMS", "FAMILIES", "Algorithm", "by_family"]
