"""Gradient-based meta-learning: MAML, first-order MAML, Meta-SGD, Reptile."""

from .functional import adapt, inner_update, task_loss

__all__ = ["adapt", "inner_update", "task_loss"]
