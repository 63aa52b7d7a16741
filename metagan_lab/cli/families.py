"""`metagan-lab train <method>` for every method of ``metagan_lab.methods`` (Matching and Relation
Networks, Proto-MAML, the fine-tuned head, SimpleShot).

The sub-commands, their help and their defaults (each method's paper setting) are generated from
the registry and the method's config class: the shared options are spelled out here, each
method's own fields become options of their own (``--fce``, ``--inner-lr``, …). This module only
parses arguments and prints; training is ``fewshot.train_episodic``, testing
``fewshot.evaluate_episodic``, and the checkpoint is the ``episodic`` kind (``metagan-lab eval``
and ``sample`` read it).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ..device import resolve_device
from ..fewshot.episodic import EpisodicConfig, Method, evaluate_episodic, train_episodic
from ..io import safe_load
from ..methods import METHODS
from ..runs import check_fits, prepare_out, write_result
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

CHECKPOINT, RESULTS = "checkpoint.pt", "results.json"
TEST_SEED_OFFSET = 12345   # test tasks are drawn apart from the training and validation ones

# option → (config field, type, help) for what every episodic method shares
SHARED = {
    "--ways": ("n_way", positive_int, "N classes per task (training and test)"),
    "--shots": ("k_shot", positive_int, "K support images per class"),
    "--queries": ("n_query", positive_int, "Q query images per class while training"),
    "--meta-batch": ("meta_batch", positive_int, "T tasks per Adam step"),
    "--iterations": ("iterations", positive_int, "Adam steps"),
    "--max-seconds": ("max_seconds", positive_float,
                      "stop training after this many seconds of wall time, then test"),
    "--lr": ("lr", positive_float, "Adam learning rate"),
    "--lr-halve-every": ("lr_halve_every", positive_int,
                         "halve the learning rate every this many steps"),
    "--hidden": ("hidden", positive_int, "Conv-4 filters"),
    "--val-every": ("val_every", positive_int, "validate (and checkpoint) every this many steps"),
    "--val-tasks": ("val_tasks", positive_int, "tasks per validation"),
    "--test-tasks": ("test_tasks", positive_int, "tasks of the final accuracy ± 95%% CI"),
    "--eval-queries": ("eval_query", positive_int, "query images per class at validation and "
                                                   "test"),
}


def own_fields(config: type[EpisodicConfig]) -> list[dataclasses.Field]:
    """The method's own settable fields (not shared, not filled in from the data)."""
    shared = {f.name for f in dataclasses.fields(EpisodicConfig)}
    return [f for f in dataclasses.fields(config)
            if f.name not in shared and f.name not in config.DERIVED]


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def config_from_args(args: argparse.Namespace, method: Method) -> EpisodicConfig:
    values = {field: getattr(args, field) for field, _, _ in SHARED.values()
              if hasattr(args, field)}          # --iterations not given: the method's own
    values.update({f.name: getattr(args, f.name) for f in own_fields(method.config)})
    return method.config(**values, seed=args.seed)


def resumed_config(args: argparse.Namespace, method: Method, state: dict) -> EpisodicConfig:
    """A resumed run's config: the checkpoint's, with --iterations and --max-seconds when given."""
    if state.get("kind") != "episodic" or state.get("method") != method.name:
        what = state.get("method") or state.get("kind") or "unknown"
        raise ValueError(f"--resume {args.resume}: a {what} checkpoint, not {method.name}'s; "
                         f"resume it with the command that made it")
    return method.config(**{**state["config"], **resume_overrides(args)})


def run_train(args: argparse.Namespace) -> int:
    """Check --out and the episode shapes, train, test; ``out/<method>/checkpoint.pt`` (the last
    validated finite state) and ``results.json``."""
    method = METHODS[args.algorithm]
    state = safe_load(args.resume) if args.resume else None
    cfg = (resumed_config(args, method, state) if state is not None
           else config_from_args(args, method))
    out = prepare_out(args.out / method.name,
                      args.overwrite or resumes_in_place(args, args.out / method.name / CHECKPOINT),
                      (CHECKPOINT, RESULTS))
    device = resolve_device(args.device)
    data, split = load_split(args)
    if method.sample is None:           # episodes while training (the baselines: class batches)
        check_fits(split.train, "training", cfg.n_way, cfg.k_shot, cfg.n_query)
    check_fits(split.test, "test", cfg.n_way, cfg.k_shot, 1)
    learner, history = train_episodic(method, cfg, split.train, split.val, device, out,
                                      progress=not args.quiet, resume=state)
    result = evaluate_episodic(learner, split.test, seed=cfg.seed + TEST_SEED_OFFSET,
                               progress=not args.quiet)
    result.update(paper=method.paper, dataset=data.source, device=str(device),
                  iterations=history["iterations"], seconds=round(history["seconds"], 2),
                  final_train_loss=history["loss"][-1],
                  val_accuracy=history["val"][-1][1] if history["val"] else None,
                  checkpoint=str(out / CHECKPOINT))
    if state is not None:
        result["resumed_from"] = resumed_from(args, state)
    write_result(result, out / RESULTS)
    emit(result, args.json)
    return 0


def _add_own(p: argparse.ArgumentParser, config: type[EpisodicConfig]) -> None:
    defaults = config()
    for f in own_fields(config):
        default, text = getattr(defaults, f.name), config.HELP.get(f.name, f.name)
        if isinstance(default, bool):
            p.add_argument(flag(f.name), action=argparse.BooleanOptionalAction, default=default,
                           help=text)
        else:
            p.add_argument(flag(f.name), type=type(default), default=default, help=text)


def register(groups: dict) -> None:
    for name, method in METHODS.items():
        defaults = method.config()
        p = groups["train"].add_parser(
            name, help=f"{method.help} ({method.paper}; {method.family})",
            description=f"{method.help} ({method.paper}). Defaults: the paper's setting.",
            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        add_common(p, overwrite=True)
        add_data(p)
        for option, (field, kind, text) in SHARED.items():
            if field == "iterations":               # absent: the default, or the resumed run's
                p.add_argument(option, dest=field, type=kind, default=argparse.SUPPRESS,
                               help=f"{text} (default: {defaults.iterations}; with --resume, "
                                    "the checkpoint run's)")
            else:
                p.add_argument(option, dest=field, type=kind, default=getattr(defaults, field),
                               help=text)
        p.add_argument("--resume", type=Path, default=None,
                       help="go on with the run of this checkpoint.pt (after an interruption, or "
                            "with a larger --iterations): its config, Adam state and random "
                            "streams; other training options are ignored, --max-seconds counts "
                            "from now")
        _add_own(p, method.config)
        p.set_defaults(run=run_train, algorithm=name)
