"""`metagan-lab pretrained`: the models shipped with the package and how each was made."""

from __future__ import annotations

import argparse

from .common import emit


def run_pretrained(args: argparse.Namespace) -> int:
    from ..pretrained import entry, table_rows

    if args.name:
        emit(entry(args.name), args.json)
        return 0
    rows = table_rows()
    if args.json:
        emit({"models": rows}, True)
        return 0
    if not rows:
        print("no shipped models (metagan_lab/pretrained/manifest.json is empty)")
        return 0
    columns = ["name", "task", "result", "iterations", "train_seconds", "device", "size_kb"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    widths["device"] = min(widths["device"], 24)
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(str(r[c])[:widths[c]].ljust(widths[c]) for c in columns))
    print("\nre-evaluate one:  metagan-lab eval pretrained:<name>    "
          "details:  metagan-lab pretrained <name>")
    return 0


def register(groups: dict) -> None:
    p = groups["top"].add_parser("pretrained", help="list the shipped pretrained models")
    p.add_argument("name", nargs="?", default=None,
                   help="show one model's manifest entry (command, data, budget, result)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_pretrained)
