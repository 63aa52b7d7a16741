"""`metagan-lab sample CHECKPOINT`: a PNG of what any checkpoint makes (or predicts)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..device import resolve_device
from ..runs import sample
from .common import add_common, add_data, data_options, emit, positive_int


def run_sample(args: argparse.Namespace) -> int:
    """Write the picture through ``runs.sample`` and print what it shows and where it is."""
    info = sample(args.checkpoint, args.out, args.n, args.seed, data_options(args),
                  resolve_device(args.device))
    emit(info, args.json)
    return 0


def register(groups: dict) -> None:
    s = groups["top"].add_parser(
        "sample", help="write a PNG of a checkpoint's samples (or restorations, predictions)",
        description="gan, vae: a grid of samples (2-D GANs: a scatter); fewshot-gan: K shots of "
                    "an unseen class and each method's samples; cyclegan: test images through G "
                    "and F; restorer: degraded / restored / clean per unseen degradation; "
                    "protonet, MAML family: one test episode, right and wrong predictions framed.")
    s.add_argument("checkpoint", help="a .pt file written by `metagan-lab train …`, or "
                   "pretrained:<name>")
    s.add_argument("--out", type=Path, default=None,
                   help="the PNG file (default: <checkpoint>_samples.png beside it; "
                        "./<name>_samples.png for pretrained:<name>)")
    s.add_argument("--n", type=positive_int, default=None,
                   help="images (generators: 64), images per degradation (restorer: 6) or "
                        "queries per class (classifiers: 5)")
    add_common(s, out=None)
    add_data(s)
    s.set_defaults(run=run_sample)
