"""Meta-learned restoration on the unseen test settings: one bounded run, a table and a JSON file.

Runs ``restore.experiment.run_experiment`` (meta-train θ_meta, pre-train θ_pre on the pooled
training tasks, evaluate scratch / pretrained / meta / classical on the unseen settings) with the
options below, on one CPU thread, then prints

* the PSNR / SSIM table (``restore.evaluate.format_table``),
* per unseen setting: the degraded input (scratch at 0 steps: the identity init returns y),
  the classical method, the best PSNR of a trained net (meta or pretrained, any k), and
  meta@k − max(scratch@k, pretrained@k),
* the three checks of issue #12 (learned > degraded on every setting; learned > classical on
  noise; meta − best baseline ≥ 1 dB on every setting at some k ≤ 10),

and writes everything (rows, checks, config, wall times) to ``--json``.

Example (the run reported in the restoration results)::

    python scripts/restore_results.py --hidden 32 --depth 6 --iterations 300 \\
        --inner-optimizer adam --inner-lr 3e-3 --json runs/restore_results.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from metagan_lab.cli.restore import add_experiment_options, experiment_config
from metagan_lab.models import params_of
from metagan_lab.restore.data import restoration_images
from metagan_lab.restore.degradations import TaskFamily
from metagan_lab.restore.evaluate import Method, compare_methods, format_table
from metagan_lab.restore.experiment import ExperimentConfig, build_restorer, run_experiment
from metagan_lab.runs import save
from metagan_lab.runs.kinds import restorer as restorer_format


def _optimizer_step(text: str) -> tuple[str, float]:
    """'adam=3e-4' → ("adam", 3e-4)."""
    optimizer, _, lr = text.partition("=")
    if optimizer not in ("sgd", "adam") or not lr:
        raise argparse.ArgumentTypeError(f"expected sgd=LR or adam=LR (e.g. adam=3e-4), got "
                                         f"{text!r}")
    return optimizer, float(lr)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_experiment_options(p)        # the options of `metagan-lab train restore`
    p.add_argument("--modes", default="",
                   help="extra adaptation modes to report for θ_meta and θ_pre, e.g. gains,head "
                        "(evaluated on --mode-tasks tasks per setting)")
    p.add_argument("--mode-tasks", type=int, default=5)
    p.add_argument("--mode-lrs", default="",
                   help="test-time Adam/SGD step per mode, e.g. gains=1e-2,head=1e-3 (default: "
                        "the adaptation step)")
    p.add_argument("--burst", type=int, default=1,
                   help="also evaluate bursts of this many shots per test image (fused mean)")
    p.add_argument("--baseline-step", type=_optimizer_step, default=None,
                   help="with --load: also adapt the pretrained net with its own optimiser and "
                        "step, e.g. adam=3e-4 (a baseline row at its best step)")
    p.add_argument("--load", type=Path, default=None,
                   help="evaluate this restorer checkpoint (a previous run's .pt) instead of "
                        "training; its config is used, training options are ignored")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=Path("runs/restore_results.json"))
    return p.parse_args(argv)


def psnr_at(rows: list[dict], setting: str, method: str, k: int) -> float:
    return next(r["psnr"] for r in rows
                if (r["setting"], r["method"], r["steps"]) == (setting, method, k))


def summary(rows: list[dict], steps: tuple[int, ...]) -> list[dict]:
    """Per setting: degraded input, classical, best learned, and meta − best baseline per k
    (the baselines: scratch and every "pretrained on all …" row, e.g. at its own step size)."""
    names = dict.fromkeys(r["method"] for r in rows)
    baselines = [m for m in names if m == "scratch" or m.startswith("pretrained on all")]
    # scratch at 0 steps *is* the degraded input: the best learned is a trained init's
    trained = [m for m in names if m == "meta-learned init" or m.startswith("pretrained on all")]
    out = []
    for setting in dict.fromkeys(r["setting"] for r in rows):
        k_max = max(steps)
        gaps = {k: psnr_at(rows, setting, "meta-learned init", k)
                - max(psnr_at(rows, setting, m, k) for m in baselines) for k in steps if k}
        best = max(psnr_at(rows, setting, m, k) for m in trained for k in steps)
        out.append({"setting": setting, "degraded": psnr_at(rows, setting, "scratch", 0),
                    "classical": psnr_at(rows, setting, "classical (skimage)", k_max),
                    "best_learned": best, "meta_minus_best_baseline": gaps})
    return out


def checks(table: list[dict]) -> dict[str, bool]:
    noise = [s for s in table if s["setting"].startswith("noise")]
    return {"learned beats degraded everywhere": all(
                s["best_learned"] > s["degraded"] for s in table),
            "learned beats classical on noise": bool(noise) and all(
                s["best_learned"] > s["classical"] for s in noise),
            "meta beats both baselines by >= 1 dB everywhere": all(
                max(s["meta_minus_best_baseline"].values()) >= 1.0 for s in table)}


def mode_rows(cfg: ExperimentConfig, out: dict, modes: list[str], n_tasks: int,
              lrs: dict[str, float]) -> list[dict]:
    """PSNR / SSIM vs steps per adaptation mode (all, gains, head, all + self-supervised) for
    θ_meta and θ_pre on the unseen settings (the same test tasks as the main table's first
    ``n_tasks``), each mode with its own step (``lrs``, default the adaptation step)."""
    model, rows = build_restorer(cfg, cfg.seed), []
    for mode in ["all", *modes, "self-sup."]:
        lr = lrs.get(mode, cfg.meta.test_lr)
        ss, m = mode == "self-sup.", "all" if mode == "self-sup." else mode
        methods = [Method(f"meta · {mode} (lr {lr:g})", out["theta_meta"], ss, m)]
        if not ss:
            methods.append(Method(f"pretrained · {mode} (lr {lr:g})", out["theta_pretrained"],
                                  mode=m))
        rows += compare_methods(model, methods, restoration_images(cfg.source, "test"),
                                TaskFamily(kinds=cfg.kinds).test_settings(), lr,
                                cfg.meta.tv_weight, n_tasks, cfg.meta.k_shot, cfg.meta.n_query,
                                cfg.steps, cfg.seed + 7, False,
                                optimizer=cfg.meta.test_optimizer)
    return rows


def evaluate_loaded(path: Path, n_tasks: int, n_shots: int = 1,
                    baseline_step: tuple[str, float] | None = None
                    ) -> tuple[ExperimentConfig, dict]:
    """A saved run's config and thetas, and its table re-measured (``n_shots``: bursts).
    ``baseline_step`` (optimiser, step): also the pretrained net adapted with that step, a row
    "pretrained on all (adam 0.0003)" (its own best step, not the meta-learned init's)."""
    from metagan_lab import runs

    ckpt = runs.load(str(path))
    cfg = restorer_format.config_of(ckpt)
    model, theta = restorer_format.build(ckpt)
    out = {"theta_meta": theta["meta"], "theta_pretrained": theta["pretrained"],
           "seconds_meta": 0.0, "seconds_pretrain": 0.0, "history_meta": [],
           "history_pretrained": []}
    scratch = params_of(build_restorer(cfg, cfg.seed + 1))
    methods = [Method("meta-learned init", theta["meta"]), Method("scratch", scratch),
               Method("pretrained on all", theta["pretrained"]),
               Method("classical (skimage)", None)]
    # (methods, optimiser, step) per call: every method at the init's own step, then optionally
    # the pretrained net at the baseline's; the same test tasks (they depend on the seed only)
    calls = [(methods, cfg.meta.test_optimizer, cfg.meta.test_lr)]
    if baseline_step is not None:
        optimizer, lr = baseline_step
        calls.append(([Method(f"pretrained on all ({optimizer} {lr:g})", theta["pretrained"])],
                      optimizer, lr))
    images = restoration_images(cfg.source, "test")
    settings = TaskFamily(kinds=cfg.kinds).test_settings()
    start, out["rows"] = time.perf_counter(), []
    for group, optimizer, lr in calls:
        out["rows"] += compare_methods(model, group, images, settings, lr, cfg.meta.tv_weight,
                                       n_tasks, cfg.meta.k_shot, cfg.meta.n_query, cfg.steps,
                                       cfg.seed + 7, False, optimizer=optimizer, n_shots=n_shots)
    out["seconds_eval"] = time.perf_counter() - start
    return cfg, out


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    if args.load is not None:
        cfg, out = evaluate_loaded(args.load, args.eval_tasks, baseline_step=args.baseline_step)
    else:
        cfg = experiment_config(args)
        out = run_experiment(cfg, "cpu", progress=False)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    if args.load is None:
        save(restorer_format.checkpoint({**out, "config": dataclasses.asdict(cfg)}),
             args.json.with_suffix(".pt"))
    table = summary(out["rows"], cfg.steps)
    print(format_table(out["rows"]))
    print("\n| setting | degraded | classical | best learned | meta − best baseline (k: dB) |")
    print("|---|---|---|---|---|")
    for s in table:
        gaps = ", ".join(f"{k}: {g:+.2f}" for k, g in s["meta_minus_best_baseline"].items())
        print(f"| {s['setting']} | {s['degraded']:.2f} | {s['classical']:.2f} | "
              f"{s['best_learned']:.2f} | {gaps} |")
    modes = [m for m in args.modes.split(",") if m]
    lrs = {k: float(v) for k, v in (kv.split("=") for kv in args.mode_lrs.split(",") if kv)}
    rows_modes = mode_rows(cfg, out, modes, args.mode_tasks, lrs) if modes else []
    if rows_modes:
        print("\nadaptation modes (PSNR / SSIM vs steps):\n" + format_table(rows_modes))
    rows_burst = []
    if args.burst > 1:
        rows_burst = evaluate_loaded(args.json.with_suffix(".pt") if args.load is None
                                     else args.load, args.eval_tasks, args.burst)[1]["rows"]
        print(f"\nbursts of {args.burst} shots (fused mean):\n" + format_table(rows_burst))
    verdict = checks(table)
    wall = time.perf_counter() - start
    print("\n" + "\n".join(f"{'PASS' if v else 'FAIL'}  {k}" for k, v in verdict.items()))
    print(f"wall {wall:.0f} s (meta {out['seconds_meta']:.0f} s, pretrain "
          f"{out['seconds_pretrain']:.0f} s, eval {out['seconds_eval']:.0f} s), 1 thread")

    args.json.write_text(json.dumps({
        "command": "python scripts/restore_results.py " + " ".join(sys.argv[1:]),
        "config": dataclasses.asdict(cfg), "rows": out["rows"], "summary": table,
        "checks": verdict, "mode_rows": rows_modes, "burst_rows": rows_burst,
        "burst_shots": args.burst, "seconds": wall,
        "seconds_meta": out["seconds_meta"],
        "seconds_pretrain": out["seconds_pretrain"], "seconds_eval": out["seconds_eval"],
        "history_meta": out["history_meta"], "history_pretrained": out["history_pretrained"]},
        indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
