"""kind 'fewshot_gan': a meta-learned GAN initialisation θ_G, θ_D (Reptile, MAML or FOMAML) and
the pooled DCGAN baseline (``metagan-lab train fewshot-gan``).

Format: {"kind": "fewshot_gan", "config": FewShotGANConfig as a dict, "theta_g", "theta_d",
"pretrained_g", "pretrained_d", "adapt_lr": α per method chosen on validation classes, "k_shot",
"adapt_steps", "iterations", "dataset"}. Older files hold only the first four (the pooled DCGAN is
then shown as it is, not fine-tuned); configs without "method" (or "meta_lr", "gp_lambda") are
Reptile's, with the defaults of ``FewShotGANConfig``; files without "pretrain_r1" trained their
pooled DCGAN without R1 (γ = 0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch

from ...types import Params
from ..data import DataOptions, for_checkpoint, load_split
from ..generation import episode_protocol, fd_keys, generator_metrics
from ..images import feature_network, rows_png
from ..options import EvalOptions

if TYPE_CHECKING:
    from ...gan.fewshot import Adapter  # (shots [K, 1, 28, 28], n, seed) → [n, 1, 28, 28]

REQUIRED = ("config", "theta_g", "theta_d", "pretrained_g")
EVAL_OPTIONS = ("ways", "shots", "episodes", "inner_steps", "samples", "is_classes")
DEFAULT_SHOTS, DEFAULT_STEPS, DEFAULT_CLASSES, DEFAULT_FAKE = 4, 10, 10, 100


def checkpoint(experiment, config, dataset: str, k_shot: int, adapt_steps: int,
               iterations: int) -> dict:
    """The checkpoint of a ``gan.experiment.FewShotExperiment`` run with ``config``."""
    import dataclasses

    from ...gan.experiment import adapted_name

    cpu = lambda p: {k: v.detach().cpu() for k, v in p.items()}  # noqa: E731
    tg, td = experiment.inits[adapted_name(config.method)]
    pg, pd = experiment.inits["pretrained_finetuned"]
    return {"kind": "fewshot_gan", "config": dataclasses.asdict(config), "theta_g": cpu(tg),
            "theta_d": cpu(td), "pretrained_g": cpu(pg), "pretrained_d": cpu(pd),
            "adapt_lr": dict(experiment.inner_lrs), "k_shot": k_shot,
            "adapt_steps": adapt_steps, "iterations": iterations, "dataset": dataset}


def build(ckpt: dict, device: str | torch.device = "cpu"):
    """(G, D, inits): the DCGAN skeletons and method → (θ_G, θ_D) as in ``gan.experiment``."""
    from ...gan.experiment import adapted_name
    from ...gan.fewshot import FewShotGANConfig, make_gan
    from ...models import params_of

    cfg = FewShotGANConfig(**ckpt["config"])
    G, D = make_gan(cfg, device)
    G0, D0 = make_gan(cfg, device, seed=cfg.seed + 1)
    to = lambda p: {k: v.to(device) for k, v in p.items()}  # noqa: E731
    theta = (to(ckpt["theta_g"]), to(ckpt["theta_d"]))
    inits: dict[str, tuple[Params, Params]] = {
        adapted_name(cfg.method): theta, "meta_init": theta,
        "scratch": (params_of(G0, False), params_of(D0, False))}
    if ckpt.get("pretrained_d") is not None:
        inits["pretrained_finetuned"] = (to(ckpt["pretrained_g"]), to(ckpt["pretrained_d"]))
    else:
        inits["pretrained"] = (to(ckpt["pretrained_g"]), theta[1])    # D unused: not adapted
    return G, D, inits


def describe(ckpt: dict) -> dict:
    return {"kind": "fewshot_gan", "algorithm": "fewshot-gan",
            "method": ckpt["config"].get("method", "reptile"), "iterations":
            ckpt.get("iterations"), "dataset": ckpt.get("dataset"), "k_shot": ckpt.get("k_shot"),
            "adapt_steps": ckpt.get("adapt_steps"), "adapt_lr": ckpt.get("adapt_lr"),
            "config": ckpt["config"]}


def adapt_lrs(ckpt: dict, methods) -> dict[str, float]:
    """method → α: the one chosen on validation classes, else the config's inner_lr."""
    chosen = ckpt.get("adapt_lr") or {}
    return {m: chosen.get(m, ckpt["config"]["inner_lr"]) for m in methods}


class FDProtocol(NamedTuple):
    """What an FD evaluation of a few-shot generator checkpoint runs on (GAN and meta-VAE)."""

    split: object            # the data split (its .train, .test ClassImages)
    k: int                   # K shots of each unseen class
    steps: int               # k adaptation steps
    classes: int             # unseen classes evaluated
    feature: torch.nn.Module
    feature_name: str


