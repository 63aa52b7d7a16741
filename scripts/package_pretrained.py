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
    save_for_shipping,
)
from metagan_lab.runs import build_model

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "pretrained"

# run name → (checkpoint inside the run folder, shipped file, [(entry name, eval ways)])
CLASSIFIERS = {
    "protonet": ("protonet.pt", "protonet-20way.pt",
                 [("protonet-5w1s", 5), ("protonet-20w1s", 20)]),
    **{f"{a}-5w1s": (f"{a}/checkpoint.pt", f"{a}-5w1s.pt", [(f"{a}-5w1s", 5)])
       for a in ("maml", "fomaml", "metasgd", "anil", "reptile")},
    "maml-5w1s-more": ("maml/checkpoint.pt", "maml-5w1s.pt", [("maml-5w1s", 5)]),
    # The episodic methods (metagan_lab.methods), 5-way (their 20-way tests: results_table.py).
    # MANN is not shipped: after 6 CPU minutes (2453 iterations) it was still at chance (19.8 %).
    **{f"{m}-5w1s": (f"{m}/checkpoint.pt", f"{m}-5w1s.pt", [(f"{m}-5w1s", 5)])
       for m in ("matching", "relation", "protomaml", "finetune", "simpleshot", "hypernet")},
}
TITLES = {"protonet": "Prototypical Networks (Conv-4, trained 20-way)", "maml": "MAML",
          "fomaml": "first-order MAML", "metasgd": "Meta-SGD", "anil": "ANIL",
          "reptile": "Reptile", "matching": "Matching Networks", "relation": "Relation Networks",
          "protomaml": "Proto-MAML (first order)", "finetune": "pre-trained + fine-tuned head",
          "simpleshot": "SimpleShot (CL2N nearest centroid)", "mann": "MANN (LSTM over the "
          "labelled support set)", "hypernet": "hypernetwork-generated head"}


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
    model = build_model(load_checkpoint(shipped))
    trained = record["result"]
    out = {}
    for name, ways in entries:
        if checkpoint["kind"] == "protonet":
            protocol = {"ways": ways, "shots": 1, "queries": 15, "tasks": 600, "seed": 1,
                        "distance": checkpoint["config"]["distance"]}
            algorithm, iterations = "protonet", checkpoint["config"]["iterations"]
        elif checkpoint["kind"] == "episodic":
            cfg, algorithm = checkpoint["config"], checkpoint["method"]
            protocol = {"ways": ways, "shots": 1, "queries": 15, "tasks": 600, "seed": 12345}
            steps = type(model.config).STEPS_FIELD
            if steps is not None:
                protocol["inner_steps"] = cfg[steps]
            iterations = trained["iterations"]
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


# run → (checkpoint in the run folder, its results, shipped file); the entry is the file's stem.
RESTORE = ("restore_fomaml.pt", "restore_fomaml_results.json")
INITS = {"restorer-fomaml": (*RESTORE, "restorer-fomaml.pt"),
         "restorer-bf-a1e-3": (*RESTORE, "restorer-bias-free.pt"),
         "restorer-bf-a3e-3": (*RESTORE, "restorer-bias-free.pt"),
         "restorer-denoise-bf": (*RESTORE, "denoiser-bias-free.pt"),
         "fewshot-gan": ("fewshot_gan.pt", "fewshot_gan_results.json", "fewshot-gan.pt")}
# The re-check of a shipped restorer (tests/pretrained): its first test tasks per setting.
RESTORER_CHECK = {"episodes": 2, "inner_steps": 10, "queries": 5, "seed": 0}
# The few-shot GAN's check: FD per method and R / δ on 2 classes of Omniglot's test characters.
GAN_CHECK = {"episodes": 2, "samples": 16, "seed": 0}


