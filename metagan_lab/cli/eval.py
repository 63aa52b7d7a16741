"""`metagan-lab eval CHECKPOINT`: the metric of any checkpoint (a file or pretrained:<name>)."""

from __future__ import annotations

import argparse

from ..device import resolve_device
from ..runs import KINDS, EvalOptions, evaluate
from .common import add_common, add_data, data_options, emit, positive_int


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {value}")
    return value


def options_from_args(args: argparse.Namespace) -> EvalOptions:
    return EvalOptions(ways=args.ways, shots=args.shots, queries=args.queries,
                       episodes=args.episodes, inner_steps=args.inner_steps,
                       samples=args.samples, is_classes=args.is_classes, seed=args.seed)


def run_eval(args: argparse.Namespace) -> int:
    """Evaluate through ``runs.evaluate`` and print the result (a table for restorers)."""
    result = evaluate(args.checkpoint, options_from_args(args), data_options(args),
                      resolve_device(args.device), progress=not args.quiet)
    if "table" in result and not args.json:
        from ..restore.evaluate import format_table

        emit({k: v for k, v in result.items() if k != "table"}, False)
        print(format_table(result["table"]))
        return 0
    emit(result, args.json)
    return 0


def register(groups: dict) -> None:
    e = groups["top"].add_parser(
        "eval", help="evaluate a checkpoint of any kind (classifier, generator, restorer)",
        description="Evaluate a checkpoint: accuracy ± 95%% CI (protonet, MAML family), Fréchet "
                    "distance (gan, vae, cyclegan, fewshot-gan; vae also the test ELBO), PSNR / "
                    "SSIM on unseen degradations (restorer); few-shot generators (fewshot-gan, "
                    "meta-vae, statistician) also recognisability and diversity on N-way K-shot "
                    "episodes (and the in-domain IS with --is-classes). Options left out take the "
                    "checkpoint's own protocol (a shipped model's manifest).")
    e.add_argument("checkpoint", help="a .pt file written by `metagan-lab train …`, or a shipped "
                   "model: pretrained:<name> (see `metagan-lab pretrained`); kinds: "
                   + ", ".join(KINDS))
    add_common(e, out=None)
    add_data(e)
    e.add_argument("--ways", type=positive_int, default=None,
                   help="classifiers: N test ways (default: the checkpoint's, else 5); few-shot "
                        "generators: N ways of the recognisability episodes (5)")
    e.add_argument("--shots", type=positive_int, default=None,
                   help="K shots (classifiers: default 1; fewshot-gan, restorer: as trained)")
    e.add_argument("--queries", type=positive_int, default=None,
                   help="Q queries per class / per task (classifiers: default 15)")
    e.add_argument("--episodes", type=positive_int, default=None,
                   help="test tasks (classifiers: 600), unseen classes (fewshot-gan: 10), tasks "
                        "per degradation (restorer: as trained); recognisability episodes "
                        "(statistician: 30; fewshot-gan, meta-vae: as many as unseen classes)")
    e.add_argument("--inner-steps", type=non_negative_int, default=None,
                   help="adaptation steps (MAML family: the checkpoint's eval_inner_steps; "
                        "fewshot-gan, restorer: as trained)")
    e.add_argument("--samples", type=positive_int, default=None,
                   help="generators: generated and real images compared (gan, vae, cyclegan: "
                        "500; fewshot-gan: 100 per class; recognisability: 19 per class)")
    e.add_argument("--is-classes", type=positive_int, default=None,
                   help="few-shot generators (statistician, fewshot-gan, meta-vae): also the "
                        "in-domain Inception Score, by a Conv-4 classifier trained here on this "
                        "many training classes (300 steps, ~25 s on a CPU; e.g. 100)")
    e.set_defaults(run=run_eval)
