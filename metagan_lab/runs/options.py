"""What an evaluation may be asked: one option set for every kind, each kind using a subset."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..checks import positive_int


@dataclass(frozen=True)
class EvalOptions:
    """``None`` means the kind's default (the checkpoint's own protocol where it records one).

    ways, shots, queries   N, K and Q of the test episodes (classifiers); shots: K of the
                           few-shot GAN and of the restorer's support pairs
    episodes               test tasks (classifiers), unseen classes (few-shot GAN), tasks per
                           unseen degradation (restorer)
    inner_steps            adaptation steps (MAML family, few-shot GAN, restorer)
    samples                generated images (or points) compared with real ones (generators)
    is_classes             train an in-domain IS classifier on this many training classes and
                           report the Inception Score (few-shot generators; ~25 s)
    seed                   draws the test tasks / noise
    """

    ways: int | None = None
    shots: int | None = None
    queries: int | None = None
    episodes: int | None = None
    inner_steps: int | None = None
    samples: int | None = None
    is_classes: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "seed" or value is None:
                continue
            positive_int(f.name, value, {"inner_steps": 0, "is_classes": 2}.get(f.name, 1))


def flag(name: str) -> str:
    """The command-line spelling of an option: inner_steps → --inner-steps."""
    return "--" + name.replace("_", "-")


def check_applicable(kind: str, options: EvalOptions, allowed: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming the first option set that a ``kind`` checkpoint does not use."""
    for f in dataclasses.fields(options):
        if f.name != "seed" and getattr(options, f.name) is not None and f.name not in allowed:
            usable = ", ".join(flag(n) for n in allowed) or "none"
            raise ValueError(f"{flag(f.name)} does not apply to a {kind} checkpoint; its options "
                             f"are {usable}")


def with_defaults(options: EvalOptions, defaults: dict, allowed: tuple[str, ...]) -> EvalOptions:
    """Fill the options left ``None`` from ``defaults`` (e.g. a shipped model's protocol)."""
    fill = {k: v for k, v in defaults.items()
            if k in allowed and getattr(options, k, 0) is None and v is not None}
    return dataclasses.replace(options, **fill)
