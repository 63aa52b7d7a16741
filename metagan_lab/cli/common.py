"""Shared command-line plumbing: common options, the data loader, device and JSON output.

Nothing here imports a topic module (``cli/protonet.py``, ``cli/meta.py``, …): they all import
from here, so the command modules form no import cycle.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..runs import DataOptions
from ..runs import load_split as _load_split


def add_common(parser: argparse.ArgumentParser, out: str | None = "runs",
               overwrite: bool = False) -> None:
    """--device, --seed, --json, --quiet; --out when the command writes files (default folder
    ``out``), --overwrite with ``overwrite=True`` (for ``runs.prepare_out``)."""
    parser.add_argument("--device", default="auto", help="auto (GPU if present), cpu or cuda")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON line with the results at the end")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="CPU threads for PyTorch (default: PyTorch's choice); "
                             "``cli.main`` applies it before the command runs")
    if out is not None:
        parser.add_argument("--out", type=Path, default=Path(out),
                            help=f"output folder for checkpoints and results (default {out}/)")
    if out is not None and overwrite:
        parser.add_argument("--overwrite", action="store_true",
                            help="replace the files of an earlier run in --out")


def set_threads(args: argparse.Namespace) -> None:
    """``torch.set_num_threads(--threads)`` when the command has the option and it was given."""
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)


def add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="auto", choices=("auto", "omniglot", "glyphs"),
                        help="auto: Omniglot if found, else the embedded glyphs")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="data root (default: $METAGAN_LAB_DATA, else data/)")
    parser.add_argument("--download", action="store_true",
                        help="download Omniglot through torchvision if it is missing")
    parser.add_argument("--split", default="standard", choices=("standard", "lake"))
    parser.add_argument("--no-rotations", action="store_true",
                        help="do not add 90/180/270° rotated classes")


def data_options(args: argparse.Namespace) -> DataOptions:
    """The data options of ``add_data`` as a ``runs.DataOptions``."""
    return DataOptions(dataset=args.dataset, root=args.data_root, download=args.download,
                       split=args.split, rotations=not args.no_rotations,
                       progress=not args.quiet)


def load_split(args: argparse.Namespace):
    """(all classes, their meta split) as the ``add_data`` options say (``runs.load_split``)."""
    return _load_split(data_options(args))


def resume_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """What a resumed run takes from the command line instead of its checkpoint: --iterations
    and --max-seconds, when given (``--iterations`` is absent from ``args`` unless given)."""
    given = {name: getattr(args, name, None) for name in ("iterations", "max_seconds")}
    return {name: value for name, value in given.items() if value is not None}


def resumes_in_place(args: argparse.Namespace, checkpoint: Path) -> bool:
    """--resume names the file this run writes: it may replace it without --overwrite."""
    return bool(args.resume) and Path(args.resume).resolve() == Path(checkpoint).resolve()


def resumed_from(args: argparse.Namespace, state: dict) -> dict[str, Any]:
    """The ``resumed_from`` entry of a resumed run's results."""
    return {"checkpoint": str(args.resume), "iteration": state["iteration"]}


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def emit(result: dict[str, Any], as_json: bool) -> None:
    """One JSON line on stdout with --json, else a readable key: value listing."""
    if as_json:
        print(json.dumps(result, sort_keys=True, default=str))
        return
    for key, value in result.items():
        print(f"{key:>14}: {value:.4f}" if isinstance(value, float) else f"{key:>14}: {value}")


def fail(message: str) -> None:
    print(f"metagan-lab: error: {message}", file=sys.stderr)
    raise SystemExit(2)
