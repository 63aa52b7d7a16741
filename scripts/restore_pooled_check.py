"""Pooled restorers on the five default degradations: do they beat the degraded input on every
unseen setting? 10 test tasks per setting (K = 5, 5 query images, seeds 7 + 1000 i); PSNR at 0
and after 10 Adam steps (α = 3e-4), per net, beside the degraded input and the classical method.

    python scripts/restore_probe.py noise,blur,motion,inpaint,downsample 4000 1e-3 allbf 32 6 - 0 1
    python scripts/restore_probe.py noise,blur,motion,inpaint,downsample 4000 1e-3 allb 32 6 - 1 1
    python scripts/restore_pooled_check.py /tmp/theta_allbf.pt /tmp/theta_allb.pt

(normalised task losses, hidden 32, depth 6; the first bias-free, the second with biases).
Measured (763–771 s of training each on one thread; 29 s here): both nets beat the input on
every unseen setting on 10 of 10 tasks at 0 steps — noise 21.55 / 16.94 (input 13.24), blur
30.61 / 30.62 (29.94), motion 32.56 / 32.50 (31.82), inpainting 18.28 / 17.54 (9.53), ×4
28.97 / 28.98 (28.77) — and the classical methods still win everywhere but ×4.
"""

from __future__ import annotations

import sys
import time
from statistics import fmean as mean

import torch

from metagan_lab.restore.baselines import classical_task
from metagan_lab.restore.data import restoration_images
from metagan_lab.restore.degradations import TaskFamily
from metagan_lab.restore.evaluate import adaptation_curve, test_tasks
from metagan_lab.restore.experiment import ExperimentConfig, build_restorer
from metagan_lab.restore.metrics import psnr


def main(bias_free: str, biased: str) -> int:
    torch.set_num_threads(1)
    start = time.perf_counter()
    images = restoration_images("natural", "test")
    family = TaskFamily(kinds=("noise", "blur", "motion", "inpaint", "downsample"))
    nets = {}
    for name, path, bias in (("bias-free", bias_free, False), ("biased", biased, True)):
        model = build_restorer(ExperimentConfig(hidden=32, depth=6, bias=bias), 0)
        nets[name] = model, {k: v.clone().requires_grad_() for k, v in torch.load(path).items()}
    for i, setting in enumerate(family.test_settings()):
        tasks = test_tasks(images, setting, 10, 5, 5, seed=7 + 1000 * i)
        inputs = [psnr(t.query_x, t.query_y).mean().item() for t in tasks]
        classical = mean(psnr(classical_task(t), t.query_y).mean().item() for t in tasks)
        line = f"{setting.label()}: degraded {mean(inputs):.2f}, classical {classical:.2f}"
        for name, (model, theta) in nets.items():
            curves = [adaptation_curve(model, theta, t, 3e-4, 0.0, (0, 10), optimizer="adam")
                      for t in tasks]
            at0 = [c["psnr"][0] for c in curves]
            above = sum(a > b for a, b in zip(at0, inputs))
            line += (f" | {name}: 0 steps {mean(at0):.2f} ({above}/{len(tasks)} above the input)"
                     f", 10 steps {mean(c['psnr'][1] for c in curves):.2f}")
        print(line, flush=True)
    print(f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
