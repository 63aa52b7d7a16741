"""Every checkpoint format in one place: save (atomic), load (weights only, checked), describe,
and the model(s) a checkpoint holds.

A checkpoint is a dict with "kind" in ``KINDS`` (see ``runs.kinds``) and only tensors, numbers,
strings, lists and dicts inside, so ``torch.load(weights_only=True)`` reads it and no code in a
file ever runs. ``load`` refuses a file of unknown kind, one missing a key of its kind, and one
whose weights are NaN or infinite.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..checks import TrainingDiverged, bad_tensors
from ..io import atomic_save
from ..pretrained import PREFIX, entry, load_checkpoint
from .kinds import KINDS

Source = str | os.PathLike | dict


def _floats(obj: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every floating tensor inside a checkpoint, by dotted name (params.head.weight)."""
    if isinstance(obj, torch.Tensor):
        return {prefix: obj} if obj.is_floating_point() else {}
    items = obj.items() if isinstance(obj, dict) else \
        enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    out: dict[str, torch.Tensor] = {}
    for key, value in items:
        out.update(_floats(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def check(ckpt: Any, where: str = "checkpoint") -> dict:
    """``ckpt`` itself when it is a complete, finite checkpoint of a known kind; else one line
    naming ``where`` (the file) and what is wrong: ValueError, or ``TrainingDiverged`` for
    NaN / infinite weights."""
    kind = ckpt.get("kind") if isinstance(ckpt, dict) else None
    if kind not in KINDS:
        found = f"kind={kind!r}" if isinstance(ckpt, dict) else f"a {type(ckpt).__name__}"
        raise ValueError(f"{where} is not a metagan-lab checkpoint ({found}); known kinds: "
                         f"{', '.join(KINDS)}; make one with `metagan-lab train …`")
    missing = [k for k in KINDS[kind].REQUIRED if k not in ckpt]
    if missing:
        raise ValueError(f"{where}: this {kind} checkpoint lacks {missing}; it is damaged or "
                         "from another program; re-create it with `metagan-lab train …`")
    bad = bad_tensors(_floats(ckpt), limit=float("inf"))
    if bad:
        more = f" and {len(bad) - 4} more" if len(bad) > 4 else ""
        raise TrainingDiverged(f"{where}: weights {bad[:4]}{more} are NaN or infinite (the run "
                               "diverged); re-train, e.g. with a smaller learning rate, or use "
                               "an earlier checkpoint")
    return ckpt


def load(spec: str | os.PathLike) -> dict:
    """The checked checkpoint of a file or of a shipped model ``pretrained:<name>`` (float32)."""
    return check(load_checkpoint(spec), str(spec))


def save(ckpt: dict, path: str | os.PathLike) -> Path:
    """Check ``ckpt`` (known kind, complete, finite), then write it atomically to ``path``."""
    return atomic_save(check(ckpt, str(path)), path)


def resolve(source: Source) -> tuple[dict, str | None]:
    """(checked checkpoint, its name or None) of a path, ``pretrained:<name>`` or a dict."""
    if isinstance(source, dict):
        return check(source), None
    return load(source), str(source)


def protocol(spec: str | None) -> dict:
    """A shipped model's evaluation protocol (manifest "eval": ways, shots, queries, tasks,
    inner_steps) as ``EvalOptions`` fields; {} for files."""
    if spec is None or not str(spec).startswith(PREFIX):
        return {}
    p = dict(entry(spec).get("eval", {}))
    if "tasks" in p:
        p["episodes"] = p.pop("tasks")
    return p


def describe(source: Source) -> dict:
    """What a checkpoint is: kind, algorithm, iterations or steps, dataset, config, size."""
    ckpt, spec = resolve(source)
    info = KINDS[ckpt["kind"]].describe(ckpt)
    info["parameters"] = sum(t.numel() for t in _floats(ckpt).values())
    if spec is not None:
        info["checkpoint"] = spec
        if spec.startswith(PREFIX):
            e = entry(spec)
            info.update(title=e.get("title"), task=e.get("task"), result=e.get("result"))
    return info


def build_model(source: Source, device: str | torch.device = "cpu"):
    """The model(s) of a checkpoint: a Conv-4 encoder (protonet), a MetaLearner (meta), (G, D)
    (gan), (G, D, inits) (fewshot_gan), a VAE, a CycleGAN, (Restorer, thetas) (restorer)."""
    ckpt, _ = resolve(source)
    return KINDS[ckpt["kind"]].build(ckpt, device)


def load_pretrained(name: str, device: str | torch.device = "cpu"):
    """The shipped model ``name`` (``pretrained:`` optional) built as ``build_model`` builds it:
    a Conv-4 encoder (ProtoNet), a MetaLearner (MAML family), (G, D, inits) for the few-shot
    GAN, (Restorer, θ dicts) for the restorer."""
    return build_model(load_checkpoint(PREFIX + name.removeprefix(PREFIX)), device)


def evaluate_pretrained(name: str, test, tasks: int | None = None, seed: int | None = None,
                        device: str | torch.device = "cpu", progress: bool = False) -> dict:
    """Re-evaluate a shipped classifier with its manifest's protocol (fewer tasks if asked)."""
    from ..pretrained import CLASSIFIER_KINDS, evaluate

    e = entry(name)
    if e["kind"] not in CLASSIFIER_KINDS:
        raise ValueError(f"{name!r} is a {e['kind']} init, not a classifier")
    return evaluate(load_pretrained(name, device), test, e["eval"], tasks, seed, device,
                    progress)
