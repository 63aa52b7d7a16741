"""`metagan-lab train <algorithm>` for every algorithm of ``meta.registry``, and `bench maml`.

The sub-commands, their help and their defaults (each algorithm's paper setting) are generated
from the registry; this module only parses arguments.
"""

from __future__ import annotations

import argparse
import dataclasses

from ..device import resolve_device
from ..io import atomic_write_json
from ..meta import distributed
from ..meta.bench import bench_meta_iteration
from ..meta.config import MetaConfig
from ..meta.engines import PATHS
from ..meta.functional import INNER_OPTIMIZERS
from ..meta.registry import ALGORITHMS, config_for
from ..meta.train import run_meta
from ..runs.out import prepare_out
from .common import (
    add_common,
    add_data,
    emit,
    load_split,
    positive_float,
    positive_int,
    resume_overrides,
    resumed_from,
    resumes_in_place,
)


def config_from_args(args: argparse.Namespace, algorithm: str) -> MetaConfig:
    fields = {f.name for f in dataclasses.fields(MetaConfig)} - {"algorithm"}
    values = {name: getattr(args, name) for name in fields if hasattr(args, name)}
    return config_for(algorithm, **values)      # --iterations not given: the algorithm's own


def resumed_config(args: argparse.Namespace, state: dict) -> MetaConfig:
    """A resumed run's config: the checkpoint's, with --iterations and --max-seconds when given."""
    if state["config"]["algorithm"] != args.algorithm:
        raise ValueError(f"--resume {args.resume}: a {state['config']['algorithm']} checkpoint; "
                         f"resume it with `metagan-lab train {state['config']['algorithm']}`")
    return config_for(**{**state["config"], **resume_overrides(args)})


def run_train(args: argparse.Namespace) -> int:
    """Meta-train, test and write ``out/<algorithm>/checkpoint.pt`` and ``results.json``.

    Under ``torchrun`` each process takes a share of every meta-batch (``meta.distributed``);
    only rank 0 writes and prints.
    """
    if args.resume and args.init_from:
        raise ValueError("--resume and --init-from both name a checkpoint to start from; give "
                         "one (--resume: the same run goes on; --init-from: a new run from θ)")
    start_from = None
    if args.resume or args.init_from:
        from ..pretrained import load_checkpoint

        start_from = load_checkpoint(args.resume or args.init_from)
        if start_from.get("kind") != "meta":
            raise ValueError(f"{'--resume' if args.resume else '--init-from'} "
                             f"{args.resume or args.init_from}: not a meta-learning checkpoint")
    cfg = resumed_config(args, start_from) if args.resume else config_from_args(args,
                                                                                args.algorithm)
    shard = distributed.from_environment(resolve_device(args.device))
    device = distributed.local_device(resolve_device(args.device))
    writer = shard is None or shard.rank == 0
    if shard is not None:
        shard.tasks(cfg.meta_batch)         # every process needs at least one task: fail now
    out = args.out / cfg.algorithm
    if writer:
        prepare_out(out, args.overwrite or resumes_in_place(args, out / "checkpoint.pt"),
                    ("checkpoint.pt", "results.json"))
    data, split = load_split(args)
    try:
        _, result = run_meta(cfg, split.train, split.val, split.test, device, out,
                             progress=not args.quiet and writer, start_from=start_from,
                             shard=shard, resume=bool(args.resume))
    finally:
        distributed.finish(shard)
    if not writer:
        return 0
    if args.init_from:
        result["init_from"] = str(args.init_from)
    if args.resume:
        result["resumed_from"] = resumed_from(args, start_from)
    result.update(dataset=data.source, checkpoint=str(out / "checkpoint.pt"),
                  processes=shard.world if shard else 1)
    atomic_write_json(result, out / "results.json")
    emit(result, args.json)
    return 0