def fd_protocol(ckpt: dict, options: EvalOptions, data: DataOptions,
                device: torch.device) -> FDProtocol:
    """K, k and the classes from the options, else as trained, else the defaults; the feature
    network (``runs.images.feature_network``)."""
    from ...gan.fewshot import check_k_shot

    _, split = load_split(for_checkpoint(data, ckpt.get("dataset")))
    k = options.shots or ckpt.get("k_shot") or DEFAULT_SHOTS
    check_k_shot(k, split.test.n_samples - 2)
    steps = options.inner_steps if options.inner_steps is not None else \
        ckpt.get("adapt_steps") or DEFAULT_STEPS
    classes = min(options.episodes or DEFAULT_CLASSES, split.test.n_classes)
    return FDProtocol(split, k, steps, classes, *feature_network(split.train, device))


def unseen_shots(split, k: int, seed: int, device: torch.device) -> tuple[int, torch.Tensor]:
    """(c, shots [K, 1, 28, 28] in [0, 1]): K random images of one random unseen class."""
    gen = torch.Generator().manual_seed(seed)
    c = int(torch.randint(split.test.n_classes, (1,), generator=gen))
    shots = split.test.images[c, torch.randperm(split.test.n_samples, generator=gen)[:k]]
    return c, (shots.unsqueeze(1).float() / 255.0).to(device)                # [K, 1, 28, 28]


def generators(ckpt: dict, steps: int, device: str | torch.device = "cpu") -> dict[str, Adapter]:
    """method → adapt_and_generate(shots, n, seed) (``gan.recognisability.gan_generators``): the
    methods in ``gan.experiment.ADAPTED`` take ``steps`` steps at the checkpoint's α, the others
    are sampled as they are."""
    from ...gan.experiment import ADAPTED
    from ...gan.recognisability import gan_generators

    G, D, inits = build(ckpt, device)
    adapted = tuple(m for m in inits if m in ADAPTED)
    return gan_generators(G, D, inits, steps, adapt_lrs(ckpt, inits), ckpt["config"]["loss"],
                          adapted, ckpt["config"].get("gp_lambda", 10.0))


def adapted_metrics(ckpt: dict, options: EvalOptions, data: DataOptions, device: torch.device,
                    generators_of) -> dict:
    """The eval keys of a checkpoint of adapted generators (few-shot GAN, meta-VAE):
    ``generators_of(ckpt, steps, device)`` gives method → adapter; each after K shots and k steps
    gets the Fréchet distance per unseen class (fd_<method>, ``gan.fewshot_eval.fd_per_class``,
    mean ± 95 % CI over the classes), then recognisability and diversity on as many N-way K-shot
    episodes (``runs.generation``; IS with --is-classes)."""
    from ...gan.fewshot_eval import fd_per_class

    split, k, steps, classes, feature, name = fd_protocol(ckpt, options, data, device)
    methods, n_fake = generators_of(ckpt, steps, device), options.samples or DEFAULT_FAKE
    fd = fd_per_class(methods, split.test.images, feature, k, classes, n_fake,
                      seed=options.seed + 2, device=device)
    protocol = episode_protocol(options, k, options.episodes or DEFAULT_CLASSES, split.test)
    return {"k_shot": k, "adapt_steps": steps, "eval_classes": classes, "n_fake": n_fake,
            "feature": name, "dataset": split.test.source, **fd_keys(fd),
            **generator_metrics(methods, split, protocol, options, device)}


def evaluate(ckpt: dict, options: EvalOptions, data: DataOptions, device: torch.device,
             progress: bool = False) -> dict:
    """Each method of the checkpoint, as ``adapted_metrics`` measures it."""
    return {"algorithm": "fewshot-gan", "method": ckpt["config"].get("method", "reptile"),
            **adapted_metrics(ckpt, options, data, device, generators)}


def sample(ckpt: dict, n: int, options: EvalOptions, data: DataOptions,
           device: torch.device) -> tuple[bytes, dict]:
    """Rows: the K shots of one unseen class, then ``n`` samples of each method after adapting
    on those shots (the meta-initialisation and an unadapted pretrained G as they are)."""
    seed = options.seed
    from ...gan.experiment import ADAPTED
    from ...gan.fewshot import adapt_gan, generate

    G, D, inits = build(ckpt, device)
    _, split = load_split(for_checkpoint(data, ckpt.get("dataset")))
    k = ckpt.get("k_shot") or DEFAULT_SHOTS
    steps = ckpt.get("adapt_steps") or DEFAULT_STEPS
    c, shots = unseen_shots(split, k, seed, device)
    lrs = adapt_lrs(ckpt, inits)
    rows = {f"{k} shots": shots.cpu()}
    for method, (tg, td) in inits.items():
        if method in ADAPTED:
            tg, _ = adapt_gan(G, D, tg, td, shots, steps, lrs[method], ckpt["config"]["loss"],
                              seed=seed, gp_lambda=ckpt["config"].get("gp_lambda", 10.0))
        rows[method] = generate(G, tg, n, seed=seed).cpu().clamp(0, 1)
    return rows_png(rows, title=f"unseen class {split.test.names[c]}: {steps} adaptation "
                              "steps"), {"shows": f"the {k} shots of unseen class "
                                         f"{split.test.names[c]}, then {n} samples per method: "
                                         + ", ".join(inits)}
