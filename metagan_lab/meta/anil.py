"""ANIL, "almost no inner loop" (Raghu, Raghu, Bengio & Vinyals 2020).

MAML whose inner loop adapts only the classifier head: θ'_head = θ_head − α ∇_head L_support,
the body's features stay as meta-learned. ``InnerLoop(adapted=head_names(params))``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..types import Params
from .maml import MAMLConfig


def head_names(params: Params) -> tuple[str, ...]:
    """The parameters ANIL adapts: those of the classifier head."""
    names = tuple(n for n in params if n.startswith("head."))
    if not names:
        raise ValueError("ANIL adapts the head only, but the model has no 'head.*' parameters; "
                         "build Conv4 with n_classes set")
    return names


@dataclass(frozen=True)
class ANILConfig(MAMLConfig):
    """MAML's Omniglot setting with a head-only inner loop."""

    algorithm: str = "anil"
    head_only: ClassVar[bool] = True
