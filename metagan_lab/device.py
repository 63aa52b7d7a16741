"""Device selection with errors that say what to do."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' → cuda when available else cpu; 'cuda' without a GPU is a clear error."""
    name = str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"device={device!r} was asked for, but PyTorch sees no CUDA GPU here "
            f"(torch {torch.__version__}, cuda build: {torch.version.cuda}). "
            "Use --device cpu, or --device auto to take a GPU only when one is present."
        )
    if name not in ("cpu",) and not name.startswith("cuda") and name != "mps":
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'")
    return torch.device(name)
