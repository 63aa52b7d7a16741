"""kind 'restorer': a meta-learned restoration init θ_meta and the pre-trained baseline θ_pre
(``metagan-lab train restore``).

Format: {"kind": "restorer", "config": ExperimentConfig as a dict (its "meta" entry the
RestoreMetaConfig), "theta_meta", "theta_pretrained"} (name → tensor dicts of the Restorer).
"""

from __future__ import annotations

import torch
from torch import nn

from ...types import Params
from ..data import DataOptions
from ..images import rows_png
from ..options import EvalOptions

REQUIRED = ("config", "theta_meta", "theta_pretrained")
EVAL_OPTIONS = ("shots", "queries", "episodes", "inner_steps")


def checkpoint(experiment: dict) -> dict:
    """The checkpoint of a ``restore.experiment.run_experiment`` result."""
    cpu = lambda p: {n: t.detach().cpu() for n, t in p.items()}  # noqa: E731
    return {"kind": "restorer", "config": experiment["config"],
            "theta_meta": cpu(experiment["theta_meta"]),
            "theta_pretrained": cpu(experiment["theta_pretrained"])}


def config_of(ckpt: dict):
    """The ``restore.experiment.ExperimentConfig`` the checkpoint was trained with."""
    from ...restore.experiment import ExperimentConfig
    from ...restore.meta import RestoreMetaConfig

    c = dict(ckpt["config"])
    c["meta"] = RestoreMetaConfig(**c["meta"])
    c["kinds"], c["steps"] = tuple(c["kinds"]), tuple(c["steps"])
    return ExperimentConfig(**c)


def build(ckpt: dict, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Params]]:
    """(the Restorer skeleton, {"meta": θ_meta, "pretrained": θ_pre}); call it as
    ``functional_call(model, theta, (y,))``."""
    from ...restore.experiment import build_restorer

    cfg = config_of(ckpt)
    model = build_restorer(cfg, cfg.seed).to(device)
    to = lambda p: {n: t.to(device) for n, t in p.items()}  # noqa: E731
    return model, {"meta": to(ckpt["theta_meta"]), "pretrained": to(ckpt["theta_pretrained"])}


def describe(ckpt: dict) -> dict:
    cfg = ckpt["config"]
    return {"kind": "restorer", "algorithm": f"restore-{cfg['meta']['method']}",
            "iterations": cfg.get("iterations"), "dataset": cfg.get("source"),
            "degradations": ",".join(cfg.get("kinds", ())), "config": cfg}


def evaluate(ckpt: dict, options: EvalOptions, data: DataOptions, device: torch.device,
             progress: bool = False) -> dict:
    """PSNR / SSIM on the unseen degradations after 0 … k adaptation steps, every method of the
    training command's table (``restore.evaluate.compare_methods``, the same protocol)."""
    from ...models import params_of
    from ...restore.data import restoration_images
    from ...restore.degradations import TaskFamily
    from ...restore.evaluate import Method, compare_methods
    from ...restore.experiment import build_restorer

    cfg = config_of(ckpt)
    model, theta = build(ckpt, device)
    scratch = {n: p.to(device) for n, p in params_of(build_restorer(cfg, cfg.seed + 1)).items()}
    methods = [Method("meta-learned init", theta["meta"]), Method("scratch", scratch),
               Method("pretrained on all", theta["pretrained"]),
               Method("classical (skimage)", None)]
    if cfg.self_supervised_rows:
        methods += [Method("meta-learned, self-sup.", theta["meta"], True),
                    Method("pretrained, self-sup.", theta["pretrained"], True)]
    steps = cfg.steps if options.inner_steps is None else (0, options.inner_steps)
    rows = compare_methods(model, methods, restoration_images(cfg.source, "test"),
                           TaskFamily(kinds=cfg.kinds).test_settings(), cfg.meta.test_lr,
                           cfg.meta.tv_weight, options.episodes or cfg.eval_tasks,
                           options.shots or cfg.meta.k_shot, options.queries or cfg.meta.n_query,
                           steps, options.seed + 7, progress, optimizer=cfg.meta.test_optimizer)
    k = max(steps)
    psnr = {m.name: _mean(r["psnr"] for r in rows if r["method"] == m.name and r["steps"] == k)
            for m in methods}
    return {"algorithm": f"restore-{cfg.meta.method}", "images": cfg.source,
            "degradations": ",".join(cfg.kinds), "iterations": cfg.iterations, "steps": k,
            "psnr": psnr, "table": rows}


def _mean(values) -> float:
    values = list(values)
    return round(sum(values) / len(values), 3)


def sample(ckpt: dict, n: int, options: EvalOptions, data: DataOptions,
           device: torch.device) -> tuple[bytes, dict]:
    """Per unseen degradation, ``n`` test images: degraded, restored by θ_meta after k
    adaptation steps on K support pairs, clean."""
    seed = options.seed
    from ...restore.data import restoration_images
    from ...restore.degradations import TaskFamily
    from ...restore.evaluate import adaptation_curve, test_tasks

    cfg = config_of(ckpt)
    model, theta = build(ckpt, device)
    images = restoration_images(cfg.source, "test")
    k = max(cfg.steps)
    rows = {}
    for i, setting in enumerate(TaskFamily(kinds=cfg.kinds).test_settings()):
        task = test_tasks(images, setting, 1, cfg.meta.k_shot, n, seed + 1000 * i)[0]
        curve = adaptation_curve(model, theta["meta"], task.to(device), cfg.meta.test_lr,
                                 cfg.meta.tv_weight, [k], cfg.meta.self_supervised,
                                 torch.Generator().manual_seed(seed), return_outputs=True,
                                 optimizer=cfg.meta.test_optimizer)
        rows[f"{setting.label()}: degraded"] = task.query_x.clamp(0, 1).cpu()
        rows[f"{setting.kind}: restored"] = curve["outputs"][-1]
        rows[f"{setting.kind}: clean"] = task.query_y.cpu()
    return rows_png(rows), {"shows": f"per unseen degradation, {n} test images: degraded, "
                                     f"restored by θ_meta after {k} steps, clean"}

