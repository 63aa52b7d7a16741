"""Models that ship with the package: load one in a second instead of training it for an hour.

Each shipped file is a checkpoint written by the project's own CLI (``metagan-lab train …``), its
floating tensors stored as float16 to keep the package small. ``manifest.json`` beside the files
records, per model: the exact command, the data fingerprint, seed, iterations, wall time, device,
and the test accuracy ± 95 % CI measured *on the shipped file* with the protocol in ``"eval"``.

    >>> from metagan_lab.runs import load_pretrained, evaluate_pretrained
    >>> learner = load_pretrained("maml-5w1s")        # a MetaLearner (θ, and α for Meta-SGD)
    >>> encoder = load_pretrained("protonet-5w1s")    # a Conv-4 embedding f_φ

``metagan-lab pretrained`` lists them; ``metagan-lab eval pretrained:maml-5w1s`` re-evaluates one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from ..data.images import ClassImages
from ..io import atomic_save, safe_load

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.json"
PREFIX = "pretrained:"
CLASSIFIER_KINDS = ("protonet", "meta", "episodic")


def manifest() -> dict[str, dict[str, Any]]:
    """name → manifest entry (command, data, seed, iterations, seconds, device, result, eval)."""
    if not MANIFEST.is_file():
        return {}
    return json.loads(MANIFEST.read_text())


def names(kind: str | None = None) -> list[str]:
    """The shipped models' names, optionally only those of one checkpoint kind."""
    return sorted(n for n, e in manifest().items() if kind is None or e["kind"] == kind)


def entry(name: str) -> dict[str, Any]:
    """One manifest entry; an unknown name is an error listing the known ones."""
    name = name.removeprefix(PREFIX)
    entries = manifest()
    if name not in entries:
        raise ValueError(f"no shipped model named {name!r}; choose from {sorted(entries)} "
                         "(`metagan-lab pretrained` lists them)")
    return entries[name]


def path_of(name: str) -> Path:
    """The shipped file of ``name`` (checked against the manifest's SHA-256)."""
    e = entry(name)
    path = HERE / e["file"]
    if not path.is_file():
        raise FileNotFoundError(f"the shipped file {path} is missing; re-install metagan_lab "
                                "(`make lab` or `pip install -e .`)")
    digest = file_sha256(path)
    if digest != e["sha256"]:
        raise RuntimeError(f"{path} does not match its manifest entry (SHA-256 {digest[:12]}… "
                           f"≠ {e['sha256'][:12]}…); re-install metagan_lab")
    return path


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def data_fingerprint(data: ClassImages) -> str:
    """SHA-256 (first 16 hex digits) of the preprocessed uint8 images [classes, samples, H, W].

    The same PNGs give the same fingerprint whether they came from the zips or torchvision.
    """
    images = data.images.contiguous().cpu()
    h = hashlib.sha256(str(tuple(images.shape)).encode())
    h.update(images.numpy().tobytes())
    return h.hexdigest()[:16]


def _map_floats(obj: Any, dtype: torch.dtype) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(dtype) if obj.is_floating_point() else obj
    if isinstance(obj, dict):
        return {k: _map_floats(v, dtype) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_map_floats(v, dtype) for v in obj)
    return obj


def save_for_shipping(checkpoint: dict, path: str | Path) -> Path:
    """Write a CLI checkpoint with its floating tensors as float16 (half the bytes), without the
    optimiser state kept for resuming (``resume``: twice θ's size, of no use to a shipped model)."""
    kept = {k: v for k, v in checkpoint.items() if k != "resume"}
    return atomic_save(_map_floats(kept, torch.float16), path)


def load_checkpoint(spec: str | Path) -> dict:
    """A checkpoint dict, float32 tensors, from ``pretrained:<name>``/``<name>`` or a file path.

    Loaded with ``weights_only=True``: no code in a file ever runs.
    """
    text = str(spec)
    if text.startswith(PREFIX) or (text in manifest() and not Path(text).exists()):
        path = path_of(text)
    else:
        path = Path(spec)
    return _map_floats(safe_load(path), torch.float32)


