"""Meta-training throughput with 1, 2, … processes (torchrun, gloo on CPU, nccl on GPUs).

    python scripts/bench_distributed.py --procs 1 2 --iterations 30 [--device cpu] [-- extra]

Runs ``torchrun --nproc_per_node=P -m metagan_lab train maml …`` for each P with one thread per
process, and prints one JSON line per P: tasks per second of meta-training (the training
``seconds`` of the run's result, validation kept to 2 tasks) and the ratio to one process.
Arguments after ``--`` go to ``train maml`` (e.g. ``-- --dataset omniglot --meta-batch 32``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile


def run(procs: int, iterations: int, device: str, extra: list[str]) -> dict:
    out = tempfile.mkdtemp(prefix="bench-dist-")
    try:
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={procs}",
               "-m", "metagan_lab", "train", "maml", "--iterations", str(iterations),
               "--val-every", str(iterations), "--val-tasks", "2", "--test-tasks", "2",
               "--threads", "1", "--device", device, "--quiet", "--json", "--out", out, *extra]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(out, ignore_errors=True)
    meta_batch = int(extra[extra.index("--meta-batch") + 1]) if "--meta-batch" in extra else 32
    return {"processes": procs, "iterations": result["iterations"], "meta_batch": meta_batch,
            "seconds": result["seconds"], "device": result["device"],
            "tasks_per_second": round(result["iterations"] * meta_batch / result["seconds"], 2)}


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    base = None
    for procs in args.procs:
        row = run(procs, args.iterations, args.device, extra)
        base = base or row["tasks_per_second"]
        row["ratio_to_first"] = round(row["tasks_per_second"] / base, 2)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
