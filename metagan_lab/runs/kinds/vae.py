"""kind 'vae': a variational auto-encoder on the training characters (``metagan-lab train vae``).

Format: {"kind": "vae", "z_dim", "state_dict", "config": {"z_dim", "hidden", "image_size"},
"steps", "lr", "dataset"}. Older files hold only "z_dim" and "state_dict".
"""

from __future__ import annotations

import torch
from torch import nn

from ..data import DataOptions, for_checkpoint, load_split
from ..images import feature_network, grid_png, real_images
from ..options import EvalOptions

REQUIRED = ("z_dim", "state_dict")
EVAL_OPTIONS = ("samples",)
DEFAULT_SAMPLES = 500


def checkpoint(model: nn.Module, steps: int, lr: float, dataset: str) -> dict:
    """The checkpoint of a trained ``gan.vae.VAE``."""
    hidden = model.encoder[1].out_features
    return {"kind": "vae", "z_dim": model.z_dim,
            "config": {"z_dim": model.z_dim, "hidden": hidden, "image_size": model.image_size},
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "steps": steps, "lr": lr, "dataset": dataset}


def build(ckpt: dict, device: str | torch.device = "cpu") -> nn.Module:
    """The ``gan.vae.VAE`` (sizes recorded, or read off the weights of older files)."""
    from ...gan.vae import VAE

    first = ckpt["state_dict"]["encoder.1.weight"]                          # [hidden, size²]
    model = VAE(z_dim=ckpt["z_dim"], hidden=first.shape[0],
                image_size=round(first.shape[1] ** 0.5))
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval()


def describe(ckpt: dict) -> dict:
    return {"kind": "vae", "algorithm": "vae", "steps": ckpt.get("steps"),
            "dataset": ckpt.get("dataset"), "z_dim": ckpt["z_dim"],
            "config": ckpt.get("config") or {"z_dim": ckpt["z_dim"]}}


def evaluate(ckpt: dict, options: EvalOptions, data: DataOptions, device: torch.device,
             progress: bool = False) -> dict:
    """ELBO per image on ``samples`` test images (nats), and the Fréchet distance of as many
    samples x ~ p_θ(x|z) to training images."""
    from ...gan.metrics import frechet_distance
    from ...gan.vae import elbo, vae_forward, vae_samples

    n = options.samples or DEFAULT_SAMPLES
    model = build(ckpt, device)
    _, split = load_split(for_checkpoint(data, ckpt.get("dataset")))
    test = real_images(split.test, n, options.seed).to(device)
    with torch.no_grad():
        logits, mu, logvar = vae_forward(model, test, torch.Generator().manual_seed(options.seed))
        test_elbo = elbo(test, logits, mu, logvar).item()
    feature, name = feature_network(split.train, device)
    fake = vae_samples(model, n, seed=options.seed).cpu()
    return {"algorithm": "vae", "steps": ckpt.get("steps"), "samples": n,
            "elbo": test_elbo, "fd": frechet_distance(real_images(split.train, n,
                                                                   options.seed + 1), fake,
                                                       feature),
            "feature": f"{name}; real: {n} training images", "dataset": split.test.source}


def sample(ckpt: dict, n: int, options: EvalOptions, data: DataOptions,
           device: torch.device) -> tuple[bytes, dict]:
    """A grid of ``n`` samples: the Bernoulli means sigmoid(decode(z)), z ~ N(0, I)."""
    seed = options.seed
    from ...gan.vae import vae_samples

    return grid_png(vae_samples(build(ckpt, device), n, seed=seed).cpu()), {
        "shows": f"{n} samples sigmoid(decode(z)), z ~ N(0, I)"}
