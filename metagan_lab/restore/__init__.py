"""Meta-learned image restoration: degradations as tasks, a restorer that adapts in a few steps.

Modules (one concept each):
  degradations.py  noise, Gaussian / motion blur, inpainting masks, down-sampling, exposure;
                   bursts (N shots fused); task families
  data.py          clean images (skimage photographs, glyphs / Omniglot) and the task sampler
  models.py        Restorer: F_θ(y) = y + g_θ(y), a small residual CNN (functional_call)
  objectives.py    L(F) + λ R(F), R the total variation
  metrics.py       PSNR and SSIM (torchmetrics)
  meta.py          a task's two losses (RestorerTask, a meta.task.Task); MAML / FOMAML /
                   Reptile over degradations by the core's algorithms; MZSR-style adaptation
  baselines.py     scratch, pre-trained on all degradations, classical scikit-image methods
  adaptation.py    what adapts at test time: all weights, one gain per channel (GainTuning), head
  hyper.py         a learned TV weight λ: hypergradient of the validation loss through the steps
  evaluate.py      PSNR / SSIM after 0, 1, 5, 10 steps on unseen degradations, for every method

Explained in ``notebooks/08_meta_restoration.ipynb``.
"""

from .adaptation import MODES, adapt_mode, apply_gains, gain_params, head_names
from .baselines import classical_restore, pretrain_on_all, scratch_params
from .data import RestorationTask, restoration_images, sample_task
from .degradations import (
    DEGRADATIONS,
    KINDS,
    TEST_SETTINGS,
    TRAIN_RANGES,
    Observation,
    Setting,
    TaskFamily,
    add_noise,
    blur,
    burst,
    degrade,
    degrade_burst,
    downsample,
    exposure,
    fuse_burst,
    gaussian_kernel,
    motion_kernel,
    random_mask,
)
from .evaluate import STEPS, Method, adaptation_curve, compare_methods, format_table
from .hyper import hypergradient, learn_tv_weight, validation_loss
from .meta import (
    RestoreMetaConfig,
    RestorerTask,
    adapt_restorer,
    maml_meta_loss,
    meta_step,
    meta_train,
    restorer_task,
    self_supervised_pairs,
)
from .metrics import psnr, ssim
from .models import Restorer
from .objectives import data_fidelity, restoration_loss, restoration_loss_fn, total_variation

__all__ = [
    "DEGRADATIONS", "STEPS", "TEST_SETTINGS", "TRAIN_RANGES", "Method", "Observation",
    "RestorationTask", "RestoreMetaConfig", "Restorer", "RestorerTask", "Setting", "TaskFamily",
    "adapt_restorer", "adaptation_curve", "add_noise", "blur", "classical_restore",
    "compare_methods", "data_fidelity", "degrade", "downsample", "format_table",
    "gaussian_kernel", "maml_meta_loss", "meta_step", "meta_train", "motion_kernel",
    "pretrain_on_all", "psnr", "random_mask", "restoration_images", "restoration_loss",
    "restoration_loss_fn", "restorer_task", "sample_task", "scratch_params",
    "self_supervised_pairs", "ssim", "total_variation",
    "KINDS", "MODES", "adapt_mode", "apply_gains", "burst", "degrade_burst", "exposure",
    "fuse_burst", "gain_params", "head_names", "hypergradient", "learn_tv_weight",
    "validation_loss",
]
