"""Gradient-based meta-learning: MAML, first-order MAML, Meta-SGD, Reptile."""

from .functional import adapt, inner_update, task_loss
from .reptile import reptile_update

__all__ = ["adapt", "inner_update", "reptile_update", "task_loss"]
