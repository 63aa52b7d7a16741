"""One table of every few-shot method: Omniglot 5-way / 20-way 1-shot and cross-domain.

    python scripts/results_table.py train-glyphs [NAMES…] [--seconds 120]   # glyphs-trained runs
    python scripts/results_table.py table [--tasks 600] [--out docs/results.md]

``train-glyphs`` meta-trains each method on the embedded glyphs (``metagan-lab train <name>
--dataset glyphs --max-seconds S``, 1 thread) into runs/crossdomain/<name>/. ``table`` then
evaluates, all with ``metagan-lab eval`` (1-shot, 15 queries per class, 600 tasks, fixed seed):
the shipped Omniglot model of each method on Omniglot (its manifest's figures, 5- and 20-way)
and on the glyphs' test classes (Omniglot → glyphs), and each glyphs-trained run on Omniglot's test
classes (glyphs → Omniglot). It writes a Markdown table (and the JSON rows beside it) with the
papers' Omniglot numbers, wall time and device.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CROSS = ROOT / "runs" / "crossdomain"
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


def checkpoint_of(name: str) -> Path | None:
    folder = CROSS / name
    for path in (folder / "protonet.pt", folder / name / "checkpoint.pt",
                 folder / "checkpoint.pt", *folder.glob("**/checkpoint.pt")):
        if path.is_file():
            return path
    return None


def pct(r: dict | None) -> str:
    if not r or "accuracy" not in r:
        return (r or {}).get("error", "—")[:60] if r else "—"
    return f"{100 * r['accuracy']:.2f} ± {100 * r['ci95']:.2f}"


def table(tasks: int, out: Path) -> None:
    from metagan_lab.meta.bench import PAPER_5WAY_1SHOT
    from metagan_lab.pretrained import PAPER_20WAY_1SHOT, manifest

    shipped = manifest()
    rows = []
    for name in METHODS:
        five = shipped.get(f"{name}-5w1s")
        twenty = shipped.get(f"{name}-20w1s")
        common = ["--ways", "5", "--shots", "1", "--queries", "15", "--episodes", str(tasks),
                  "--device", "cpu", "--seed", "0"]
        o2g = (cli("eval", f"pretrained:{name}-5w1s", "--dataset", "glyphs", *common)
               if five else None)
        ckpt = checkpoint_of(name)
        g2o = cli("eval", str(ckpt), "--dataset", "omniglot", *common) if ckpt else None
        trained = json.loads((CROSS / f"{name}.json").read_text()) \
            if (CROSS / f"{name}.json").is_file() else {}
        rows.append({
            "method": name,
            "omniglot_5w1s": five and five["result"], "omniglot_20w1s": twenty and twenty["result"],
            "omniglot_to_glyphs_5w1s": o2g, "glyphs_to_omniglot_5w1s": g2o,
            "omniglot_train_minutes": five and round(five["train_seconds"] / 60, 1),
            "glyphs_train_minutes": trained.get("seconds") and round(trained["seconds"] / 60, 1),
            "paper_5w1s": PAPER_5WAY_1SHOT.get(name, "—"),
            "paper_20w1s": PAPER_20WAY_1SHOT.get(name, "—"),
        })
        print(name, pct(five and five["result"]), pct(o2g), pct(g2o), flush=True)
    device = f"CPU ({platform.processor() or platform.machine()}, 1 thread per run, 2 cores)"
    lines = [f"# Every method, one table ({tasks} test tasks each, 1-shot, 15 queries per class)",
             "", f"Measured with `python scripts/results_table.py table` on {device}, "
             f"{time.strftime('%Y-%m-%d')}. Accuracy ± 95 % CI in percent. Omniglot columns: "
             "the shipped models (`metagan-lab pretrained`), standard split with rotations. "
             "Omniglot → glyphs: the same models tested on the glyphs' test classes. Glyphs → "
             "Omniglot: each method trained on the glyphs (`train-glyphs`), tested on Omniglot's "
             "test classes.", "",
             "| method | Omniglot 5w1s | Omniglot 20w1s | Omniglot → glyphs 5w1s | "
             "glyphs → Omniglot 5w1s | train min (Omniglot / glyphs) | paper 5w1s | "
             "paper 20w1s |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['method']} | {pct(r['omniglot_5w1s'])} | {pct(r['omniglot_20w1s'])} | "
                     f"{pct(r['omniglot_to_glyphs_5w1s'])} | {pct(r['glyphs_to_omniglot_5w1s'])}"
                     f" | {r['omniglot_train_minutes'] or '—'} / {r['glyphs_train_minutes'] or '—'}"
                     f" | {r['paper_5w1s']} | {r['paper_20w1s']} |")
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
    args = parser.parse_args()
    if args.what == "train-glyphs":
        unknown = sorted(set(args.names) - set(METHODS))
        if unknown:
            parser.error(f"unknown method(s) {unknown}; choose from {METHODS}")
        CROSS.mkdir(parents=True, exist_ok=True)
        train_glyphs(args.names, args.seconds)
    else:
        table(args.tasks, args.out)


if __name__ == "__main__":
    main()
