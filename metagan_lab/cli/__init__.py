"""The ``metagan-lab`` command: train, eval, sample, bench, data and pretrained sub-commands.

Each topic module (``cli/protonet.py``, ``cli/meta.py``, …) defines ``register(groups)`` that adds
its sub-commands to the shared groups; ``main`` lists those modules explicitly (no registry by
import side effect). The modules only parse arguments and print: checkpoint formats, evaluation
and sampling live in ``metagan_lab.runs``. They import from ``cli/common.py`` and never from each
other (no import cycle).
"""

from __future__ import annotations

import argparse
import sys

from . import data as _data
from . import eval as _eval
from . import families as _families
from . import gan as _gan
from . import meta as _meta
from . import pretrained as _pretrained
from . import protonet as _protonet
from . import restore as _restore
from . import sample as _sample
from .common import fail, set_threads

# One line per topic module; each has register(groups: dict[str, argparse._SubParsersAction]).
COMMAND_MODULES = [_protonet, _eval, _sample, _data, _restore, _meta, _gan, _pretrained,
                   _families]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metagan-lab",
        description="Meta-learning, GANs and restoration for the classroom.")
    top = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups = {
        "train": top.add_parser("train", help="train a model").add_subparsers(
            dest="algorithm", required=True, metavar="ALGORITHM"),
        "bench": top.add_parser("bench", help="time a training step").add_subparsers(
            dest="target", required=True, metavar="TARGET"),
    }
    groups["top"] = top
    for module in COMMAND_MODULES:
        module.register(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    set_threads(args)
    try:
        return int(args.run(args) or 0)
    except (ValueError, RuntimeError, FileNotFoundError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