def _restorer_result(results: dict) -> dict:
    """Mean PSNR over the unseen settings after 0 and 10 steps, per method (and per setting)."""
    rows = results["table"]
    out: dict = {}
    for method in sorted({r["method"] for r in rows}):
        for steps in (0, 10):
            values = [r["psnr"] for r in rows if r["method"] == method and r["steps"] == steps]
            if values:
                out[f"psnr_{steps}_steps · {method}"] = round(sum(values) / len(values), 2)
    return out


def package_init(run: str, fingerprint: str) -> dict[str, dict]:
    """A GAN or restorer init: shipped as float16 with the CLI's own measured FD / PSNR."""
    record = _record(run)
    source, results_file, file = INITS[run]
    checkpoint = safe_load(RUNS / run / source)
    shipped = save_for_shipping(checkpoint, HERE / file)
    results = json.loads((RUNS / run / results_file).read_text())
    if checkpoint["kind"] == "restorer":
        result, task = _restorer_result(results), "natural-image restoration, unseen settings"
        title, iterations = _restorer_title(checkpoint["config"]), results["iterations"]
        data = {"dataset": "skimage photographs (32×32 patches)", "fingerprint": "—"}
        extra = {"table": results["table"], "check": _restorer_check(shipped)}
    else:
        result = {k: v for k, v in results.items() if k.startswith("fd_")}
        task = f"few-shot generation, {results['k_shot']}-shot, {results['eval_classes']} classes"
        title, iterations = "few-shot GAN: Reptile θ_G/θ_D and the pooled DCGAN", \
            results["iterations"]
        data = {"dataset": results["dataset"], "fingerprint": fingerprint}
        extra = {"seconds": results["seconds"], "check": _gan_check(shipped)}
    entry = {"kind": checkpoint["kind"], "algorithm": run, "title": title, "task": task,
             "file": file, "bytes": shipped.stat().st_size, "sha256": file_sha256(shipped),
             "storage": "float16 (loaded as float32)", "command": record["command"],
             "data": data, "seed": 0, "iterations": iterations,
             "train_seconds": record["wall_seconds"], "wall_seconds": record["wall_seconds"],
             "device": f"cpu ({record['cpu']}; 2-core machine shared with other jobs)",
             "trained": record["started"], "torch": torch.__version__, "result": result,
             "eval": {"protocol": "the training command's own evaluation (see command)"},
             **extra}
    entry["summary"] = _summary(result)
    name = Path(file).stem
    print(f"{name}: {entry['summary']}", flush=True)
    return {name: entry}


def _restorer_title(cfg: dict) -> str:
    meta = cfg["meta"]
    net = "bias-free " if cfg.get("bias") is False else ""
    kinds = "denoiser" if list(cfg["kinds"]) == ["noise"] else "restorer"
    start = ", warm-started from the pooled net" if cfg.get("warm_start") else ""
    optimizer = meta.get("inner_optimizer", "sgd")
    return (f"{net}{kinds} init ({meta['method'].upper()}{start}; {optimizer} "
            f"inner steps α = {meta['inner_lr']:g}) and its pre-trained baseline")


def _gan_check(shipped: Path) -> dict:
    """FD per method (and recognisability / diversity) of ``runs.evaluate`` on Omniglot,
    measured on the shipped float16 file; tests/pretrained re-measures it."""
    from metagan_lab import runs

    got = runs.evaluate(str(shipped), runs.EvalOptions(**GAN_CHECK),
                        runs.DataOptions("omniglot"), torch.device("cpu"))
    keep = {k: v for k, v in got.items() if isinstance(v, float) and k != "seconds"}
    return {**GAN_CHECK, "values": keep}


def _restorer_check(shipped: Path) -> dict:
    """PSNR per method after ``inner_steps`` on the first test tasks, measured on the shipped
    float16 file (``runs.evaluate``); tests/pretrained re-measures it."""
    from metagan_lab import runs

    options = dict(RESTORER_CHECK)
    got = runs.evaluate(str(shipped), runs.EvalOptions(**options))
    return {**options, "psnr": got["psnr"]}


