"""Probe one pooled restorer: train it, then PSNR after 1/5/10 test-time steps per optimiser,
step size and adaptation mode, on 3 test tasks of each unseen setting (cheap; no meta-training).

    python scripts/restore_probe.py KINDS ITERATIONS LR TAG HIDDEN DEPTH [NOISE_MAX] [BIAS] [NORM]

KINDS a comma list (noise,blur,...); the pooled net gets ITERATIONS Adam steps at LR
(``restore.baselines.pretrain_on_all``, un-normalised loss unless NORM); NOISE_MAX widens the noise
training range to [0.02, NOISE_MAX] (e.g. 0.3 so that the test σ = 0.25 is seen). The weights
are saved to /tmp/theta_TAG.pt (NOISE_MAX "-": the default range). BIAS 0 builds a bias-free
restorer (``Restorer(bias=False)``); NORM 1 divides each task's loss by its degraded input's MSE
(``RestoreMetaConfig(normalize=True)``). One thread.
"""

from __future__ import annotations

import sys
import time
from statistics import fmean as mean

import torch

from metagan_lab.models import params_of
from metagan_lab.restore.baselines import classical_task, pretrain_on_all
from metagan_lab.restore.data import restoration_images
from metagan_lab.restore.degradations import TRAIN_RANGES, TaskFamily
from metagan_lab.restore.evaluate import adaptation_curve, test_tasks
from metagan_lab.restore.experiment import ExperimentConfig, build_restorer
from metagan_lab.restore.meta import RestoreMetaConfig
from metagan_lab.restore.metrics import psnr

CONFIGS = [("sgd", 0.05, "all"), ("sgd", 0.5, "all"), ("adam", 1e-4, "all"),
           ("adam", 3e-4, "all"), ("adam", 1e-3, "all"), ("adam", 1e-2, "gains"),
           ("adam", 3e-2, "gains"), ("adam", 1e-3, "head")]


def main(kinds: str, iterations: int, lr: float, tag: str, hidden: int, depth: int,
         noise_max: float | None = None, bias: bool = True, normalize: bool = False) -> None:
    torch.set_num_threads(1)
    model = build_restorer(ExperimentConfig(hidden=hidden, depth=depth, bias=bias), 0)
    theta = params_of(model)
    ranges = dict(TRAIN_RANGES, **({"noise": (0.02, noise_max)} if noise_max else {}))
    family = TaskFamily(kinds=tuple(kinds.split(",")), ranges=ranges)
    start = time.perf_counter()
    history = pretrain_on_all(model, theta, restoration_images("natural", "train"), family,
                              RestoreMetaConfig(normalize=normalize), iterations, lr=lr,
                              progress=False)
    print(f"pretrain {iterations} steps {time.perf_counter() - start:.0f} s; loss first "
          f"{history[0]:.5f}, mean of last 20 {mean(history[-20:]):.5f}", flush=True)
    torch.save({n: p.detach() for n, p in theta.items()}, f"/tmp/theta_{tag}.pt")
    images = restoration_images("natural", "test")
    for i, setting in enumerate(family.test_settings()):
        tasks = test_tasks(images, setting, 3, 5, 5, seed=7 + 1000 * i)
        degraded = mean(psnr(t.query_x, t.query_y).mean().item() for t in tasks)
        classical = mean(psnr(classical_task(t), t.query_y).mean().item() for t in tasks)
        at0 = mean(adaptation_curve(model, theta, t, 1e-3, steps=(0,))["psnr"][0] for t in tasks)
        print(f"{setting.label()}: degraded {degraded:.2f}, classical {classical:.2f}, "
              f"trained net at 0 steps {at0:.2f}", flush=True)
        for opt, step, mode in CONFIGS:
            curves = [adaptation_curve(model, theta, t, step, 0.0, (1, 5, 10), optimizer=opt,
                                       mode=mode) for t in tasks]
            p = [mean(c["psnr"][j] for c in curves) for j in range(3)]
            print(f"   {opt} {step:g} {mode}: 1/5/10 steps {p[0]:.2f} {p[1]:.2f} {p[2]:.2f}",
                  flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], int(a[1]), float(a[2]), a[3], int(a[4]), int(a[5]),
         float(a[6]) if len(a) > 6 and a[6] != "-" else None, len(a) <= 7 or a[7] != "0",
         len(a) > 8 and a[8] == "1")
