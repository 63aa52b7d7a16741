"""Shared types: explicit parameter dicts and the few-shot episode.

paper symbol      code name
θ                 params (a ``Params`` dict, name → tensor)
N-way, K-shot, Q  n_way, k_shot, n_query
support / query   support_x, support_y / query_x, query_y
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

Params = dict[str, Tensor]


class Episode(NamedTuple):
    """A batch of few-shot tasks; labels are remapped to 0..N−1, class-major order.

    Shapes (T tasks, N ways, K shots, Q queries per class):
      support_x [T, N*K, C, H, W]   support_y [T, N*K]
      query_x   [T, N*Q, C, H, W]   query_y   [T, N*Q]
    """

    support_x: Tensor
    support_y: Tensor
    query_x: Tensor
    query_y: Tensor

    @property
    def n_tasks(self) -> int:
        return self.support_x.shape[0]

    def to(self, device) -> Episode:
        return Episode(*(t.to(device) for t in self))
