"""Where a run writes: the ``--out`` folder checked before training, result JSON, PNG files.

Every check runs before any data is loaded or any step is trained, so a careless ``--out`` fails
in the first second with one line naming the path and the fix.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..io import _atomic_write, atomic_write_json


def _nearest_existing(path: Path) -> Path:
    """``path`` itself when it exists, else its closest existing ancestor."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def _can_create_in(folder: Path) -> bool:
    """Whether a folder can really be created in ``folder`` (tried, then removed): permission
    bits say yes to root everywhere, even in /proc or on a read-only mount."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".metagan-lab-probe-", dir=folder))
    except OSError:
        return False
    return True


def prepare_out(out: str | os.PathLike, overwrite: bool, files: Sequence[str]) -> Path:
    """Check the run folder ``out`` (``--out``) before any data is loaded or training starts.

    ``files``: the names the run will write into ``out`` (e.g. ``["protonet.pt",
    "protonet_results.json"]``); ``overwrite``: ``--overwrite`` was given. Nothing is created or
    deleted here (the files are replaced atomically when the run ends). Raises ``ValueError``
    (one line naming ``out`` and the fix) when ``out`` is a file, lies under a file, cannot be
    created or written, or already holds one of ``files`` while ``overwrite`` is False.
    Returns ``out`` as a ``Path``.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder; give a folder path "
                         "(it is created if missing)")
    base = _nearest_existing(out)
    if not base.is_dir():
        raise ValueError(f"--out {out}: {base} is a file, so the folder cannot be created; "
                         "choose another --out")
    if not _can_create_in(base):
        what = "the folder" if base == out else f"its parent {base}"
        raise ValueError(f"--out {out}: {what} is not writable; choose another --out or fix "
                         "the permissions")
    existing = [name for name in files if (out / name).exists()]
    if existing and not overwrite:
        raise ValueError(f"--out {out} already holds a run ({', '.join(existing)}); add "
                         "--overwrite to replace it, or choose another --out")
    return out


def jsonable(value: Any) -> Any:
    """``value`` with tensors, paths, tuples and non-finite floats made JSON-safe (NaN → None)."""
    if isinstance(value, torch.Tensor):
        return jsonable(value.item() if value.numel() == 1 else value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


def write_result(result: dict[str, Any], path: str | os.PathLike) -> Path:
    """A run's result dict as JSON (sorted keys), written atomically; returns the path."""
    return atomic_write_json(jsonable(result), path)


def check_png_path(path: str | os.PathLike) -> Path:
    """``path`` must end in .png and must not be a folder or lie under a file."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"--out {path} is a folder; give a file name ending in .png, e.g. "
                         f"{path / 'samples.png'}")
    if path.suffix.lower() != ".png":
        raise ValueError(f"--out {path}: give a file name ending in .png, e.g. "
                         f"{path.with_suffix('.png').name}")
    base = _nearest_existing(path.parent)
    if not base.is_dir():
        raise ValueError(f"--out {path}: {base} is a file, not a folder; choose another --out")
    if not os.access(base, os.W_OK | os.X_OK):
        raise ValueError(f"--out {path}: {base} is not writable; choose another --out")
    return path


def write_png(data: bytes, path: str | os.PathLike) -> Path:
    """PNG bytes written atomically (a reader never sees half a picture); returns the path."""
    path = check_png_path(path)
    return _atomic_write(path, lambda f: f.write(data))
