"""Exercises for notebooks 09 and 10: the metric learners (Matching and Relation Networks) and the
black-box / generated-initialisation learners (MANN's offset labels, the prototype head).

exercise            learner writes                                   library reference
cosine_attention    a(x̂, x_i) = softmax_i cos(f(x̂), g(x_i))         fewshot.matching.attention
relation_mse        mean_{j,k} (r_{j,k} − 1(y_j = k))²              fewshot.relation.relation_loss
offset_labels       y_{t−1} at each position (zero at t = 1,        blackbox.mann.previous_labels
                    y_{S−1} on every query)
prototype_head      W_k = 2 c_k,  b_k = −‖c_k‖²                     fewshot.protomaml.prototype_head
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..blackbox import mann
from ..fewshot import matching, protomaml, relation
from .checking import Case, Exercise, Mistake, randint, randn, run_check

EX09 = "ex09_matching_attention_and_relation_loss"
EX10 = "ex10_offset_labels_and_prototype_head"


# -- ex09: Matching Networks' attention -------------------------------------------------------

def _reference_attention(f_query: Tensor, g_support: Tensor) -> Tensor:
    return matching.attention(f_query, g_support)


def _attention_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        q, s, dim = randint(g, 2, 7), randint(g, 2, 8), randint(g, 2, 16)
        scale = 1.0 + 4.0 * i                                   # long vectors: cos ≠ dot product
        cases.append(Case(f"random {i + 1}: {q} queries, {s} support images, D={dim}",
                          (scale * randn(g, q, dim), scale * randn(g, s, dim))))
    support = 3.0 * randn(g, 4, 5)
    cases.append(Case("edge: queries that are scaled copies of support images (cosine 1)",
                      (torch.cat([2.0 * support[:2], 0.5 * support[2:3]]), support)))
    cases.append(Case("edge: one support image (all attention on it)",
                      (randn(g, 3, 4), randn(g, 1, 4))))
    return cases


COSINE_ATTENTION = Exercise(
    name="cosine_attention",
    notebook=EX09,
    signature="cosine_attention(f_query, g_support) -> Tensor [Q, S]   (f_query [Q, D], "
              "g_support [S, D])",
    reference=_reference_attention,
    cases=_attention_cases,
    hint="entry [q, i] is the softmax over the support images i of cos(f_q, g_i) = f_q·g_i / "
         "(‖f_q‖ ‖g_i‖): normalise both sets of rows, take all dot products at once, and apply the "
         "softmax along the support axis (each row sums to 1).",
    mistakes=(
        Mistake(lambda f, g: (f @ g.T).softmax(dim=-1),
                "Matching Networks compare with the *cosine*, not the raw dot product: divide each "
                "embedding by its length (torch.nn.functional.normalize) before the dot products."),
        Mistake(lambda f, g: F.normalize(f, dim=-1) @ F.normalize(g, dim=-1).T,
                "the attention is a softmax of the cosines over the support set: each row must "
                "sum to 1."),
        Mistake(lambda f, g: (F.normalize(f, dim=-1) @ F.normalize(g, dim=-1).T).softmax(dim=0),
                "take the softmax over the support images (the last axis, dim=-1), so that each "
                "query's attention sums to 1, not over the queries."),
    ),
)


# -- ex09: Relation Networks' loss --------------------------------------------------------------

def _reference_relation_mse(scores: Tensor, query_y: Tensor) -> Tensor:
    return relation.relation_loss(scores, query_y)


def _relation_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        n_way, q = randint(g, 2, 6), randint(g, 1, 4)
        y = torch.arange(n_way).repeat_interleave(q)
        if i % 2:
            y = y[torch.randperm(len(y), generator=g)]
        scores = torch.rand(len(y), n_way, generator=g, dtype=torch.float64)
        cases.append(Case(f"random {i + 1}: {n_way}-way, {len(y)} queries"
                          f"{', labels shuffled' if i % 2 else ''}", (scores, y)))
    y = torch.tensor([0, 1, 2])
    cases.append(Case("edge: perfect scores (the one-hot labels themselves: loss 0)",
                      (F.one_hot(y, 3).double(), y)))
    cases.append(Case("edge: one query, two classes", (torch.tensor([[0.3, 0.9]],
                                                                     dtype=torch.float64),
                                                       torch.tensor([1]))))
    return cases


RELATION_MSE = Exercise(
    name="relation_mse",
    notebook=EX09,
    signature="relation_mse(scores, query_y) -> scalar Tensor   (scores [Q, N] in [0, 1], "
              "query_y [Q])",
    reference=_reference_relation_mse,
    cases=_relation_cases,
    hint="the target of score r[j, k] is 1 when query j belongs to class k and 0 otherwise (the "
         "one-hot matrix of query_y, same shape as scores); return the mean of the squared "
         "differences over all Q × N entries.",
    mistakes=(
        Mistake(lambda r, y: (r - F.one_hot(y, r.shape[-1]).to(r.dtype)).pow(2).sum(),
                "average the squared errors over all query–class pairs (the mean, as the library "
                "and the authors' code do), not their sum."),
        Mistake(lambda r, y: F.cross_entropy(r, y),
                "Relation Networks regress each score to 0 or 1 with a squared error (MSE), not a "
                "cross-entropy over the classes."),
        Mistake(lambda r, y: (r.softmax(-1) - F.one_hot(y, r.shape[-1]).to(r.dtype)).pow(2).mean(),
                "the relation scores are already in [0, 1] (a sigmoid) and are compared with the "
                "one-hot labels directly: no softmax."),
        Mistake(lambda r, y: (r - y[:, None].to(r.dtype)).pow(2).mean(),
                "the target is the one-hot matrix of the labels (1 at the true class, 0 "
                "elsewhere), not the label index itself."),
    ),
)


# -- ex10: MANN's offset labels -----------------------------------------------------------------

def _reference_offset_labels(support_y: Tensor, n_query: int, n_way: int) -> Tensor:
    return mann.previous_labels(support_y[None], n_query, n_way, torch.float64)[0]


def _offset_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        n_way, k_shot, q = randint(g, 2, 5), randint(g, 1, 3), randint(g, 1, 6)
        y = torch.arange(n_way).repeat_interleave(k_shot)
        y = y[torch.randperm(len(y), generator=g)]              # reading order: shuffled
        cases.append(Case(f"random {i + 1}: {n_way}-way {k_shot}-shot support (shuffled), "
                          f"{q} queries", (y, q, n_way)))
    cases.append(Case("edge: one support item, one query", (torch.tensor([1]), 1, 3)))
    cases.append(Case("edge: no queries (the support sequence alone)",
                      (torch.tensor([2, 0, 1, 0]), 0, 3)))
    return cases


def _shown_own_label(y: Tensor, q: int, n: int) -> Tensor:
    onehot = F.one_hot(y, n).double()
    return torch.cat([onehot, onehot[-1:].expand(q, -1)])


def _queries_zero(y: Tensor, q: int, n: int) -> Tensor:
    onehot = F.one_hot(y, n).double()
    return torch.cat([torch.zeros(1, n, dtype=torch.float64), onehot[:-1],
                      torch.zeros(q, n, dtype=torch.float64)])


def _first_label_repeated(y: Tensor, q: int, n: int) -> Tensor:
    onehot = F.one_hot(y, n).double()
    return torch.cat([onehot[:1], onehot[:-1], onehot[-1:].expand(q, -1)])


OFFSET_LABELS = Exercise(
    name="offset_labels",
    notebook=EX10,
    signature="offset_labels(support_y, n_query, n_way) -> Tensor [S + n_query, n_way]   "
              "(support_y [S] in reading order)",
    reference=_reference_offset_labels,
    cases=_offset_cases,
    hint="row t is the one-hot label of the item *before* position t: a row of zeros first, then "
         "the one-hot labels of support items 0 … S−2, then n_query copies of the last support "
         "label y_{S−1} (every query follows the whole support set).",
    mistakes=(
        Mistake(_shown_own_label,
                "each position shows the label of the *previous* item, never its own: shift the "
                "one-hot labels down by one and put a row of zeros first (else the LSTM just "
                "copies the label it is asked to predict)."),
        Mistake(_queries_zero,
                "every query is read right after the whole support set, so it carries the last "
                "support label y_{S−1}, not zeros."),
        Mistake(_first_label_repeated,
                "the first position has no previous item: its label input is all zeros (no label "
                "has been shown yet), not y_0."),
    ),
)


# -- ex10: Proto-MAML's prototype head ------------------------------------------------------------

def _reference_prototype_head(c: Tensor) -> tuple[Tensor, Tensor]:
    return protomaml.prototype_head(c)


def _head_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        n, dim = randint(g, 2, 6), randint(g, 1, 12)
        cases.append(Case(f"random {i + 1}: {n} prototypes, D={dim}", (randn(g, n, dim),)))
    cases.append(Case("edge: a zero prototype (its row and bias are 0)",
                      (torch.cat([torch.zeros(1, 3, dtype=torch.float64), randn(g, 2, 3)]),)))
    cases.append(Case("edge: one class, D=1", (randn(g, 1, 1),)))
    return cases


PROTOTYPE_HEAD = Exercise(
    name="prototype_head",
    notebook=EX10,
    signature="prototype_head(c) -> (W [N, D], b [N])   (c [N, D] class prototypes)",
    reference=_reference_prototype_head,
    cases=_head_cases,
    hint="expand −‖z − c_k‖² = 2 c_k·z − ‖c_k‖² − ‖z‖²: the last term is the same for every "
         "class, so the linear head W z + b with W_k = 2 c_k and b_k = −‖c_k‖² (the squared "
         "length, summed over D) gives the same softmax. Return the pair (W, b).",
    mistakes=(
        Mistake(lambda c: (c, -c.pow(2).sum(-1)),
                "the weight of class k is 2 c_k, twice the prototype (from expanding the square)."),
        Mistake(lambda c: (2 * c, -c.norm(dim=-1)),
                "the bias is minus the *squared* length −‖c_k‖² = −Σ_d c_{k,d}², not −‖c_k‖."),
        Mistake(lambda c: (2 * c, c.pow(2).sum(-1)),
                "the bias is −‖c_k‖², negative: a far-away prototype must not be favoured."),
    ),
)


def check_cosine_attention(fn, seed: int | None = None) -> bool:
    """Check your ``cosine_attention(f_query, g_support)`` against the library's."""
    return run_check(COSINE_ATTENTION, fn, seed)


def check_relation_mse(fn, seed: int | None = None) -> bool:
    """Check your ``relation_mse(scores, query_y)`` against the library's."""
    return run_check(RELATION_MSE, fn, seed)


def check_offset_labels(fn, seed: int | None = None) -> bool:
    """Check your ``offset_labels(support_y, n_query, n_way)`` against the library's."""
    return run_check(OFFSET_LABELS, fn, seed)


def check_prototype_head(fn, seed: int | None = None) -> bool:
    """Check your ``prototype_head(c)`` against the library's."""
    return run_check(PROTOTYPE_HEAD, fn, seed)
