"""Gradient-based meta-learning: MAML, first-order MAML, Meta-SGD, ANIL, Reptile.

functional.py  the inner loop θ' = θ − α ∇L_support: InnerLoop, inner_update, adam_update, adapt
maml.py        MAML / FOMAML: the outer loss (1/T) Σ_i L_query_i(θ'_i), its meta-gradient, configs
meta_sgd.py    a learned α per parameter
anil.py        the head-only inner loop
reptile.py     θ ← θ + ε (mean_i φ̃_i − θ), with the paper's setting as ReptileConfig()
config.py      MetaConfig, the settings all algorithms share
registry.py    the algorithms, in one table (CLI and notebooks are generated from it)
engines/       how the per-task terms are computed: loop, batched, compiled (same numbers)
train.py       meta-training on the library's one loop, meta-testing with accuracy ± 95% CI
distributed.py torchrun: a meta-batch's tasks sharded over processes
toy2d.py       the same updates on 2-D quadratics, for drawing
sinusoid.py    MAML vs a pre-trained network on sine regression (Finn et al., Fig. 2)
adaptation.py  test-time adaptation step by step (the adaptation lab)
bench.py       seconds per meta-iteration; all methods in one comparison table
gradcheck.py   finite-difference checks of meta-gradients
"""

from .anil import ANILConfig, head_names
from .config import MetaConfig
from .functional import InnerLoop, adam_update, adapt, inner_loop, inner_update, task_loss
from .maml import FOMAMLConfig, MAMLConfig, adapted_predictions, maml_outer_loss, meta_gradient
from .meta_sgd import MetaSGDConfig, init_alphas, meta_sgd_outer_loss
from .registry import ALGORITHMS, Algorithm, config_for
from .reptile import ReptileConfig, reptile_step, reptile_update
from .train import MetaLearner, meta_test, meta_train, new_learner, run_meta

__all__ = ["ALGORITHMS", "ANILConfig", "Algorithm", "FOMAMLConfig", "InnerLoop", "MAMLConfig",
           "MetaConfig", "MetaLearner", "MetaSGDConfig", "ReptileConfig", "adam_update", "adapt",
           "adapted_predictions", "config_for", "head_names", "init_alphas", "inner_loop",
           "inner_update", "maml_outer_loss", "meta_gradient", "meta_sgd_outer_loss",
           "meta_test", "meta_train", "new_learner", "reptile_step", "reptile_update",
           "run_meta", "task_loss"]
