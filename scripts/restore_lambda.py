"""λ learned by its hypergradient (restore.hyper.learn_tv_weight) on one degradation family.

Meta-trains a small restorer (hidden 16, depth 4) and log λ together, second-order MAML with 2
SGD inner steps on L + λR and the data-fidelity query loss, from λ_0 = 0.01; prints λ every 10
steps per family. Expectation: λ grows on noise (smoothing helps) and shrinks on blur (it does
not). One thread; about 45 s on a busy 2-core machine.

    python scripts/restore_lambda.py [iterations]
"""

from __future__ import annotations

import sys
import time

import torch

from metagan_lab.models import params_of, seeded
from metagan_lab.restore.data import restoration_images
from metagan_lab.restore.degradations import TaskFamily
from metagan_lab.restore.hyper import learn_tv_weight
from metagan_lab.restore.meta import RestoreMetaConfig
from metagan_lab.restore.models import Restorer


def main(iterations: int = 40) -> None:
    torch.set_num_threads(1)
    model = seeded(lambda: Restorer(hidden=16, depth=4), 0)
    cfg = RestoreMetaConfig(method="maml", inner_lr=0.05, inner_steps=2, meta_batch=2, k_shot=5,
                            n_query=5, meta_lr=1e-3)
    images = restoration_images("natural", "train")
    for kind in ("noise", "blur"):
        start = time.perf_counter()
        theta = {n: p.detach().clone().requires_grad_() for n, p in params_of(model).items()}
        out = learn_tv_weight(model, theta, images, TaskFamily(kinds=(kind,)), cfg, iterations,
                              init_lambda=1e-2, lambda_lr=0.05, progress=False)
        lam = ", ".join(f"{v:.4f}" for v in out["lambda"][::10])
        print(f"{kind}: λ every 10 steps {lam}; validation loss {out['loss'][0]:.5f} → "
              f"{sum(out['loss'][-5:]) / 5:.5f} (last 5); {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
