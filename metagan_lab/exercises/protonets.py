"""Exercises for notebook 01: prototypes and squared distances (Snell et al. 2017, eqs. 1–2).

exercise            learner writes                                  library reference
prototypes          c_k = (1/|S_k|) Σ_{(x,y)∈S, y=k} f(x)           fewshot.prototypes
squared_distances   d(z_q, c_k) = ‖z_q − c_k‖²                      fewshot.squared_distances
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..fewshot import protonet as ref
from .checking import Case, Exercise, Mistake, randint, randn, run_check


def _reference_prototypes(support_emb: Tensor, support_y: Tensor, n_way: int) -> Tensor:
    return ref.prototypes(support_emb, support_y, n_way)


def _prototype_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        n_way, k_shot, dim = randint(g, 2, 6), randint(g, 1, 5), randint(g, 1, 8)
        y = torch.arange(n_way).repeat_interleave(k_shot)                # class-major
        if i % 2:                                                        # shuffled support set
            y = y[torch.randperm(len(y), generator=g)]
        cases.append(Case(f"random {i + 1}: {n_way}-way {k_shot}-shot, D={dim}"
                          f"{', labels shuffled' if i % 2 else ''}",
                          (randn(g, n_way * k_shot, dim), y, n_way)))
    y = torch.tensor([0, 1, 2])
    cases.append(Case("edge: 1-shot (each prototype is its single example)",
                      (randn(g, 3, 4), y[torch.randperm(3, generator=g)], 3)))
    y = torch.tensor([2, 0, 1, 0, 2, 2])
    cases.append(Case("edge: classes with different numbers of shots", (randn(g, 6, 2), y, 3)))
    return cases


PROTOTYPES = Exercise(
    name="prototypes",
    notebook="ex01_prototypes_and_distances",
    signature="prototypes(support_emb, support_y, n_way) -> Tensor [n_way, D]",
    reference=_reference_prototypes,
    cases=_prototype_cases,
    hint="c_k is the mean of the support embeddings whose label is k: select the rows with "
         "support_y == k, average them over the example axis, and stack the n_way means in "
         "label order.",
    mistakes=(
        Mistake(lambda e, y, n: e.reshape(n, -1, e.shape[-1]).mean(dim=1),
                "the support set is not always sorted by class: use support_y to pick each "
                "class's examples instead of reshaping into [n_way, k_shot, D]."),
        Mistake(lambda e, y, n: torch.stack([e[y == k].sum(dim=0) for k in range(n)]),
                "a prototype is a mean, not a sum: divide by the number of examples of the "
                "class."),
        Mistake(lambda e, y, n: e.mean(dim=0, keepdim=True).expand(n, -1),
                "average per class, not over the whole support set: each class k gets its own "
                "prototype."),
    ),
)


def _reference_distances(z: Tensor, c: Tensor) -> Tensor:
    return ref.squared_distances(z, c)


def _distance_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        q, n, dim = randint(g, 1, 8), randint(g, 2, 6), randint(g, 1, 16)
        cases.append(Case(f"random {i + 1}: {q} queries, {n} prototypes, D={dim}",
                          (randn(g, q, dim), randn(g, n, dim))))
    c = randn(g, 3, 5)
    cases.append(Case("edge: queries equal to the prototypes (zero diagonal)", (c.clone(), c)))
    cases.append(Case("edge: one query, one prototype, D=1", (randn(g, 1, 1), randn(g, 1, 1))))
    return cases


SQUARED_DISTANCES = Exercise(
    name="squared_distances",
    notebook="ex01_prototypes_and_distances",
    signature="squared_distances(z, c) -> Tensor [Q, N]   (z [Q, D] queries, c [N, D] prototypes)",
    reference=_reference_distances,
    cases=_distance_cases,
    hint="entry [q, k] is Σ_d (z[q, d] − c[k, d])²: broadcast z[:, None, :] against c[None, :, :] "
         "and sum the squares over the last axis.",
    mistakes=(
        Mistake(lambda z, c: torch.cdist(z, c),
                "ProtoNets use the *squared* Euclidean distance: do not take the square root."),
        Mistake(lambda z, c: (z[:, None, :] - c[None, :, :]).sum(dim=-1),
                "square the differences before summing over the feature axis."),
        Mistake(lambda z, c: (c[:, None, :] - z[None, :, :]).pow(2).sum(dim=-1),
                "rows are queries and columns are prototypes: the result is [Q, N], not [N, Q]."),
    ),
)


def check_prototypes(fn, seed: int | None = None) -> bool:
    """Check your ``prototypes(support_emb, support_y, n_way)`` against the library's."""
    return run_check(PROTOTYPES, fn, seed)


def check_squared_distances(fn, seed: int | None = None) -> bool:
    """Check your ``squared_distances(z, c)`` against the library's."""
    return run_check(SQUARED_DISTANCES, fn, seed)
