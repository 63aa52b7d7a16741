"""Atomic writes and safe loads for checkpoints, caches and JSON results.

A write goes to a temporary file ``.{name}.{pid}-{host}.XXXXXXXX.tmp`` next to the target, then is
renamed over it: readers see the old file or the new one, never half of one. A writer killed
mid-write (``kill -9``, a power cut) leaves its temporary file behind; the next write of the same
target deletes those of writers that are no longer alive (same host, pid gone), never a live one's.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import socket
import stat
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch

LEGACY_TMP_AGE_S = 24 * 3600   # a pid-less temp file (older versions) untouched this long is dead


class UnsafeCheckpoint(RuntimeError):
    """A checkpoint holds pickled code or objects; metagan_lab refuses to run them."""


def _host_tag() -> str:
    """8 hex digits of the host name: pids are only comparable on the same machine."""
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def _umask() -> int:
    """The process umask, read without changing it where possible (thread-safe on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    """True unless the process ``pid`` certainly no longer exists (os.kill(pid, 0) → ESRCH)."""
    if os.name == "nt":      # os.kill(pid, 0) would send CTRL_C_EVENT there: never delete
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True          # someone else's live process, or a pid we cannot judge
    return True


_TMP_TAIL = re.compile(r"(?:(?P<pid>\d+)-(?P<host>[0-9a-f]{8})\.)?[a-z0-9_]{8}\.tmp")


def stale_temp_files(path: Path) -> list[Path]:
    """Temporary files of interrupted writes of ``path`` whose writer is dead.

    ``.{name}.{pid}-{host}.XXXXXXXX.tmp``: dead if written on this host by a pid that no longer
    exists. ``.{name}.XXXXXXXX.tmp`` (older versions, no pid): dead if untouched for a day.
    """
    prefix, host, now = f".{path.name}.", _host_tag(), time.time()
    stale = []
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return []
    for p in siblings:
        if not p.name.startswith(prefix):
            continue
        m = _TMP_TAIL.fullmatch(p.name[len(prefix):])
        if m is None:
            continue
        try:
            if m["pid"] is None:
                if now - p.stat().st_mtime > LEGACY_TMP_AGE_S:
                    stale.append(p)
            elif m["host"] == host and int(m["pid"]) != os.getpid() and not _pid_alive(
                    int(m["pid"])):
                stale.append(p)
        except OSError:
            continue
    return stale


def _remove_stale_temps(path: Path) -> None:
    """Delete the temporary files left by dead writers of ``path`` (best effort)."""
    for p in stale_temp_files(path):
        try:
            p.unlink(missing_ok=True)
        except OSError:
            pass


def _new_file_mode(path: Path) -> int:
    """The mode a plain ``open(path, 'w')`` would give: the existing file's, else 0666 & ~umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _atomic_write(path: Path, write) -> Path:
    """``write(f)`` into a temporary sibling file, fsync, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-{_host_tag()}.",
                               suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _new_file_mode(path))   # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)  # atomic on POSIX and Windows: readers see old or new, never half
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """torch.save to a temporary file in the same folder, then rename over ``path``."""
    return _atomic_write(Path(path), lambda f: torch.save(obj, f))


def atomic_write_json(obj: Any, path: str | os.PathLike) -> Path:
    """JSON (sorted keys, indent 2) written atomically like ``atomic_save``."""
    data = json.dumps(obj, indent=2, sort_keys=True).encode()
    return _atomic_write(Path(path), lambda f: f.write(data))


_CODE_MARKERS = ("add_safe_globals", "unrecognized function", "Can only build",
                 "Can only create new object")


def _pickled_code(exc: Exception) -> str | None:
    """The global a weights-only load refused (e.g. ``__main__.Foo``), '' if unnamed, else None."""
    if not isinstance(exc, pickle.UnpicklingError):
        return None
    msg = str(exc)
    m = re.search(r"GLOBAL ([\w.<>]+)", msg)
    if m:
        return m.group(1)
    return "" if any(k in msg for k in _CODE_MARKERS) else None


def error_summary(exc: BaseException) -> str:
    """The first sentence of an exception's message, on one line, without terminal colours."""
    msg = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    inner = re.search(r"WeightsUnpickler error:\s*(\S.*)", msg)   # torch's own cause, if any
    text = (inner.group(1) if inner else msg).strip().splitlines()
    first = text[0].split(". ")[0].strip().rstrip(".") if text else ""
    if len(first) > 120:
        first = first[:117] + "..."
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def safe_load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """torch.load with weights_only=True (no pickled code runs); every error is one line.

    A file holding pickled code or objects raises ``UnsafeCheckpoint``; a truncated, corrupt or
    foreign file raises ``RuntimeError`` naming it; a missing one ``FileNotFoundError``.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"no checkpoint at {path}: it {what}; check the path")
    if path.stat().st_size == 0:
        raise RuntimeError(f"could not load {path}: the file is empty (0 bytes), e.g. an "
                           "interrupted copy; re-create it (e.g. `metagan-lab train …`)")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # code in the pickle; truncated, corrupt, or not a torch file
        code = _pickled_code(exc)
        if code is not None:
            named = f" ({code})" if code else ""
            raise UnsafeCheckpoint(
                f"refusing to load {path}: it contains pickled code/objects{named} that "
                "metagan_lab will not run; re-create it with the metagan-lab CLI (e.g. "
                "`metagan-lab train …`), or load a file you trust by your own means") from None
        raise RuntimeError(
            f"could not load {path}: the file is truncated, corrupt or not a metagan_lab "
            f"checkpoint ({error_summary(exc)}); re-create it (e.g. `metagan-lab train …`) or "
            "copy it again") from None
