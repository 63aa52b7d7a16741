"""One call that runs the whole comparison: meta-train, pre-train, evaluate every method.

Used by ``metagan-lab train restore`` and by the notebook, so both report the same protocol:
meta-training and the pre-trained baseline see the same number of tasks from the same training
ranges (``iterations`` × ``meta_batch``; with ``warm_start``, meta-training starts from the
pre-trained weights and the baseline trains on as many more tasks); scratch and both learned
inits then adapt with the same α on the same unseen test tasks; the classical method needs no
training.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import torch

from ..device import resolve_device
from ..models import params_of, seeded
from .baselines import pretrain_on_all
from .data import restoration_images
from .degradations import DEGRADATIONS, TaskFamily
from .evaluate import STEPS, Method, compare_methods
from .meta import RestoreMetaConfig, meta_train
from .models import Restorer


@dataclass(frozen=True)
class ExperimentConfig:
    """What to train and how to score it (the meta-learning settings live in ``meta``)."""

    meta: RestoreMetaConfig = field(default_factory=RestoreMetaConfig)
    kinds: tuple[str, ...] = DEGRADATIONS   # degradation families seen in meta-training
    source: str = "natural"                 # natural | glyphs | omniglot
    iterations: int = 300                   # meta-steps (and pre-training steps)
    pretrain_iterations: int | None = None  # Adam steps of the pooled baseline; None: iterations
    pretrain_lr: float | None = None        # its Adam step; None: meta.meta_lr
    warm_start: bool = False                # meta-train from θ_pre (MZSR's meta-transfer)
    hidden: int = 32                        # restorer width
    depth: int = 4                          # restorer convolutions
    bias: bool = True                       # False: bias-free convolutions (``Restorer``)
    eval_tasks: int = 10                    # test tasks per unseen setting
    steps: tuple[int, ...] = STEPS          # adaptation steps reported
    self_supervised_rows: bool = True       # also report MZSR-style (no clean pairs) adaptation
    seed: int = 0


def build_restorer(cfg: ExperimentConfig, seed: int) -> Restorer:
    return seeded(lambda: Restorer(hidden=cfg.hidden, depth=cfg.depth, bias=cfg.bias), seed)


def run_experiment(cfg: ExperimentConfig, device: str | torch.device = "auto",
                   progress: bool = True) -> dict:
    """Pre-train θ_pre, meta-train θ_meta, evaluate all methods on the unseen settings.

    ``warm_start``: θ_meta starts from θ_pre after its ``pretrain_iterations`` (large-scale
    pre-training, then meta-transfer learning, as MZSR), and θ_pre then continues pooled
    training on as many meta-batches as meta-training sees (``iterations``).

    Returns {"rows": table rows, "theta_meta", "theta_pretrained", "history_meta",
    "history_pretrained", "seconds_meta", "seconds_pretrain", "seconds_eval", "device"}.
    """
    dev = resolve_device(device)
    family = TaskFamily(kinds=tuple(cfg.kinds))
    train_images = restoration_images(cfg.source, "train")
    test_images = restoration_images(cfg.source, "test")
    model = build_restorer(cfg, cfg.seed).to(dev)

    fresh = lambda: {n: p.to(dev) for n, p in params_of(model).items()}  # noqa: E731
    pre_iterations = cfg.iterations if cfg.pretrain_iterations is None else cfg.pretrain_iterations
    start = time.perf_counter()
    theta_pre = fresh()                          # params_of copies: the module stays untouched
    history_pre = pretrain_on_all(model, theta_pre, train_images, family, cfg.meta,
                                  pre_iterations, cfg.pretrain_lr, seed=cfg.seed,
                                  progress=progress)
    seconds_pre = time.perf_counter() - start

    theta_meta = ({n: p.detach().clone().requires_grad_() for n, p in theta_pre.items()}
                  if cfg.warm_start else fresh())
    start = time.perf_counter()
    history_meta = meta_train(model, theta_meta, train_images, family, cfg.meta, cfg.iterations,
                              seed=cfg.seed + int(cfg.warm_start), progress=progress)
    seconds_meta = time.perf_counter() - start
    if cfg.warm_start:       # the baseline gets the same extra tasks, pooled (a fair budget)
        start = time.perf_counter()
        history_pre += pretrain_on_all(model, theta_pre, train_images, family, cfg.meta,
                                       cfg.iterations, cfg.pretrain_lr, seed=cfg.seed + 1,
                                       progress=progress)
        seconds_pre += time.perf_counter() - start

    theta_scratch = {n: p.to(dev) for n, p in params_of(build_restorer(cfg, cfg.seed + 1)).items()}
    methods = [Method("meta-learned init", theta_meta), Method("scratch", theta_scratch),
               Method("pretrained on all", theta_pre), Method("classical (skimage)", None)]
    if cfg.self_supervised_rows:
        methods += [Method("meta-learned, self-sup.", theta_meta, True),
                    Method("pretrained, self-sup.", theta_pre, True)]
    start = time.perf_counter()
    rows = compare_methods(model, methods, test_images, family.test_settings(),
                           cfg.meta.test_lr, cfg.meta.tv_weight, cfg.eval_tasks,
                           cfg.meta.k_shot, cfg.meta.n_query, cfg.steps, cfg.seed + 7,
                           progress, optimizer=cfg.meta.test_optimizer)
    return {"rows": rows, "theta_meta": theta_meta, "theta_pretrained": theta_pre,
            "history_meta": history_meta, "history_pretrained": history_pre,
            "seconds_meta": seconds_meta, "seconds_pretrain": seconds_pre,
            "seconds_eval": time.perf_counter() - start, "device": str(dev),
            "config": dataclasses.asdict(cfg)}
