"""Bias-free vs biased pooled denoisers at the unseen noise level σ = 0.25, against TV.

    python scripts/restore_probe.py noise 4000 1e-3 bf4k 32 6 - 0  # → /tmp/theta_bf4k.pt
    python scripts/restore_probe.py noise 4000 1e-3 b4k 32 6 - 1   # → /tmp/theta_b4k.pt
    python scripts/restore_bias_free.py /tmp/theta_bf4k.pt /tmp/theta_b4k.pt
    python scripts/restore_bias_free.py pretrained:denoiser-bias-free    # 120 tasks, ~75 s

Measured (one thread, 767–812 s of training each; 11 s here): TV 24.24 dB; bias-free 24.71 /
25.17 dB after 0 / 10 steps (+0.93 over TV, 7 of 10 tasks above); biased 23.11 / 24.72 (+0.48).
After 1500 steps: bias-free 23.25 / 24.48, biased 22.63 / 24.12. The shipped denoiser, on 3
draws of 40 tasks (seeds 0, 7, 100), paired per task after 10 Adam steps (101 s): meta − TV =
+0.34 ± 0.17 dB (72 of 120 above TV), pretrained − TV = +0.33 ± 0.17 dB (71 of 120).

Both nets were trained on σ ~ U[0.02, 0.15] only (``restore.degradations.TRAIN_RANGES``). On 10
test tasks (K = 5 support pairs, 5 query images each, seed 7): query PSNR after 0/1/5/10 Adam
steps of α = 1e-4 on the support pairs, and the gap to TV (``restore.baselines.classical_task``)
after 10 steps, per task. One thread.
"""

from __future__ import annotations

import sys
import time
from statistics import fmean as mean
from statistics import stdev

import torch

from metagan_lab.restore.baselines import classical_task
from metagan_lab.restore.data import restoration_images
from metagan_lab.restore.degradations import Setting
from metagan_lab.restore.evaluate import adaptation_curve, test_tasks
from metagan_lab.restore.experiment import ExperimentConfig, build_restorer
from metagan_lab.restore.metrics import psnr

STEPS, LR = (0, 1, 5, 10), 1e-4


def probe_nets(bias_free: str, biased: str) -> dict:
    """name → (model, θ, Adam step) of the two ``restore_probe.py`` weight files."""
    nets = {}
    for name, path, bias in (("bias-free", bias_free, False), ("biased", biased, True)):
        model = build_restorer(ExperimentConfig(hidden=32, depth=6, bias=bias), 0)
        nets[name] = model, {k: v.clone().requires_grad_() for k, v in torch.load(path).items()}, LR
    return nets


def shipped_nets(name: str) -> dict:
    """Both inits of a shipped restorer checkpoint, each at its config's test-time Adam step."""
    from metagan_lab.pretrained import load_checkpoint
    from metagan_lab.runs.kinds import restorer as restorer_kind

    ckpt = load_checkpoint(name)
    model, theta = restorer_kind.build(ckpt)
    lr = restorer_kind.config_of(ckpt).meta.test_lr
    return {f"{name} · {init}": (model, theta[init], lr) for init in ("meta", "pretrained")}


def main(nets: dict, seeds: tuple[int, ...] = (7,), n_tasks: int = 10) -> int:
    torch.set_num_threads(1)
    start = time.perf_counter()
    tasks = [t for seed in seeds for t in test_tasks(restoration_images("natural", "test"),
                                                     Setting("noise", 0.25), n_tasks, 5, 5, seed)]
    degraded = [psnr(t.query_x, t.query_y).mean().item() for t in tasks]
    tv = [psnr(classical_task(t), t.query_y).mean().item() for t in tasks]
    print(f"σ = 0.25, {len(tasks)} tasks: degraded {mean(degraded):.2f} dB, TV {mean(tv):.2f} dB")
    for name, (model, theta, lr) in nets.items():
        curves = [adaptation_curve(model, theta, t, lr, 0.0, STEPS, optimizer="adam")
                  for t in tasks]
        at = [[c["psnr"][j] for c in curves] for j in range(len(STEPS))]
        gap = [a - b for a, b in zip(at[-1], tv)]
        print(f"{name}: {'/'.join(map(str, STEPS))} steps "
              + " ".join(f"{mean(x):.2f}" for x in at)
              + f"; 10 steps − TV {mean(gap):+.2f} ± {1.96 * stdev(gap) / len(gap) ** 0.5:.2f} "
                f"dB (tasks above TV: {sum(g > 0 for g in gap)}/{len(gap)}, min "
                f"{min(gap):+.2f}, max {max(gap):+.2f})")
    print(f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    if sys.argv[1].startswith("pretrained:"):      # a shipped denoiser: 3 draws of 40 tasks
        sys.exit(main(shipped_nets(sys.argv[1]), seeds=(0, 7, 100), n_tasks=40))
    sys.exit(main(probe_nets(*sys.argv[1:3])))
