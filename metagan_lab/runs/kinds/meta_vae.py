"""kind 'meta_vae': a Reptile-trained VAE initialisation θ and the pooled-VAE baseline
(``metagan-lab train meta-vae``).

Format: {"kind": "meta_vae", "config": MetaVAEConfig as a dict, "theta", "pooled": θ of the VAE
trained on the pooled training images, "adapt_lr": α per method chosen on validation classes,
"k_shot", "adapt_steps", "iterations", "dataset"}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ...types import Params
from ..data import DataOptions, for_checkpoint, load_split
from ..images import rows_png
from ..options import EvalOptions
from .fewshot_gan import (
    DEFAULT_SHOTS,
    DEFAULT_STEPS,
    adapted_metrics,
    unseen_shots,
)

if TYPE_CHECKING:
    from ...gan.fewshot import Adapter  # (shots [K, 1, 28, 28], n, seed) → [n, 1, 28, 28]

REQUIRED = ("config", "theta", "pooled")
EVAL_OPTIONS = ("ways", "shots", "episodes", "inner_steps", "samples", "is_classes")
MAX_ROW = 16      # ``metagan-lab sample`` defaults to 64 images; a row shows at most this many


def checkpoint(experiment, config, dataset: str, k_shot: int, adapt_steps: int,
               iterations: int | None) -> dict:
    """The checkpoint of a ``gan.experiment.MetaVAEExperiment`` run with ``config``."""
    import dataclasses

    cpu = lambda p: {k: v.detach().cpu() for k, v in p.items()}  # noqa: E731
    return {"kind": "meta_vae", "config": dataclasses.asdict(config),
            "theta": cpu(experiment.inits["meta_vae_adapted"]),
            "pooled": cpu(experiment.inits["pooled_vae_finetuned"]),
            "adapt_lr": dict(experiment.adapt_lrs), "k_shot": k_shot,
            "adapt_steps": adapt_steps, "iterations": iterations, "dataset": dataset}


def build(ckpt: dict, device: str | torch.device = "cpu"):
    """(VAE skeleton, inits): method → θ as in ``gan.experiment.run_meta_vae_experiment``."""
    from ...gan.meta_vae import MetaVAEConfig, make_vae
    from ...models import params_of

    cfg = MetaVAEConfig(**ckpt["config"])
    to = lambda p: {k: v.to(device) for k, v in p.items()}  # noqa: E731
    theta = to(ckpt["theta"])
    inits: dict[str, Params] = {
        "meta_vae_adapted": theta, "meta_vae_init": theta,
        "scratch_vae": params_of(make_vae(cfg, device, seed=cfg.seed + 1), False),
        "pooled_vae_finetuned": to(ckpt["pooled"])}
    return make_vae(cfg, device), inits


def describe(ckpt: dict) -> dict:
    return {"kind": "meta_vae", "algorithm": "meta-vae", "method": "reptile",
            "iterations": ckpt.get("iterations"), "dataset": ckpt.get("dataset"),
            "k_shot": ckpt.get("k_shot"), "adapt_steps": ckpt.get("adapt_steps"),
            "adapt_lr": ckpt.get("adapt_lr"), "config": ckpt["config"]}


def generators(ckpt: dict, steps: int, device: str | torch.device = "cpu") -> dict[str, Adapter]:
    """method → adapt_and_generate(shots, n, seed) (``gan.experiment.vae_adapters``): the methods
    in ``VAE_ADAPTED`` take ``steps`` steps of the inner optimiser at the checkpoint's α, the
    others are sampled as they are."""
    from ...gan.experiment import vae_adapters
    from ...gan.meta_vae import MetaVAEConfig

    model, inits = build(ckpt, device)
    cfg = MetaVAEConfig(**ckpt["config"])
    return vae_adapters(model, inits, cfg.inner(steps=steps), ckpt.get("adapt_lr") or
                        cfg.inner_lr)


def evaluate(ckpt: dict, options: EvalOptions, data: DataOptions, device: torch.device,
             progress: bool = False) -> dict:
    """Each method of the checkpoint, as ``runs.kinds.fewshot_gan.adapted_metrics`` measures it
    (FD per unseen class, recognisability and diversity)."""
    return {"algorithm": "meta-vae", "method": "reptile",
            **adapted_metrics(ckpt, options, data, device, generators)}


def sample(ckpt: dict, n: int, options: EvalOptions, data: DataOptions,
           device: torch.device) -> tuple[bytes, dict]:
    """Rows: the K shots of one unseen class, then min(n, 16) samples of each method after
    adapting on those shots (the meta-initialisation as it is)."""
    seed = options.seed
    _, split = load_split(for_checkpoint(data, ckpt.get("dataset")))
    k = ckpt.get("k_shot") or DEFAULT_SHOTS
    steps = ckpt.get("adapt_steps") or DEFAULT_STEPS
    c, shots = unseen_shots(split, k, seed, device)
    adapters = generators(ckpt, steps, device)
    n = min(n, MAX_ROW)
    rows = {f"{k} shots": shots.cpu()}
    rows.update({m: adapt(shots, n, seed).cpu() for m, adapt in adapters.items()})
    return rows_png(rows, title=f"unseen class {split.test.names[c]}: {steps} adaptation "
                              "steps"), {"shows": f"the {k} shots of unseen class "
                                         f"{split.test.names[c]}, then {n} samples per method: "
                                         + ", ".join(adapters)}
