"""`metagan-lab data`: where the data is, what is cached, and preparing the caches."""

from __future__ import annotations

import argparse
import os

from ..data import ENV_VAR, cache_dir, data_root, find_omniglot, load_omniglot, make_glyphs
from .common import emit


def run_data(args: argparse.Namespace) -> int:
    root = data_root(args.data_root)
    sources = find_omniglot(root)
    cache = cache_dir()
    caches = sorted(cache.glob("*.pt")) if cache.is_dir() else []
    info = {
        "data_root": str(root),
        "from": "argument" if args.data_root else (ENV_VAR if os.environ.get(ENV_VAR)
                                                   else "default data/"),
        "omniglot": {k: str(v) for k, v in sources.items()} if sources else "not found",
        "cache_dir": str(cache),
        "cached": [f"{p.name} ({p.stat().st_size / 2**20:.1f} MiB)" for p in caches],
    }
    if args.prepare:
        if sources is None and not args.download:
            raise FileNotFoundError(
                f"no Omniglot under {root}; add --download, or set {ENV_VAR} to a folder "
                "holding omniglot/images_background.zip and images_evaluation.zip")
        data = load_omniglot(root, download=args.download, progress=not args.quiet)
        info["prepared"] = f"{data.n_classes} characters × {data.n_samples} → {data.meta['cache']}"
        info["glyphs"] = f"{make_glyphs().n_classes} classes (generated, never cached)"
    emit(info, args.json)
    return 0


def register(groups: dict) -> None:
    p = groups["top"].add_parser("data", help="show where data is; --prepare builds the caches")
    p.add_argument("--data-root", default=None, help="default: $METAGAN_LAB_DATA, else data/")
    p.add_argument("--prepare", action="store_true", help="preprocess Omniglot into the cache")
    p.add_argument("--download", action="store_true", help="download Omniglot if missing")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(run=run_data)