def evaluate(model, test: ClassImages, protocol: dict[str, Any], tasks: int | None = None,
             seed: int | None = None, device: str | torch.device = "cpu",
             progress: bool = False) -> dict[str, float]:
    """Accuracy ± 95 % CI of a loaded model on test tasks drawn as ``protocol`` says.

    ``protocol``: ways, shots, queries, tasks, seed (+ inner_steps for the MAML family, + distance
    for ProtoNets), the manifest's ``"eval"`` entry. ``tasks`` / ``seed`` override its values.
    """
    import dataclasses

    n_tasks = protocol["tasks"] if tasks is None else tasks
    seed = protocol["seed"] if seed is None else seed
    if isinstance(model, torch.nn.Module):
        from ..fewshot.train import evaluate_protonet

        images = protocol["ways"] * (protocol["shots"] + protocol["queries"])
        out = evaluate_protonet(model, test, protocol["ways"], protocol["shots"],
                                protocol["queries"], n_tasks, protocol.get("distance",
                                                                           "euclidean"),
                                seed=seed, device=device, progress=progress,
                                batch=max(1, 400 // images))   # ~400 images a forward pass
        return {"accuracy": out["accuracy"], "ci95": out["ci95"], "tasks": n_tasks}
    from ..fewshot.episodic import EpisodicLearner, evaluate_episodic, with_protocol
    from ..meta.train import meta_test

    if isinstance(model, EpisodicLearner):           # Matching, Relation, …, HyperNet
        learner = with_protocol(model, protocol["ways"], protocol["shots"], protocol["queries"],
                                protocol.get("inner_steps"))
        out = evaluate_episodic(learner, test, n_tasks, seed=seed, progress=progress)
        return {"accuracy": out["accuracy"], "ci95": out["ci95"], "tasks": n_tasks}

    if protocol["ways"] != model.config.n_way:
        raise ValueError(f"ways={protocol['ways']}: this {model.config.algorithm} model's head has "
                         f"{model.config.n_way} outputs; evaluate it with ways="
                         f"{model.config.n_way}")
    config = dataclasses.replace(model.config, k_shot=protocol["shots"],
                                 eval_query=protocol["queries"],
                                 eval_inner_steps=protocol["inner_steps"])
    return meta_test(dataclasses.replace(model, config=config), test, n_tasks, seed=seed)


def table_rows() -> list[dict[str, Any]]:
    """One row per shipped model (what `metagan-lab pretrained` shows)."""
    rows = []
    for name, e in sorted(manifest().items()):
        r = e["result"]
        shown = (f"{100 * r['accuracy']:.2f} ± {100 * r['ci95']:.2f} %" if "accuracy" in r
                 else e.get("summary") or ", ".join(f"{k} {v}" for k, v in r.items()))
        rows.append({"name": name, "kind": e["kind"], "task": e["task"], "result": shown,
                     "iterations": e["iterations"], "train_seconds": e["train_seconds"],
                     "device": e["device"], "size_kb": round(e["bytes"] / 1024)})
    return rows


PAPER_20WAY_1SHOT = {"protonet": "96.0 (Snell et al. 2017)",
                     "maml": "95.8 ± 0.3 (Finn et al. 2017)",
                     "metasgd": "95.93 ± 0.38 (Li et al. 2017)",
                     "reptile": "89.43 ± 0.14 (Nichol et al. 2018, transductive)",
                     "matching": "93.8 (Vinyals et al. 2016)",
                     "relation": "97.6 ± 0.2 (Sung et al. 2018)"}


def comparison_rows() -> list[dict[str, str]]:
    """Each shipped classifier beside the published number for its task (percent)."""
    from ..meta.bench import PAPER_5WAY_1SHOT

    rows = []
    for name, e in sorted(manifest().items()):
        if e["kind"] not in CLASSIFIER_KINDS:
            continue
        r, paper = e["result"], (PAPER_20WAY_1SHOT if e["eval"]["ways"] == 20
                                 else PAPER_5WAY_1SHOT)
        minutes = e["train_seconds"] / 60
        rows.append({"shipped model": name, "task": e["task"],
                     "accuracy": f"{100 * r['accuracy']:.2f} ± {100 * r['ci95']:.2f}",
                     "budget": f"{e['iterations']} it., {minutes:.0f} min (CPU, 1 thread)",
                     "paper": paper.get(e["algorithm"], "—")})
    return rows


__all__ = ["MANIFEST", "PREFIX", "comparison_rows", "data_fingerprint", "entry", "evaluate",
           "file_sha256", "load_checkpoint", "manifest",
           "names", "path_of", "save_for_shipping", "table_rows"]
