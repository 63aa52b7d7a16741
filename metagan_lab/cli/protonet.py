"""`metagan-lab train protonet` (evaluating any checkpoint is `metagan-lab eval`, cli/eval.py)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from ..device import resolve_device
from ..fewshot.train import Checkpointing, ProtoNetConfig, evaluate_protonet, train_protonet
from ..io import safe_load
from ..runs import check, check_fits, prepare_out, write_result
from ..runs.kinds import protonet as protonet_format
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

CHECKPOINT, RESULTS = "protonet.pt", "protonet_results.json"
ITERATIONS = ProtoNetConfig().iterations

__all__ = ["load_split", "register", "run_train"]   # load_split: cli.common's, kept importable


def episode_args(p: argparse.ArgumentParser, queries: int) -> None:
    """--ways, --shots, --queries of the test episodes."""
    p.add_argument("--ways", type=positive_int, default=5, help="N test ways")
    p.add_argument("--shots", type=positive_int, default=1, help="K shots")
    p.add_argument("--queries", type=positive_int, default=queries, help="Q queries per class")


def config_from_args(args: argparse.Namespace) -> ProtoNetConfig:
    return ProtoNetConfig(n_way=args.train_ways or args.ways, k_shot=args.shots,
                          n_query=args.queries, iterations=getattr(args, "iterations", ITERATIONS),
                          lr=args.lr, lr_halve_every=args.lr_halve_every, distance=args.distance,
                          seed=args.seed)


def resumed_config(args: argparse.Namespace, state: dict) -> ProtoNetConfig:
    """A resumed run's training config: the checkpoint's, with --iterations when given."""
    if state.get("kind") != "protonet":
        raise ValueError(f"--resume {args.resume}: not a ProtoNet checkpoint (kind "
                         f"{state.get('kind')!r}); resume it with the command that made it")
    return ProtoNetConfig(**{**state["config"], **resume_overrides(args)})


def run_train(args: argparse.Namespace) -> int:
    """Check --out and the episode shapes, train, test, save the checkpoint and the results."""
    device = resolve_device(args.device)
    state = safe_load(args.resume) if args.resume else None
    cfg = resumed_config(args, state) if state is not None else config_from_args(args)
    out = prepare_out(args.out, args.overwrite or resumes_in_place(args, args.out / CHECKPOINT),
                      [CHECKPOINT, RESULTS])
    torch.manual_seed(args.seed)
    data, split = load_split(args)
    check_fits(split.train, "training", cfg.n_way, cfg.k_shot, cfg.n_query,
               "--train-ways" if args.train_ways else "--ways")
    check_fits(split.test, "test", args.ways, args.shots, args.queries)
    test = {"ways": args.ways, "shots": args.shots, "queries": args.queries}
    fields = lambda encoder: check(protonet_format.checkpoint(  # noqa: E731
        encoder, cfg, data.source, args.split, not args.no_rotations, test))
    start = time.perf_counter()
    encoder, history = train_protonet(cfg, split.train, device, progress=not args.quiet,
                                      checkpoint=Checkpointing(out / CHECKPOINT, fields,
                                                               args.checkpoint_every),
                                      resume=state)
    train_seconds = time.perf_counter() - start
    result = evaluate_protonet(encoder, split.test, args.ways, args.shots, args.queries,
                               args.test_episodes, cfg.distance, seed=args.seed + 1,
                               device=device, progress=not args.quiet)
    path = out / CHECKPOINT         # the loop's last checkpoint: every one is checked (fields)
    result.update(algorithm="protonet", dataset=data.source, seconds=round(train_seconds, 2),
                  iterations=cfg.iterations, device=str(device), checkpoint=str(path),
                  train_ways=cfg.n_way, final_train_loss=history["loss"][-1])
    if state is not None:
        result["resumed_from"] = resumed_from(args, state)
    write_result(result, out / RESULTS)
    emit(result, args.json)
    return 0


def register(groups: dict) -> None:
    p = groups["train"].add_parser(
        "protonet", help="Prototypical Networks (Snell et al. 2017)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_common(p, overwrite=True)
    add_data(p)
    episode_args(p, queries=15)
    p.add_argument("--train-ways", type=positive_int, default=None,
                   help="ways during training (Snell et al.: 60 for 1-shot); default = --ways")
    p.add_argument("--iterations", type=positive_int, default=argparse.SUPPRESS,
                   help=f"training episodes (default: {ITERATIONS}; with --resume, the "
                        "checkpoint run's)")
    p.add_argument("--checkpoint-every", type=positive_int, default=500,
                   help="save the run (resumable) every this many episodes, and at the end")
    p.add_argument("--resume", type=Path, default=None,
                   help="go on with the run of this protonet.pt (after an interruption, or with "
                        "a larger --iterations): its training config, Adam state, schedule and "
                        "episode stream; the test options (--ways, --shots, …) still apply")
    p.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate")
    p.add_argument("--lr-halve-every", type=positive_int, default=2000)
    p.add_argument("--distance", default="euclidean", choices=("euclidean", "cosine"))
    p.add_argument("--test-episodes", type=positive_int, default=600)
    p.set_defaults(run=run_train)
