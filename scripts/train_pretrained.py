"""Train the models that ship in ``metagan_lab/pretrained/`` with the project's own CLI.

    python scripts/train_pretrained.py protonet maml …   # some, in order
    python scripts/train_pretrained.py --list            # the commands, without running them

Each run writes ``runs/pretrained/<name>/`` (the CLI's checkpoint and results) and
``train_record.json`` there: the exact command, start time, wall seconds, exit code, host and
torch version. ``scripts/package_pretrained.py`` then turns a finished run into a shipped model and
its manifest entry (re-evaluating the shipped weights). Budgets are what a 2-core CPU allows in one
session (one thread per run); on a GPU, raise ``--max-seconds`` / ``--iterations``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "runs" / "pretrained"
CPU = ["--device", "cpu", "--seed", "0", "--json", "--quiet"]
META = ["--threads", "1", "--iterations", "100000", "--val-every", "250"]
# The episodic methods (metagan_lab.methods): 6 minutes of training each, 1 thread.
EPISODIC = ["--max-seconds", "360", "--threads", "1", "--iterations", "100000",
            "--val-every", "250", "--overwrite"]

# name → arguments after `metagan-lab train`; each writes under --out runs/pretrained/<name>.
RUNS: dict[str, list[str]] = {
    "protonet": ["protonet", "--ways", "5", "--shots", "1", "--train-ways", "20",
                 "--iterations", "2500", "--lr-halve-every", "1000"],
    "maml-5w1s": ["maml", "--meta-batch", "8", "--max-seconds", "2700", *META],
    # Stage 2 of MAML: continue from stage 1's θ (Adam restarts), 1500 more iterations.
    "maml-5w1s-more": ["maml", "--meta-batch", "8", "--threads", "1", "--iterations", "1500",
                       "--max-seconds", "3600", "--val-every", "250", "--init-from",
                       str(OUT / "maml-5w1s" / "maml" / "checkpoint.pt")],
    "metasgd-5w1s": ["metasgd", "--meta-batch", "8", "--max-seconds", "1200", *META],
    "fomaml-5w1s": ["fomaml", "--meta-batch", "8", "--max-seconds", "600", *META],
    "anil-5w1s": ["anil", "--meta-batch", "8", "--max-seconds", "600", *META],
    "reptile-5w1s": ["reptile", "--inner-optimizer", "adam", "--inner-lr", "0.001",
                     "--train-shots", "2", "--inner-steps", "5", "--eval-inner-steps", "50",
                     "--max-seconds", "900", *META],
    # 20-way 1-shot for the learners whose head has N outputs (8 minutes each, 1 thread); the
    # metric / generated-head methods are tested at 20 ways with their 5-way models.
    **{f"{m}-20w1s": [m, "--ways", "20", "--meta-batch", "4", "--max-seconds", "480", *META]
       for m in ("maml", "fomaml", "metasgd", "anil")},
    "reptile-20w1s": ["reptile", "--ways", "20", "--inner-optimizer", "adam", "--inner-lr", "0.001",
                      "--train-shots", "2", "--inner-steps", "5", "--eval-inner-steps", "50",
                      "--max-seconds", "480", *META],
    **{f"{m}-5w1s": [m, *EPISODIC] for m in ("matching", "relation", "protomaml", "finetune",
                                              "simpleshot", "mann", "hypernet")},
    # The few-shot GAN (Reptile θ_G, θ_D, the pooled DCGAN) and the restorer inits (notebook 08).
    "fewshot-gan": ["fewshot-gan", "--iterations", "200", "--pretrain-steps", "600",
                    "--pretrain-r1", "1", "--classifier-steps", "150", "--eval-classes", "10",
                    "--threads", "1", "--overwrite"],
    # The one-shot generator (notebook 07): the warp decoder moves the shot's pixels; targets are
    # the other writers' images of the class (--exclude-shots); the likelihood sees the images
    # through a Gaussian blur (σ = 1 px; β = 0.5 and σ = 1.5 px as a second candidate).
    "statistician-warp": ["statistician", "--decoder", "warp", "--exclude-shots", "--blur", "1",
                          "--max-seconds", "900", "--iterations", "100000", "--threads", "1",
                          "--val-every", "250"],
    "statistician-warp-b05": ["statistician", "--decoder", "warp", "--exclude-shots", "--blur",
                              "1.5", "--beta", "0.5", "--max-seconds", "900", "--iterations",
                              "100000", "--threads", "1", "--val-every", "250"],
    "restorer-fomaml": ["restore", "--method", "fomaml", "--images", "natural",
                        "--iterations", "300", "--inner-lr", "0.05", "--inner-steps", "3",
                        "--meta-batch", "4", "--k-shot", "5", "--queries", "5",
                        "--tv-weight", "1e-3", "--hidden", "32", "--depth", "4",
                        "--eval-tasks", "10", "--threads", "1"],
    # Bias-free, normalised task losses, 4000 pooled Adam steps, then FOMAML warm-started from
    # them (MZSR's meta-transfer) with Adam inner steps at α; the baseline gets 1500 more pooled
    # steps (about 45 minutes each on one thread).
    **{f"restorer-bf-{tag}": ["restore", "--method", "fomaml", "--images", "natural",
                              "--hidden", "32", "--depth", "6", "--bias-free", "--normalize",
                              "--warm-start", "--pretrain-iterations", "4000", "--pretrain-lr",
                              "1e-3", "--iterations", "1500", "--inner-optimizer", "adam",
                              "--inner-lr", lr, "--inner-steps", "5", "--meta-lr", "1e-4",
                              "--no-self-supervised-rows", "--eval-tasks", "10", "--threads", "1",
                              "--overwrite"]
       for tag, lr in (("a1e-3", "1e-3"), ("a3e-3", "3e-3"))},
    # A bias-free denoiser trained on σ ≤ 0.15 only (raw losses, as scripts/restore_bias_free.py):
    # 4000 pooled Adam steps, then FOMAML warm-started from them; tested at the unseen σ = 0.25.
    "restorer-denoise-bf": ["restore", "--method", "fomaml", "--images", "natural",
                            "--degradations", "noise", "--hidden", "32", "--depth", "6",
                            "--bias-free", "--warm-start", "--pretrain-iterations", "4000",
                            "--pretrain-lr", "1e-3", "--iterations", "500", "--inner-optimizer",
                            "adam", "--inner-lr", "1e-4", "--inner-steps", "5", "--meta-lr",
                            "1e-4", "--no-self-supervised-rows", "--eval-tasks", "10",
                            "--threads", "1", "--overwrite"],
}


def command(name: str) -> list[str]:
    return ["metagan-lab", "train", *RUNS[name], *CPU, "--out", str(OUT / name)]


def run(name: str) -> int:
    out = OUT / name
    out.mkdir(parents=True, exist_ok=True)
    cmd = command(name)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    start = time.perf_counter()
    with open(out / "train.log", "w") as log:
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    seconds = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    record = {"name": name, "command": shlex.join(cmd), "started": started,
              "wall_seconds": round(seconds, 1), "returncode": proc.returncode,
              "host": platform.node(), "cpu": platform.processor() or platform.machine(),
              "result": json.loads(lines[-1]) if lines else None}
    (out / "train_record.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"{name}: exit {proc.returncode} after {seconds:.0f} s", flush=True)
    return proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"runs to do, from {sorted(RUNS)}")
    parser.add_argument("--list", action="store_true", help="print the commands only")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(RUNS))
    if unknown:
        parser.error(f"unknown run(s) {unknown}; choose from {sorted(RUNS)}")
    if args.list or not args.names:
        for name in args.names or RUNS:
            print(f"{name}: {shlex.join(command(name))}")
        return 0
    return max(run(name) for name in args.names)


if __name__ == "__main__":
    sys.exit(main())
