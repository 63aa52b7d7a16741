"""Where data lives: an explicit argument, else $METAGAN_LAB_DATA, else the checkout's data/."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "METAGAN_LAB_DATA"
CACHE_ENV_VAR = "METAGAN_LAB_CACHE"


def default_data_dir() -> Path:
    """The ``data/`` folder next to the package in a checkout, else ./data."""
    repo_data = Path(__file__).resolve().parents[2] / "data"
    return repo_data if repo_data.is_dir() else Path.cwd() / "data"


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Resolve the data root: argument > $METAGAN_LAB_DATA > data/."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else default_data_dir()


def cache_dir() -> Path:
    """Where preprocessed tensors go: $METAGAN_LAB_CACHE, else the checkout's data/cache.

    Caches never go next to the source data, which may be a read-only shared copy.
    """
    env = os.environ.get(CACHE_ENV_VAR)
    return Path(env).expanduser() if env else default_data_dir() / "cache"
