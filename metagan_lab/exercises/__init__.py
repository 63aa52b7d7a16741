"""Exercises with automatic checks, one ``check_…`` per function a learner writes.

module          exercises (notebooks/exercises/<notebook>.ipynb)
protonets.py    prototypes, squared_distances          ex01_prototypes_and_distances
maml.py         inner_update, maml_query_loss          ex02_inner_update_and_maml
reptile.py      sgd_steps, reptile_update              ex03_reptile_step
meta_sgd.py     meta_sgd_update                        ex04_meta_sgd_update
evaluation.py   accuracy, mean_ci95                    ex05_reporting_results
gan.py          generator_loss_nonsaturating,          ex06_gan_losses
                r1_penalty
generation.py   reparameterize, kl_divergence          ex07_vae_terms
restoration.py  total_variation, psnr                  ex08_restoration_prior_and_psnr
families.py     cosine_attention, relation_mse         ex09_matching_attention_and_relation_loss
                offset_labels, prototype_head          ex10_offset_labels_and_prototype_head

Usage in a notebook::

    from metagan_lab import exercises as ex
    def prototypes(support_emb, support_y, n_way): ...      # the learner's code
    ex.check_prototypes(prototypes)

A check returns True when every case agrees, False (with a note) while the exercise cell still
raises NotImplementedError, and raises ExerciseFailed with the failing case, expected vs got and a
hint otherwise. The core library does not import this package.

The reference solutions are not part of the package: they live in the nbgrader sources of the
exercise notebooks, ``course/source/exNN/*.ipynb`` in the repository, between ``### BEGIN
SOLUTION`` and ``### END SOLUTION``; ``notebooks/exercises/`` holds the student versions that
``nbgrader generate_assignment`` makes from them (``make exercises``).
"""

from __future__ import annotations

from .checking import Case, Exercise, ExerciseFailed, Mistake, run_check
from .evaluation import ACCURACY, MEAN_CI95, check_accuracy, check_mean_ci95
from .families import (
    COSINE_ATTENTION,
    OFFSET_LABELS,
    PROTOTYPE_HEAD,
    RELATION_MSE,
    check_cosine_attention,
    check_offset_labels,
    check_prototype_head,
    check_relation_mse,
)
from .gan import (
    GENERATOR_LOSS_NONSATURATING,
    R1_PENALTY,
    check_generator_loss_nonsaturating,
    check_r1_penalty,
)
from .generation import KL_DIVERGENCE, REPARAMETERIZE, check_kl_divergence, check_reparameterize
from .maml import INNER_UPDATE, MAML_QUERY_LOSS, check_inner_update, check_maml_query_loss
from .meta_sgd import META_SGD_UPDATE, check_meta_sgd_update
from .protonets import PROTOTYPES, SQUARED_DISTANCES, check_prototypes, check_squared_distances
from .reptile import REPTILE_UPDATE, SGD_STEPS, check_reptile_update, check_sgd_steps
from .restoration import PSNR, TOTAL_VARIATION, check_psnr, check_total_variation

EXERCISES: dict[str, Exercise] = {e.name: e for e in (
    PROTOTYPES, SQUARED_DISTANCES,
    INNER_UPDATE, MAML_QUERY_LOSS,
    SGD_STEPS, REPTILE_UPDATE,
    META_SGD_UPDATE,
    ACCURACY, MEAN_CI95,
    GENERATOR_LOSS_NONSATURATING, R1_PENALTY,
    REPARAMETERIZE, KL_DIVERGENCE,
    TOTAL_VARIATION, PSNR,
    COSINE_ATTENTION, RELATION_MSE,
    OFFSET_LABELS, PROTOTYPE_HEAD,
)}

__all__ = ["EXERCISES", "Case", "Exercise", "ExerciseFailed", "Mistake", "check_accuracy",
           "check_cosine_attention", "check_generator_loss_nonsaturating", "check_inner_update",
           "check_kl_divergence", "check_maml_query_loss", "check_mean_ci95",
           "check_meta_sgd_update", "check_offset_labels", "check_prototype_head",
           "check_prototypes", "check_psnr", "check_r1_penalty", "check_relation_mse",
           "check_reparameterize", "check_reptile_update", "check_sgd_steps",
           "check_squared_distances", "check_total_variation", "run_check"]