def run_bench(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    cfg = config_from_args(args, args.algorithm)
    data, split = load_split(args)
    result = bench_meta_iteration(cfg, split.train.images, device, args.warmup, args.repeat,
                                  check=not args.no_check)
    result["dataset"] = data.source
    emit(result, args.json)
    return 0


def _meta_options(p: argparse.ArgumentParser, defaults: MetaConfig) -> None:
    p.add_argument("--ways", dest="n_way", type=positive_int, default=defaults.n_way, help="N")
    p.add_argument("--shots", dest="k_shot", type=positive_int, default=defaults.k_shot, help="K")
    p.add_argument("--train-shots", type=positive_int, default=defaults.train_shots,
                   help="K while meta-training (default: --shots; Reptile's paper trains 1-shot "
                        "models with 10)")
    p.add_argument("--queries", dest="n_query", type=positive_int, default=defaults.n_query,
                   help="Q query images per class while meta-training")
    p.add_argument("--meta-batch", type=int, default=defaults.meta_batch,
                   help="T tasks per outer step")
    p.add_argument("--inner-lr", type=float, default=defaults.inner_lr,
                   help="α (Meta-SGD: its initial value)")
    p.add_argument("--inner-steps", type=int, default=defaults.inner_steps,
                   help="k inner steps while meta-training")
    p.add_argument("--inner-optimizer", default=defaults.inner_optimizer,
                   choices=INNER_OPTIMIZERS,
                   help="the inner steps: plain SGD, or Adam with β1 = 0 (Reptile's experiments; "
                        "then --inner-lr is Adam's step, e.g. 0.001)")
    p.add_argument("--path", default=defaults.path, choices=PATHS,
                   help="batched: all tasks in one pass; compiled: batched under torch.compile "
                        "(CUDA graphs on GPUs; compiles on the first iteration); loop: one task "
                        "at a time; auto: batched on GPUs, loop on CPUs (same numbers)")
    p.add_argument("--hidden", type=positive_int, default=defaults.hidden, help="Conv-4 filters")
    p.add_argument("--epsilon", type=positive_float, default=defaults.epsilon,
                   help="Reptile's outer step ε (annealed linearly to 0)")


def register(groups: dict) -> None:
    for algorithm, entry in ALGORITHMS.items():
        defaults = entry.config()
        p = groups["train"].add_parser(algorithm, help=f"{entry.help} ({entry.paper})",
                                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        add_common(p, overwrite=True)
        add_data(p)
        _meta_options(p, defaults)
        p.add_argument("--eval-inner-steps", type=int, default=defaults.eval_inner_steps,
                       help="k inner steps at validation and test")
        p.add_argument("--meta-lr", type=positive_float, default=defaults.meta_lr,
                       help="β, Adam's learning rate on the outer loss")
        p.add_argument("--alpha-lr", type=positive_float, default=None,
                       help="Meta-SGD: Adam's learning rate for α (default: --meta-lr)")
        p.add_argument("--iterations", type=positive_int, default=argparse.SUPPRESS,
                       help=f"outer steps (default: {defaults.iterations}; with --resume, the "
                            "checkpoint run's)")
        p.add_argument("--max-seconds", type=positive_float, default=None,
                       help="stop meta-training after this many seconds of wall time "
                            "(validation included), then test")
        p.add_argument("--init-from", default=None,
                       help="start a new run from a checkpoint's θ (and α): a .pt file or "
                            "pretrained:<name>; Adam starts afresh")
        p.add_argument("--resume", default=None,
                       help="go on with the run of this checkpoint.pt (e.g. after an "
                            "interruption, or with a larger --iterations): its config, Adam "
                            "state, episode stream and Reptile ε; other training options are "
                            "ignored, --max-seconds counts from now")
        p.add_argument("--val-every", type=positive_int, default=defaults.val_every)
        p.add_argument("--val-tasks", type=positive_int, default=defaults.val_tasks)
        p.add_argument("--test-tasks", type=positive_int, default=defaults.test_tasks)
        p.add_argument("--eval-queries", dest="eval_query", type=positive_int,
                       default=defaults.eval_query, help="query images per class at test")
        p.set_defaults(run=run_train, algorithm=algorithm)

    b = groups["bench"].add_parser(
        "maml", help="seconds per meta-iteration, tasks/s and peak memory",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_common(b, out=None)
    add_data(b)
    _meta_options(b, MetaConfig())
    fields = {f.name for f in dataclasses.fields(MetaConfig)}
    for action in b._actions:            # unset options take --algorithm's paper setting
        if action.dest in fields:
            action.default, action.help = argparse.SUPPRESS, f"{action.help} (default: the " \
                "algorithm's paper setting)"
    b.add_argument("--algorithm", default="maml", choices=tuple(ALGORITHMS))
    b.add_argument("--warmup", type=int, default=2, help="untimed iterations first")
    b.add_argument("--repeat", type=positive_int, default=5, help="timed iterations (median)")
    b.add_argument("--no-check", action="store_true",
                   help="skip comparing the path's meta-gradient with the per-task loop's")
    b.set_defaults(run=run_bench)
