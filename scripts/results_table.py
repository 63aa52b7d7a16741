"""One table of every few-shot method: Omniglot 5-way / 20-way 1-shot and cross-domain.

    python scripts/results_table.py train-glyphs [NAMES…] [--seconds 120]   # glyphs-trained runs
    python scripts/results_table.py table [--tasks 600] [--jobs 2] [--fresh] [--out docs/results.md]

``train-glyphs`` meta-trains each method on the embedded glyphs (``metagan-lab train <name>
--dataset glyphs --max-seconds S``, 1 thread) into runs/crossdomain/<name>/. ``table`` then
evaluates, all with ``metagan-lab eval`` (1-shot, 15 queries per class, 600 tasks, fixed seed):
the shipped Omniglot model of each method on Omniglot (its manifest's figures) and on the glyphs'
test classes (Omniglot → glyphs), and each glyphs-trained run on Omniglot's test classes (glyphs →
Omniglot). 20-way: ProtoNets' shipped 20-way model; the learners whose head has N outputs (MAML,
FOMAML, Meta-SGD, ANIL, Reptile) from their 20-way runs (``scripts/train_pretrained.py
<name>-20w1s``, runs/pretrained/: each run's own final test, 600 Omniglot test tasks); every
other method's 5-way model tested at 20 ways (metric and generated-head methods take any N).
It writes a Markdown table (and the JSON rows beside it) with the papers' Omniglot numbers,
wall time and device; ``--jobs`` evaluations run side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CROSS = ROOT / "runs" / "crossdomain"
TWENTY = ROOT / "runs" / "pretrained"
CACHE = ROOT / "runs" / "results_table"          # one JSON per evaluation (``--fresh`` redoes)
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
META = ("maml", "fomaml", "metasgd", "anil", "reptile")
EPISODIC = ("matching", "relation", "protomaml", "finetune", "simpleshot", "mann", "hypernet")
METHODS = ("protonet", *META, *EPISODIC)


def cli(*args: str) -> dict:
    """``metagan-lab ARGS --json`` → its JSON line (one-line error on failure)."""
    exe = shutil.which("metagan-lab") or str(Path(sys.executable).with_name("metagan-lab"))
    done = subprocess.run([exe, *args, "--json", "--quiet"], capture_output=True, text=True,
                          env=ENV)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def train_glyphs(names: list[str], seconds: int) -> None:
    for name in names:
        out = CROSS / name
        args = ["train", name, "--dataset", "glyphs", "--max-seconds", str(seconds),
                "--iterations", "100000", "--threads", "1", "--device", "cpu", "--seed", "0",
                "--out", str(out)]
        if name == "protonet":                   # no time budget option: ~0.5 s an episode
            args = ["train", "protonet", "--dataset", "glyphs", "--iterations",
                    str(max(20, seconds * 2)), "--device", "cpu", "--seed", "0",
                    "--out", str(out)]
        args.append("--overwrite")
        start = time.perf_counter()
        result = cli(*args)
        result["wall_seconds"] = round(time.perf_counter() - start, 1)
        (CROSS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(name, result.get("accuracy", result.get("error")), flush=True)


def checkpoint_of(name: str, root: Path = CROSS) -> Path | None:
    folder = root / name
    for path in (folder / "protonet.pt", folder / name / "checkpoint.pt",
                 folder / "checkpoint.pt", *folder.glob("**/checkpoint.pt")):
        if path.is_file():
            return path
    return None


def pct(r: dict | None) -> str:
    if not r or "accuracy" not in r:
        return (r or {}).get("error", "—")[:60] if r else "—"
    return f"{100 * r['accuracy']:.2f} ± {100 * r['ci95']:.2f}"


def table(tasks: int, out: Path, jobs_in_parallel: int = 1, fresh: bool = False) -> None:
    from metagan_lab.meta.bench import PAPER_5WAY_1SHOT
    from metagan_lab.pretrained import PAPER_20WAY_1SHOT, manifest

    shipped = manifest()
    common = ["--shots", "1", "--queries", "15", "--episodes", str(tasks), "--device", "cpu",
              "--seed", "0"]
    jobs = {}                                    # (name, column) → eval arguments
    for name in METHODS:
        if f"{name}-5w1s" in shipped:
            jobs[name, "o2g"] = ["eval", f"pretrained:{name}-5w1s", "--dataset", "glyphs",
                                 "--ways", "5", *common]
        if (ckpt := checkpoint_of(name)) is not None:
            jobs[name, "g2o"] = ["eval", str(ckpt), "--dataset", "omniglot", "--ways", "5",
                                 *common]
        if f"{name}-20w1s" in shipped:
            continue                             # its manifest's 20-way figure
        if name not in META and f"{name}-5w1s" in shipped:   # META: the run's own 600 tasks
            jobs[name, "20w"] = ["eval", f"pretrained:{name}-5w1s", "--dataset", "omniglot",
                                 "--ways", "20", *common]

    def timed(key):
        cached = CACHE / f"{key[0]}-{key[1]}-{tasks}.json"
        if not fresh and cached.is_file():       # written by an earlier `table` run
            return key, json.loads(cached.read_text())
        start = time.perf_counter()
        result = cli(*jobs[key])
        result["wall_seconds"] = round(time.perf_counter() - start, 1)
        if "error" not in result:
            CACHE.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps(result, indent=2) + "\n")
        print(*key, pct(result), flush=True)
        return key, result

    with ThreadPoolExecutor(max_workers=jobs_in_parallel) as pool:
        done = dict(pool.map(timed, list(jobs)))
    rows = []
    for name in METHODS:
        five = shipped.get(f"{name}-5w1s")
        twenty = shipped.get(f"{name}-20w1s")
        trained = json.loads((CROSS / f"{name}.json").read_text()) \
            if (CROSS / f"{name}.json").is_file() else {}
        run20 = TWENTY / f"{name}-20w1s" / "train_record.json"
        run20 = json.loads(run20.read_text()).get("result") if run20.is_file() else None
        if name in META and run20 is not None:   # its final test: 600 Omniglot test tasks
            done[name, "20w"] = run20
        rows.append({
            "method": name,
            "omniglot_5w1s": five and five["result"],
            "omniglot_20w1s": twenty["result"] if twenty else done.get((name, "20w")),
            "omniglot_20w1s_model": ("shipped 20-way" if twenty else "20-way run"
                                     if name in META else "5-way model"),
            "omniglot_to_glyphs_5w1s": done.get((name, "o2g")),
            "glyphs_to_omniglot_5w1s": done.get((name, "g2o")),
            "omniglot_train_minutes": five and round(five["train_seconds"] / 60, 1),
            "omniglot_20w_train_minutes": run20 and round(run20["seconds"] / 60, 1) or None,
            "glyphs_train_minutes": trained.get("seconds") and round(trained["seconds"] / 60, 1),
            "glyphs_train_iterations": trained.get("iterations"),
            "paper_5w1s": PAPER_5WAY_1SHOT.get(name, "—"),
            "paper_20w1s": PAPER_20WAY_1SHOT.get(name, "—"),
        })
    device = f"CPU ({platform.processor() or platform.machine()}, 1 thread per run, 2 cores)"
    lines = [f"# Every method, one table ({tasks} test tasks each, 1-shot, 15 queries per class)",
             "", f"Measured with `python scripts/results_table.py table` on {device}, "
             f"{time.strftime('%Y-%m-%d')}. Accuracy ± 95 % CI in percent. Omniglot columns: "
             "the shipped models (`metagan-lab pretrained`), standard split with rotations. "
             "Omniglot → glyphs: the same models tested on the glyphs' test classes. Glyphs → "
             "Omniglot: each method trained on the glyphs (`train-glyphs`), tested on Omniglot's "
             "test classes. Omniglot 20w1s: ProtoNets' shipped 20-way model; MAML, FOMAML, "
             "Meta-SGD, ANIL and Reptile (an N-output head) from 20-way runs "
             "(`scripts/train_pretrained.py <name>-20w1s`, 8 CPU minutes each); the other "
             "methods' 5-way models tested at 20 ways. The glyph runs had 120 s each "
             "(`--max-seconds`, 1 thread) on a machine shared with other jobs: their iteration "
             "counts (in brackets) are small, so read that column as a short-budget result.", "",
             "| method | Omniglot 5w1s | Omniglot 20w1s | Omniglot → glyphs 5w1s | "
             "glyphs → Omniglot 5w1s | train min (Omniglot 5w / 20w / glyphs, glyph iterations) | "
             "paper 5w1s | "
             "paper 20w1s |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        minutes = " / ".join(str(r[k] or "—") for k in (
            "omniglot_train_minutes", "omniglot_20w_train_minutes", "glyphs_train_minutes"))
        if r["glyphs_train_iterations"]:
            minutes += f" ({r['glyphs_train_iterations']} it.)"
        lines.append(f"| {r['method']} | {pct(r['omniglot_5w1s'])} | {pct(r['omniglot_20w1s'])} | "
                     f"{pct(r['omniglot_to_glyphs_5w1s'])} | {pct(r['glyphs_to_omniglot_5w1s'])}"
                     f" | {minutes} | {r['paper_5w1s']} | {r['paper_20w1s']} |")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps(rows, indent=2, default=str) + "\n")
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    t = sub.add_parser("train-glyphs")
    t.add_argument("names", nargs="*", default=list(METHODS))
    t.add_argument("--seconds", type=int, default=120)
    b = sub.add_parser("table")
    b.add_argument("--tasks", type=int, default=600)
    b.add_argument("--out", type=Path, default=ROOT / "docs" / "results.md")
    b.add_argument("--jobs", type=int, default=1, help="evaluations side by side (1 thread each)")
    b.add_argument("--fresh", action="store_true", help="re-run evaluations cached in runs/")
    args = parser.parse_args()
    if args.what == "train-glyphs":
        unknown = sorted(set(args.names) - set(METHODS))
        if unknown:
            parser.error(f"unknown method(s) {unknown}; choose from {METHODS}")
        CROSS.mkdir(parents=True, exist_ok=True)
        train_glyphs(args.names, args.seconds)
    else:
        table(args.tasks, args.out, args.jobs, args.fresh)


if __name__ == "__main__":
    main()
