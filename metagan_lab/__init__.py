"""metagan_lab: a teaching toolkit for meta-learning, GANs and image restoration.

The core (data, tasks, models, fewshot, meta, gan, restore) imports with torch alone; plotting and
widgets import matplotlib / ipywidgets lazily, so headless GPU runs do not need Jupyter.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "require_version", "quick_mode"]


def _as_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def require_version(minimum: str) -> None:
    """Raise a clear error when the installed library is older than a notebook expects."""
    if _as_tuple(__version__) < _as_tuple(minimum):
        raise RuntimeError(
            f"this notebook needs metagan_lab >= {minimum}, but {__version__} is installed; "
            "run `make lab` again (it re-installs the library from this checkout)."
        )


def quick_mode() -> bool:
    """True when METAGAN_LAB_QUICK is set (to anything but 0/false): notebooks run in seconds."""
    import os

    return os.environ.get("METAGAN_LAB_QUICK", "").strip().lower() not in ("", "0", "false", "no")
