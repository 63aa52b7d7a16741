"""Time the lesson notebooks as a student runs them: teaching mode (``METAGAN_LAB_QUICK`` unset),
``MPLBACKEND=Agg``, one ``jupyter nbconvert --execute`` subprocess per notebook.

    python scripts/time_notebooks.py                        # notebooks/NN_*.ipynb, one JSON object
    python scripts/time_notebooks.py notebooks/06_gan_lab.ipynb --timeout 600
    python scripts/time_notebooks.py --exercises --quick    # + exercises with solutions, quick

Per notebook: wall seconds, and CPU seconds of everything the run started (nbconvert and its
kernel: user + sys of the reaped child processes, ``resource.getrusage(RUSAGE_CHILDREN)`` deltas),
the exit status and the load average before and after. Machine: cores, torch version, GPU.
Executed notebooks go to a temporary folder that is deleted; the committed notebooks are not
touched. Progress goes to stderr, the JSON object to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict:
    info = {"cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "torch": None, "gpu": None}
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def time_notebook(path: Path, out_dir: Path, timeout: int, env: dict) -> dict:
    """Run one notebook with nbconvert in a subprocess; wall and children's CPU seconds."""
    cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
           str(path), "--output-dir", str(out_dir), "--output", path.stem + ".executed",
           f"--ExecutePreprocessor.timeout={timeout}"]
    load_before = os.getloadavg()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    user, system = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
    record = {"notebook": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
              "ok": proc.returncode == 0, "wall_s": round(wall, 1),
              "cpu_s": round(user + system, 1), "user_s": round(user, 1),
              "sys_s": round(system, 1), "load_before": [round(x, 2) for x in load_before],
              "load_after": [round(x, 2) for x in os.getloadavg()]}
    if proc.returncode != 0:
        record["error"] = proc.stderr.strip().splitlines()[-5:]
    return record


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("notebooks", nargs="*", type=Path,
                   help="notebooks to run (default: every lesson, notebooks/NN_*.ipynb)")
    p.add_argument("--exercises", action="store_true",
                   help="also run the exercises with their reference solutions "
                        "(course/source/*/*.ipynb, the nbgrader sources)")
    p.add_argument("--quick", action="store_true", help="quick mode (METAGAN_LAB_QUICK=1)")
    p.add_argument("--timeout", type=int, default=900, help="seconds per cell (default 900)")
    a = p.parse_args(argv)

    lessons = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    paths = [x.resolve() for x in a.notebooks] or lessons
    if a.exercises:
        paths += sorted((ROOT / "course" / "source").glob("*/*.ipynb"))
    missing = [str(x) for x in paths if not x.is_file()]
    if missing:
        p.error(f"no such notebook: {', '.join(missing)}")
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("METAGAN_LAB_QUICK", None)
    if a.quick:
        env["METAGAN_LAB_QUICK"] = "1"

    result = {"mode": "quick" if a.quick else "teaching", "timeout_s": a.timeout,
              "machine": machine(), "load_before": [round(x, 2) for x in os.getloadavg()],
              "notebooks": []}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="time_notebooks_") as tmp:
        for path in paths:
            print(f"{path.name} …", end=" ", file=sys.stderr, flush=True)
            record = time_notebook(path, Path(tmp), a.timeout, env)
            print(f"{'ok' if record['ok'] else 'FAILED'}: {record['wall_s']} s wall, "
                  f"{record['cpu_s']} s CPU", file=sys.stderr, flush=True)
            result["notebooks"].append(record)
    result["total_wall_s"] = round(time.perf_counter() - t0, 1)
    result["total_cpu_s"] = round(sum(r["cpu_s"] for r in result["notebooks"]), 1)
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=1))
    return 0 if all(r["ok"] for r in result["notebooks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
