"""Turn finished runs of ``scripts/train_pretrained.py`` into shipped models + manifest entries.

    METAGAN_LAB_DATA=../shared/data python scripts/package_pretrained.py protonet maml-5w1s …

For each run: the CLI's checkpoint is stored as float16 in ``metagan_lab/pretrained/<file>``, then
*that file* is re-evaluated on Omniglot's test characters with the protocol written into the
manifest (600 tasks, fixed seed), so the manifest's accuracy is the shipped model's. The command,
data fingerprint, seed, iterations and wall time come from the run's ``train_record.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from metagan_lab.data import load_classes, meta_split
from metagan_lab.io import atomic_write_json, safe_load
from metagan_lab.pretrained import (
    HERE,
    MANIFEST,
    data_fingerprint,
    evaluate,
    file_sha256,
    load_checkpoint,
    manifest,
    model_from_checkpoint,
    save_for_shipping,
)

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "pretrained"

# run name → (checkpoint inside the run folder, shipped file, [(entry name, eval ways)])
CLASSIFIERS = {
    "protonet": ("protonet.pt", "protonet-20way.pt",
                 [("protonet-5w1s", 5), ("protonet-20w1s", 20)]),
    **{f"{a}-5w1s": (f"{a}/checkpoint.pt", f"{a}-5w1s.pt", [(f"{a}-5w1s", 5)])
       for a in ("maml", "fomaml", "metasgd", "anil", "reptile")},
    "maml-5w1s-more": ("maml/checkpoint.pt", "maml-5w1s.pt", [("maml-5w1s", 5)]),
}
TITLES = {"protonet": "Prototypical Networks (Conv-4, trained 20-way)", "maml": "MAML",
          "fomaml": "first-order MAML", "metasgd": "Meta-SGD", "anil": "ANIL",
          "reptile": "Reptile"}


def _record(run: str) -> dict:
    """The run's train_record.json; a run started --init-from another run's checkpoint is
    merged with that run's record (both commands, summed iterations and seconds)."""
    record = json.loads((RUNS / run / "train_record.json").read_text())
    if record["returncode"] != 0:
        raise RuntimeError(f"{run}: the training run failed (exit {record['returncode']}); "
                           f"see {RUNS / run / 'train.log'}")
    parent = record["result"].get("init_from")
    if parent and Path(parent).is_relative_to(RUNS):
        first = _record(Path(parent).relative_to(RUNS).parts[0])
        record = {**record, "command": f"{first['command']} && {record['command']}",
                  "started": first["started"],
                  "wall_seconds": first["wall_seconds"] + record["wall_seconds"],
                  "result": {**record["result"],
                             "iterations": first["result"]["iterations"]
                             + record["result"]["iterations"],
                             "seconds": first["result"]["seconds"] + record["result"]["seconds"]}}
    return record


def package(run: str, test, fingerprint: str, threads: int) -> dict[str, dict]:
    record = _record(run)
    source, file, entries = CLASSIFIERS[run]
    checkpoint = safe_load(RUNS / run / source)
    shipped = save_for_shipping(checkpoint, HERE / file)
    model = model_from_checkpoint(load_checkpoint(shipped))
    trained = record["result"]
    out = {}
    for name, ways in entries:
        if checkpoint["kind"] == "protonet":
            protocol = {"ways": ways, "shots": 1, "queries": 15, "tasks": 600, "seed": 1,
                        "distance": checkpoint["config"]["distance"]}
            algorithm, iterations = "protonet", checkpoint["config"]["iterations"]
        else:
            cfg = checkpoint["config"]
            protocol = {"ways": ways, "shots": cfg["k_shot"], "queries": cfg["eval_query"],
                        "tasks": 600, "seed": 12345, "inner_steps": cfg["eval_inner_steps"]}
            algorithm, iterations = cfg["algorithm"], trained["iterations"]
        start = time.perf_counter()
        result = evaluate(model, test, protocol)
        out[name] = {
            "kind": checkpoint["kind"], "algorithm": algorithm,
            "title": TITLES[algorithm], "task": f"Omniglot {ways}-way 1-shot",
            "file": file, "bytes": shipped.stat().st_size, "sha256": file_sha256(shipped),
            "storage": "float16 (loaded as float32)",
            "command": record["command"],
            "data": {"dataset": "omniglot", "split": "standard (1200 train incl. 100 val / "
                     "423 test characters, seed 1623)", "rotations": True,
                     "fingerprint": fingerprint, "test_classes": test.n_classes},
            "seed": 0, "iterations": iterations,
            "train_seconds": trained["seconds"], "wall_seconds": record["wall_seconds"],
            "device": f"cpu ({record['cpu']}, 1 thread; 2-core machine shared with other jobs)",
            "trained": record["started"], "torch": torch.__version__,
            "result": {"accuracy": round(result["accuracy"], 5), "ci95": round(result["ci95"], 5),
                       "tasks": result["tasks"]},
            "result_at_training_float32": {k: trained.get(k) for k in ("accuracy", "ci95")},
            "eval": protocol, "eval_seconds": round(time.perf_counter() - start, 1),
            "eval_threads": threads, "eval_host": platform.node(),
        }
        print(f"{name}: {100 * result['accuracy']:.2f} ± {100 * result['ci95']:.2f} % "
              f"({out[name]['eval_seconds']} s)", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", choices=sorted(CLASSIFIERS))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_classes("omniglot", progress=False)
    test = meta_split(data, "standard", rotations=True).test
    entries = manifest()
    for run in args.runs:
        entries.update(package(run, test, data_fingerprint(data), args.threads))
        atomic_write_json(entries, MANIFEST)          # after each run: nothing lost on failure
    return 0


if __name__ == "__main__":
    sys.exit(main())