# run → (checkpoint in the run folder, shipped file, entry name): amortised one-shot generators,
# re-evaluated on the shipped file by their kind's own ``metagan-lab eval`` (R, δ, FD).
GENERATORS = {"statistician-warp": ("statistician.pt", "statistician.pt", "statistician"),
              "statistician-warp-b05": ("statistician.pt", "statistician.pt", "statistician")}


def package_generator(run: str, fingerprint: str) -> dict[str, dict]:
    """A one-shot generator: float16 file, then recognisability / diversity / FD of that file on
    30 5-way 1-shot episodes of Omniglot's test characters (``runs.kinds.statistician``)."""
    from metagan_lab.runs import DataOptions, EvalOptions
    from metagan_lab.runs.kinds import statistician as kind

    record = _record(run)
    source, file, name = GENERATORS[run]
    checkpoint = safe_load(RUNS / run / source)
    shipped = save_for_shipping(checkpoint, HERE / file)
    start = time.perf_counter()
    measured = kind.evaluate(load_checkpoint(shipped), EvalOptions(), DataOptions("omniglot"),
                             torch.device("cpu"))
    keys = ("recognisability", "diversity", "fd", "real_recognisability", "real_diversity")
    result = {k: measured[k] for k in keys} | {f"{k}_ci95": measured[f"{k}_ci95"] for k in keys}
    cfg, trained = checkpoint["config"], record["result"]
    entry = {"kind": "statistician", "algorithm": "statistician", "title":
             f"one-shot generator: Neural-Statistician-style VAE, {cfg['decoder']} decoder",
             "task": "Omniglot one-shot generation (5-way recognisability, diversity)",
             "file": file, "bytes": shipped.stat().st_size, "sha256": file_sha256(shipped),
             "storage": "float16 (loaded as float32)", "command": record["command"],
             "data": {"dataset": "omniglot", "fingerprint": fingerprint},
             "seed": cfg["seed"], "iterations": trained["iterations"],
             "train_seconds": trained["seconds"], "wall_seconds": record["wall_seconds"],
             "device": f"cpu ({record['cpu']}, 1 thread; 2-core machine shared with other jobs)",
             "trained": record["started"], "torch": torch.__version__, "result": result,
             "eval": {k: measured[k] for k in ("ways", "shots", "episodes", "samples", "seed",
                                                "critic")},
             "eval_seconds": round(time.perf_counter() - start, 1), "from_run": run}
    entry["summary"] = (f"recognisability {result['recognisability']:.3f} (real "
                        f"{result['real_recognisability']:.3f}, chance 0.2), diversity "
                        f"{result['diversity']:.3f} (real {result['real_diversity']:.3f})")
    print(f"{name}: {entry['summary']}", flush=True)
    return {name: entry}


def _summary(result: dict) -> str:
    """One short line for `metagan-lab pretrained`."""
    if any(k.startswith("psnr_10") for k in result):
        short = {"meta-learned init": "meta", "pretrained on all": "pretrained",
                 "scratch": "scratch", "classical (skimage)": "classical"}
        parts = [f"{name} {result[f'psnr_10_steps · {method}']:.1f}"
                 for method, name in short.items() if f"psnr_10_steps · {method}" in result]
        return "PSNR after 10 steps (dB): " + ", ".join(parts)
    parts = [f"{k.removeprefix('fd_')} {v:.1f}" for k, v in result.items()
             if not k.endswith("_ci95")]
    return "Fréchet distance: " + ", ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+",
                        choices=sorted(CLASSIFIERS) + sorted(INITS) + sorted(GENERATORS))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_classes("omniglot", progress=False)
    test = meta_split(data, "standard", rotations=True).test
    entries = manifest()
    for run in args.runs:
        if run in INITS:
            entries.update(package_init(run, data_fingerprint(data)))
        elif run in GENERATORS:
            entries.update(package_generator(run, data_fingerprint(data)))
        else:
            entries.update(package(run, test, data_fingerprint(data), args.threads))
        atomic_write_json(entries, MANIFEST)          # after each run: nothing lost on failure
    return 0


if __name__ == "__main__":
    sys.exit(main())
