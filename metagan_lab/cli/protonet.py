"""`metagan-lab train protonet` and `metagan-lab eval`."""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from ..data import load_classes, meta_split
from ..device import resolve_device
from ..fewshot.train import ProtoNetConfig, evaluate_protonet, train_protonet
from ..io import atomic_save, atomic_write_json
from ..models.conv4 import Conv4
from .common import add_common, add_data, emit, positive_float, positive_int


def load_split(args):
    data = load_classes(args.dataset, args.data_root, download=args.download,
                        progress=not args.quiet)
    split = meta_split(data, args.split, rotations=not args.no_rotations)
    return data, split


def run_train(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    torch.manual_seed(args.seed)
    cfg = ProtoNetConfig(n_way=args.train_ways or args.ways, k_shot=args.shots,
                         n_query=args.queries, iterations=args.iterations, lr=args.lr,
                         lr_halve_every=args.lr_halve_every, distance=args.distance,
                         seed=args.seed)
    data, split = load_split(args)
    start = time.perf_counter()
    encoder, history = train_protonet(cfg, split.train, device, progress=not args.quiet)
    train_seconds = time.perf_counter() - start
    result = evaluate_protonet(encoder, split.test, args.ways, args.shots, args.queries,
                               args.test_episodes, args.distance, seed=args.seed + 1,
                               device=device, progress=not args.quiet)
    checkpoint = {"kind": "protonet", "config": dataclasses.asdict(cfg),
                  "state_dict": encoder.state_dict(), "dataset": data.source,
                  "split": args.split, "rotations": not args.no_rotations}
    path = atomic_save(checkpoint, args.out / "protonet.pt")
    result.update(algorithm="protonet", dataset=data.source, seconds=round(train_seconds, 2),
                  iterations=cfg.iterations, device=str(device), checkpoint=str(path),
                  train_ways=cfg.n_way, final_train_loss=history["loss"][-1])
    atomic_write_json(result, args.out / "protonet_results.json")
    emit(result, args.json)
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from ..pretrained import PREFIX, entry, load_checkpoint

    device = resolve_device(args.device)
    ckpt = load_checkpoint(args.checkpoint)           # a file, or pretrained:<name>
    if str(args.checkpoint).startswith(PREFIX) and args.ways is None:
        args.ways = entry(args.checkpoint)["eval"]["ways"]   # protonet-20w1s → 20 ways
    if isinstance(ckpt, dict) and ckpt.get("kind") == "meta":
        from .meta import run_eval_meta
        return run_eval_meta(args, ckpt, device)
    if not isinstance(ckpt, dict) or ckpt.get("kind") != "protonet":
        raise ValueError(f"{args.checkpoint} is not a checkpoint of metagan-lab (expected "
                         "kind='protonet' or 'meta'); re-train with `metagan-lab train protonet` "
                         "or `metagan-lab train maml`")
    if args.inner_steps is not None:
        raise ValueError("--inner-steps applies to MAML-family checkpoints; a ProtoNet does not "
                         "adapt by gradient steps")
    args.ways = 5 if args.ways is None else args.ways
    cfg = ckpt["config"]
    encoder = Conv4(hidden=cfg["hidden"])
    encoder.load_state_dict(ckpt["state_dict"])
    _, split = load_split(args)
    start = time.perf_counter()
    result = evaluate_protonet(encoder, split.test, args.ways, args.shots, args.queries,
                               args.episodes, cfg["distance"], seed=args.seed,
                               device=device, progress=not args.quiet)
    result.update(algorithm="protonet", seconds=round(time.perf_counter() - start, 2),
                  iterations=0, device=str(device), checkpoint=str(args.checkpoint))
    emit(result, args.json)
    return 0


def _episode_args(p: argparse.ArgumentParser, queries: int, ways: int | None = 5) -> None:
    p.add_argument("--ways", type=positive_int, default=ways,
                   help=f"N test ways (default {ways or '5, or a MAML checkpoint’s N'})")
    p.add_argument("--shots", type=positive_int, default=1, help="K shots (default 1)")
    p.add_argument("--queries", type=positive_int, default=queries,
                   help=f"Q queries per class (default {queries})")


def register(groups: dict) -> None:
    p = groups["train"].add_parser(
        "protonet", help="Prototypical Networks (Snell et al. 2017)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_common(p)
    add_data(p)
    _episode_args(p, queries=15)
    p.add_argument("--train-ways", type=positive_int, default=None,
                   help="ways during training (Snell et al.: 60 for 1-shot); default = --ways")
    p.add_argument("--iterations", type=positive_int, default=2000, help="training episodes")
    p.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate")
    p.add_argument("--lr-halve-every", type=positive_int, default=2000)
    p.add_argument("--distance", default="euclidean", choices=("euclidean", "cosine"))
    p.add_argument("--test-episodes", type=positive_int, default=600)
    p.set_defaults(run=run_train)

    e = groups["top"].add_parser("eval", help="evaluate a checkpoint on test episodes",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    e.add_argument("checkpoint", help="a .pt file written by `metagan-lab train protonet` or "
                   "`metagan-lab train maml|fomaml|metasgd|anil|reptile`, or a shipped model: "
                   "pretrained:<name> (see `metagan-lab pretrained`)")
    add_common(e, out=None)
    add_data(e)
    _episode_args(e, queries=15, ways=None)
    e.add_argument("--episodes", type=positive_int, default=600)
    e.add_argument("--inner-steps", type=int, default=None,
                   help="MAML family: k adaptation steps per test task (default: the "
                        "checkpoint's eval_inner_steps)")
    e.set_defaults(run=run_eval)
