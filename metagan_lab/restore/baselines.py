"""Baselines a meta-learned restorer must beat.

* ``scratch_params``: the same network, freshly initialised (the identity), adapted on the K pairs.
* ``pretrain_on_all``: the same network trained with Adam on the pooled pairs of *all*
  meta-training degradations, without meta-learning (the honest baseline: same data, same
  network, same number of tasks seen), then adapted exactly like the meta-learned θ.
* ``classical_restore``: no learning at all, scikit-image's methods with the setting known —
  total-variation denoising (Chambolle), Richardson–Lucy deconvolution, biharmonic inpainting,
  bicubic up-sampling.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call

from ..checks import finite_loss, positive_int, positive_number
from ..models import params_of, seeded
from ..training import LoopSpec, StepResult, run_loop
from ..types import Params
from .data import RestorationTask
from .degradations import Setting, TaskFamily, check_images, kernel_of
from .meta import RestoreMetaConfig, sample_tasks
from .objectives import relative_scale, restoration_loss

# Richardson–Lucy iterations: Gaussian kernels take many; motion kernels have zeros in their
# spectrum, so ringing grows after a few iterations (5 vs 30: +1.3 dB vs −5.5 dB on test patches).
RICHARDSON_LUCY_ITERATIONS = {"blur": 30, "motion": 5}
TV_WEIGHT_PER_SIGMA = 1.0         # Chambolle weight = σ · this (a rule of thumb, not tuned)


def scratch_params(model_fn, seed: int = 0) -> Params:
    """θ of a freshly built model (``model_fn()``), built under a fixed seed."""
    return params_of(seeded(model_fn, seed))


def pretrain_on_all(model: nn.Module, theta: Params, images: Tensor, family: TaskFamily,
                    cfg: RestoreMetaConfig, iterations: int, lr: float | None = None,
                    seed: int = 0, progress: bool = True) -> list[float]:
    """Adam on (1/T) Σ_i c_i [L + λR](F_θ(y), x) over support + query pairs of each meta-batch of
    training settings (c_i = 1, or 1 / L(y, x) of task i when ``cfg.normalize``), the same
    stream of tasks meta-training sees. Updates θ in place (Adam
    steps θ's tensors); returns the loss history. Runs on the library's one loop
    (``training.run_loop``); a non-finite loss raises ``checks.TrainingDiverged`` before the
    step is applied."""
    positive_int("iterations", iterations, minimum=0)
    lr = cfg.meta_lr if lr is None else positive_number("lr", lr, "try 1e-3 (Adam)")
    device = next(iter(theta.values())).device
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(list(theta.values()), lr=lr)
    fix = f"try a smaller learning rate (now {lr:g})"

    def step(it: int) -> StepResult:
        tasks = sample_tasks(images, family, cfg, generator, device)
        x = torch.cat([torch.cat([t.support_x, t.query_x]) for t in tasks])  # [T·(K+Q), C, H, W]
        y = torch.cat([torch.cat([t.support_y, t.query_y]) for t in tasks])
        out = functional_call(model, theta, (x,)).split(cfg.k_shot + cfg.n_query)  # per task
        losses = [restoration_loss(o, t_y, cfg.tv_weight)
                  * (relative_scale(t_x, t_y) if cfg.normalize else 1.0)
                  for o, t_x, t_y in zip(out, x.split(len(out[0])), y.split(len(out[0])))]
        loss = torch.stack(losses).mean()
        value = finite_loss("the pooled restoration loss", loss.item(), fix)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return StepResult(value)

    spec = LoopSpec(iterations=iterations, params=lambda: theta, desc="pre-train on all",
                    fix=fix, progress=progress)
    return run_loop(step, spec)["loss"]


def classical_restore(degraded: Tensor, known: Tensor, setting: Setting) -> Tensor:
    """scikit-image restoration of y [B, 1, H, W] given the (estimated) setting.

    noise → denoise_tv_chambolle(weight = σ); blur/motion → richardson_lucy(kernel);
    inpaint → inpaint_biharmonic(missing = ~known); downsample → the bicubic up-sampling that
    is already the restorer's input (interpolation is the classical answer there);
    exposure → the inverse tone curve x̂ = clip((y / g)^{1/γ}, 0, 1) (skimage.exposure.adjust_gamma;
    exact but for clipping and 8-bit quantisation).
    """
    from skimage.exposure import adjust_gamma
    from skimage.restoration import denoise_tv_chambolle, inpaint_biharmonic, richardson_lucy

    check_images(degraded, channels=1, name="degraded")
    out = []
    ys = degraded.detach().cpu().double()
    for i, y in enumerate(ys[:, 0].numpy()):                              # y [H, W]
        if setting.kind == "noise":
            r = denoise_tv_chambolle(y, weight=TV_WEIGHT_PER_SIGMA * setting.strength)
        elif setting.kind in ("blur", "motion"):
            psf = kernel_of(setting).numpy()
            pad = psf.shape[0]                      # reflect-pad: RL's zero borders ring badly
            big = np.pad(np.clip(y, 0, 1), pad, mode="reflect")
            r = richardson_lucy(big, psf, num_iter=RICHARDSON_LUCY_ITERATIONS[setting.kind],
                                clip=True)[pad:-pad, pad:-pad]
        elif setting.kind == "inpaint":
            missing = ~known[i, 0].cpu().numpy()
            r = inpaint_biharmonic(y, missing) if missing.any() else y
        elif setting.kind == "exposure":
            r = adjust_gamma(np.clip(y / setting.strength, 0, 1), 1 / setting.gamma)
        else:
            r = y
        out.append(torch.from_numpy(np.asarray(r, dtype=np.float64)))
    return torch.stack(out)[:, None].to(degraded)                         # [B, 1, H, W]


def classical_task(task: RestorationTask) -> Tensor:
    """The classical restoration of a task's query images."""
    return classical_restore(task.query_x, task.query_known, task.setting)
