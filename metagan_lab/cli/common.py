"""Shared command-line plumbing: common options, device and JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_common(parser: argparse.ArgumentParser, out: str | None = "runs") -> None:
    """--device, --seed, --json (and --out when the command writes files)."""
    parser.add_argument("--device", default="auto", help="auto (GPU if present), cpu or cuda")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON line with the results at the end")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    if out is not None:
        parser.add_argument("--out", type=Path, default=Path(out),
                            help=f"output folder for checkpoints and results (default {out}/)")


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
