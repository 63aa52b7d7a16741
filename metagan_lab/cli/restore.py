"""`metagan-lab train restore`: meta-learn a restorer over degradations and compare baselines."""

from __future__ import annotations

import argparse
import time

import torch

from ..device import resolve_device
from ..restore.degradations import parse_kinds
from ..restore.evaluate import format_table
from ..restore.experiment import ExperimentConfig, run_experiment
from ..restore.meta import METHODS, RestoreMetaConfig
from ..runs import prepare_out, save, write_result
from ..runs.kinds import restorer as restorer_format
from .common import add_common, emit, positive_float, positive_int


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _steps(text: str) -> tuple[int, ...]:
    try:
        steps = tuple(sorted({int(s) for s in text.split(",") if s.strip()}))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"steps must be integers like 0,1,5,10: {exc}") from exc
    if not steps or steps[0] < 0:
        raise argparse.ArgumentTypeError(f"steps must be integers >= 0, got {text!r}")
    return steps


def experiment_config(args: argparse.Namespace) -> ExperimentConfig:
    """The ``ExperimentConfig`` of the options ``add_experiment_options`` adds."""
    meta = RestoreMetaConfig(method=args.method, inner_lr=args.inner_lr,
                             inner_steps=args.inner_steps, meta_lr=args.meta_lr,
                             epsilon=args.epsilon, meta_batch=args.meta_batch, k_shot=args.k_shot,
                             n_query=args.queries, tv_weight=args.tv_weight,
                             self_supervised=args.self_supervised,
                             inner_optimizer=args.inner_optimizer,
                             adapt_optimizer=args.adapt_optimizer, adapt_lr=args.adapt_lr,
                             normalize=args.normalize)
    return ExperimentConfig(meta=meta, kinds=parse_kinds(args.degradations), source=args.images,
                            iterations=args.iterations, hidden=args.hidden, depth=args.depth,
                            bias=not args.bias_free,
                            pretrain_iterations=args.pretrain_iterations,
                            pretrain_lr=args.pretrain_lr, warm_start=args.warm_start,
                            eval_tasks=args.eval_tasks, steps=args.steps, seed=args.seed,
                            self_supervised_rows=not args.no_self_supervised_rows)


def run_train(args: argparse.Namespace) -> int:
    """Check --out, run the experiment, save the restorer checkpoint and the results table."""
    cfg = experiment_config(args)
    device = resolve_device(args.device)
    name = f"restore_{args.method}"
    out_dir = prepare_out(args.out, args.overwrite, [f"{name}.pt", f"{name}_results.json"])
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    out = run_experiment(cfg, device, progress=not args.quiet)
    path = save(restorer_format.checkpoint(out), out_dir / f"{name}.pt")
    result = {"algorithm": f"restore-{args.method}", "images": args.images,
              "degradations": ",".join(cfg.kinds), "iterations": cfg.iterations,
              "device": out["device"], "seconds": round(time.perf_counter() - start, 2),
              "seconds_meta": round(out["seconds_meta"], 2),
              "seconds_pretrain": round(out["seconds_pretrain"], 2),
              "final_meta_loss": out["history_meta"][-1] if out["history_meta"] else None,
              "checkpoint": str(path), "table": out["rows"]}
    write_result(result, out_dir / f"{name}_results.json")
    if args.json:
        emit(result, True)
    else:
        emit({k: v for k, v in result.items() if k != "table"}, False)
        print(format_table(out["rows"]))
    return 0


def add_experiment_options(p: argparse.ArgumentParser) -> None:
    """Every option of a restoration experiment (``experiment_config`` reads them back); shared
    by ``train restore`` and ``scripts/restore_results.py``."""
    d = RestoreMetaConfig()
    p.add_argument("--method", default=d.method, choices=METHODS)
    p.add_argument("--images", default="natural", choices=("natural", "glyphs", "omniglot"),
                   help="clean images: skimage photographs (32×32 patches) or 28×28 characters")
    p.add_argument("--degradations", default="all",
                   help="comma list of noise,blur,motion,inpaint,downsample (or 'all')")
    p.add_argument("--iterations", type=positive_int, default=300,
                   help="meta-steps (the pre-trained baseline gets as many Adam steps)")
    p.add_argument("--meta-batch", type=positive_int, default=d.meta_batch)
    p.add_argument("--k-shot", type=positive_int, default=d.k_shot, help="K support pairs")
    p.add_argument("--queries", type=positive_int, default=d.n_query, help="Q query pairs")
    p.add_argument("--inner-lr", type=positive_float, default=d.inner_lr, help="α")
    p.add_argument("--inner-steps", type=positive_int, default=d.inner_steps, help="k in training")
    p.add_argument("--inner-optimizer", default=d.inner_optimizer, choices=("sgd", "adam"),
                   help="inner-loop optimiser (adam: fomaml / reptile only)")
    p.add_argument("--adapt-optimizer", default=None, choices=("sgd", "adam"),
                   help="test-time adaptation optimiser (default: --inner-optimizer)")
    p.add_argument("--adapt-lr", type=positive_float, default=None,
                   help="test-time step size (default: --inner-lr)")
    p.add_argument("--pretrain-iterations", type=positive_int, default=None,
                   help="Adam steps of the pooled baseline (default: --iterations)")
    p.add_argument("--pretrain-lr", type=positive_float, default=None,
                   help="Adam step of the pooled baseline (default: --meta-lr)")
    p.add_argument("--normalize", action="store_true",
                   help="each task's loss relative to its degraded input's MSE (equal weight "
                        "per degradation)")
    p.add_argument("--warm-start", action="store_true",
                   help="meta-train from the pre-trained weights (MZSR's meta-transfer); the "
                        "baseline then trains on as many more tasks")
    p.add_argument("--meta-lr", type=positive_float, default=d.meta_lr, help="β (Adam)")
    p.add_argument("--epsilon", type=positive_float, default=d.epsilon, help="Reptile's ε")
    p.add_argument("--tv-weight", type=_non_negative_float, default=d.tv_weight, help="λ")
    p.add_argument("--self-supervised", action="store_true",
                   help="meta-train with the MZSR inner loop on (A_s(y), y) pairs")
    p.add_argument("--no-self-supervised-rows", action="store_true",
                   help="skip the self-supervised adaptation rows of the table")
    p.add_argument("--hidden", type=positive_int, default=32)
    p.add_argument("--depth", type=positive_int, default=4)
    p.add_argument("--bias-free", action="store_true",
                   help="bias-free convolutions (Mohan et al. 2020): F(a·y) = a·F(y), so a "
                        "denoiser trained on some noise levels generalises to others")
    p.add_argument("--eval-tasks", type=positive_int, default=10,
                   help="test tasks per unseen setting (>= 2)")
    p.add_argument("--steps", type=_steps, default=(0, 1, 5, 10),
                   help="adaptation steps to report, e.g. 0,1,5,10")


def register(groups: dict) -> None:
    p = groups["train"].add_parser(
        "restore", help="meta-learned image restoration (MAML / FOMAML / Reptile, MZSR-style)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_common(p, overwrite=True)
    add_experiment_options(p)
    p.set_defaults(run=run_train)
