"""Gradient-based meta-learning: MAML, first-order MAML, Meta-SGD, ANIL, Reptile.

functional.py  the inner loop θ' = θ − α ∇L_support (inner_update, adam_update, inner_loop, adapt)
maml.py        the outer loss (1/T) Σ_i L_query_i(θ'_i) and its meta-gradient; loop or batched path
batched.py     all tasks of a meta-batch in one pass (grouped convolutions, per-task batch norm)
compiled.py    the batched pass under torch.compile (inner gradients by torch.func.grad)
meta_sgd.py    a learned α per parameter
reptile.py     θ ← θ + ε (mean_i φ̃_i − θ)
toy2d.py       the same updates on 2-D quadratics, for drawing
sinusoid.py    MAML vs a pre-trained network on sine regression (Finn et al., Fig. 2)
train.py       meta-training / meta-testing loop, checkpoints, accuracy ± 95% CI
bench.py       seconds per meta-iteration; all methods in one comparison table
gradcheck.py   finite-difference checks of meta-gradients
"""

from .functional import adam_update, adapt, inner_loop, inner_update, task_loss
from .maml import adapted_predictions, maml_outer_loss, meta_gradient
from .meta_sgd import init_alphas, meta_sgd_outer_loss
from .reptile import reptile_step, reptile_update
from .train import MetaConfig, meta_test, meta_train, new_learner, run_meta

__all__ = ["MetaConfig", "adam_update", "adapt", "adapted_predictions", "init_alphas", "inner_loop",
           "inner_update", "maml_outer_loss", "meta_gradient", "meta_sgd_outer_loss", "meta_test",
           "meta_train", "new_learner", "reptile_step", "reptile_update", "run_meta", "task_loss"]
