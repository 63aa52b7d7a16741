"""kind 'gan': a GAN on 2-D toy data or on the training characters (``metagan-lab train gan``).

Format: {"kind": "gan", "config": GANConfig as a dict, "data": "glyphs" | "omniglot" |
"toy:<name>", "arch": {"toy", "z_dim", "width", "n_classes"}, "steps", "split", "rotations",
"generator" and "discriminator" state dicts}. Older files lack "arch" (it is read off the
generator's weights) and "steps".
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from ..data import DataOptions, for_checkpoint, load_split
from ..images import feature_network, gaussian_frechet, grid_png, real_images
from ..options import EvalOptions

REQUIRED = ("config", "generator", "discriminator")
EVAL_OPTIONS = ("samples",)
DEFAULT_SAMPLES = 500


def checkpoint(generator: nn.Module, discriminator: nn.Module, config, data: str, steps: int,
               split: str | None = None, rotations: bool | None = None) -> dict:
    """The checkpoint of a trained pair; ``config`` is its ``gan.train.GANConfig``."""
    toy = data.removeprefix("toy:") if data.startswith("toy:") else None
    arch = {"toy": toy, "z_dim": generator.z_dim, "n_classes": generator.n_classes,
            "width": getattr(generator, "width", None)}
    cpu = lambda m: {k: v.detach().cpu() for k, v in m.state_dict().items()}  # noqa: E731
    return {"kind": "gan", "config": dataclasses.asdict(config), "data": data, "arch": arch,
            "steps": steps, "split": split, "rotations": rotations,
            "generator": cpu(generator), "discriminator": cpu(discriminator)}


def arch_of(ckpt: dict) -> dict:
    """The architecture: recorded, or read off the generator's weights (older files)."""
    if ckpt.get("arch"):
        return ckpt["arch"]
    g = ckpt["generator"]
    if "fc.weight" not in g:
        return {"toy": str(ckpt.get("data", "toy:ring")).removeprefix("toy:"), "z_dim": 2,
                "n_classes": 0, "width": None}
    n_classes = g["embed.weight"].shape[0] if "embed.weight" in g else 0
    z_dim = g["fc.weight"].shape[1] // (2 if n_classes else 1)
    width = g["net.2.weight"].shape[1]                      # ConvTranspose2d(2w, w): [2w, w, 4, 4]
    return {"toy": None, "z_dim": z_dim, "n_classes": n_classes, "width": width}


def build(ckpt: dict, device: str | torch.device = "cpu") -> tuple[nn.Module, nn.Module]:
    """(G, D) with the trained weights."""
    from ...gan.models import DCDiscriminator, DCGenerator, ToyDiscriminator, ToyGenerator

    a = arch_of(ckpt)
    if a["toy"]:
        G, D = ToyGenerator(), ToyDiscriminator()
    else:
        G = DCGenerator(a["z_dim"], a["width"], a["n_classes"])
        D = DCDiscriminator(a["width"], a["n_classes"])
    G.load_state_dict(ckpt["generator"])
    D.load_state_dict(ckpt["discriminator"])
    return G.to(device).eval(), D.to(device).eval()


def describe(ckpt: dict) -> dict:
    return {"kind": "gan", "algorithm": "gan", "steps": ckpt.get("steps"),
            "dataset": ckpt.get("data"), "loss": ckpt["config"].get("loss"),
            "arch": arch_of(ckpt), "config": ckpt["config"]}


def generate(G: nn.Module, n: int, seed: int) -> torch.Tensor:
    """``n`` samples G(z) (class labels cycling for a conditional G), from a seeded z."""
    device = next(G.parameters()).device
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    y = torch.arange(n, device=device) % G.n_classes if G.n_classes else None
    with torch.no_grad():
        return G(z, y)


def evaluate(ckpt: dict, options: EvalOptions, data: DataOptions, device: torch.device,
             progress: bool = False) -> dict:
    """Fréchet distance of ``samples`` generated vs real samples (features of a Conv-4 encoder
    for images, the points themselves for 2-D data) and the relative diversity."""
    from ...gan.toy2d import toy_sampler
    from ...gan.train import relative_diversity

    n = options.samples or DEFAULT_SAMPLES
    G, _ = build(ckpt, device)
    fake = generate(G, n, options.seed).cpu()
    a = arch_of(ckpt)
    result = {"algorithm": "gan", "data": ckpt.get("data"), "steps": ckpt.get("steps"),
              "samples": n}
    if a["toy"]:
        real = toy_sampler(a["toy"])(n, torch.Generator().manual_seed(options.seed + 1))
        result.update(fd_2d=gaussian_frechet(real, fake), feature="the 2-D points")
    else:
        _, split = load_split(for_checkpoint(data, ckpt.get("data")))
        real = real_images(split.train, n, options.seed + 1)
        feature, name = feature_network(split.train, device)
        from ...gan.metrics import frechet_distance

        result.update(fd=frechet_distance(real, fake, feature),
                      feature=f"{name}; real: {n} training images")
    result["diversity"] = relative_diversity(fake[:256], real[:256])
    return result


def sample(ckpt: dict, n: int, options: EvalOptions, data: DataOptions,
           device: torch.device) -> tuple[bytes, dict]:
    """A grid of ``n`` images G(z) (2-D data: a scatter of the samples over real points)."""
    seed = options.seed
    G, _ = build(ckpt, device)
    fake = generate(G, n, seed).cpu()
    a = arch_of(ckpt)
    if not a["toy"]:
        labels = " (labels 0, 1, 2, … in reading order)" if a["n_classes"] else ""
        return grid_png(fake), {"shows": f"{n} samples G(z){labels}"}
    return _scatter_png(fake, a["toy"], seed), {
        "shows": f"{n} samples G(z) (red) over real points of {a['toy']} (black)"}


def _scatter_png(fake: torch.Tensor, toy: str, seed: int) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ...gan.toy2d import toy_sampler
    from ...viz.gan import figure_png

    real = toy_sampler(toy)(len(fake), torch.Generator().manual_seed(seed + 1))
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(*real.T.numpy(), s=4, c="black", alpha=0.4, label="real")
    ax.scatter(*fake.T.numpy(), s=4, c="tab:red", alpha=0.6, label="G(z)")
    ax.set_aspect("equal")
    ax.legend(fontsize=8, loc="upper right")
    return figure_png(fig)
