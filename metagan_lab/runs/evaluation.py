"""``evaluate`` and ``sample``: the one entry point per action, for every kind of checkpoint."""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from .data import DataOptions
from .formats import Source, protocol, resolve
from .kinds import KINDS
from .options import EvalOptions, check_applicable, with_defaults
from .out import check_png_path, write_png

# n of ``sample``: queries per class, images per degradation / per row, else images in the grid
DEFAULT_SAMPLES = {"protonet": 5, "meta": 5, "episodic": 5, "restorer": 6, "fewshot_gan": 10,
                   "cyclegan": 8}
SAMPLE_N = 64


def evaluate(source: Source, options: EvalOptions | None = None,
             data: DataOptions | None = None, device: str | torch.device = "cpu",
             progress: bool = False) -> dict:
    """The kind's metric on new test data, as a result dict with "kind" and "device" (and
    "checkpoint" when ``source`` is a path or ``pretrained:<name>``).

    protonet, meta: accuracy ± 95 % CI over test episodes; gan, vae: Fréchet distance of samples
    to real images (2-D toy GANs: of the points); vae also the test ELBO; cyclegan: cycle L1 and
    Fréchet distances of translations; fewshot_gan, meta_vae: Fréchet distance per method on
    unseen classes, and with statistician recognisability / diversity (FD, IS: ``runs.generation``);
    restorer: PSNR / SSIM on unseen degradations after k adaptation steps (the table).
    A shipped model's manifest protocol fills the options left ``None``.
    """
    ckpt, spec = resolve(source)
    kind = KINDS[ckpt["kind"]]
    options = options or EvalOptions()
    check_applicable(ckpt["kind"], options, kind.EVAL_OPTIONS)
    options = with_defaults(options, protocol(spec), kind.EVAL_OPTIONS)
    start = time.perf_counter()
    result = kind.evaluate(ckpt, options, data or DataOptions(), torch.device(device), progress)
    result.setdefault("seconds", round(time.perf_counter() - start, 2))
    result.update(kind=ckpt["kind"], device=str(torch.device(device)))
    if spec is not None:
        result["checkpoint"] = spec
    return result


def default_sample_path(spec: str | os.PathLike) -> Path:
    """runs/gan.pt → runs/gan_samples.png; pretrained:<name> → ./<name>_samples.png."""
    from ..pretrained import PREFIX

    text = str(spec)
    if text.startswith(PREFIX):
        return Path(f"{text.removeprefix(PREFIX)}_samples.png")
    path = Path(text)
    return path.with_name(f"{path.stem}_samples.png")


def sample(source: Source, path: str | os.PathLike | None = None, n: int | None = None,
           seed: int = 0, data: DataOptions | None = None,
           device: str | torch.device = "cpu") -> dict:
    """Write a PNG of what the checkpoint makes, atomically; returns {"path", "shows", "kind", …}.

    gan, vae: a grid of ``n`` samples (2-D GANs: a scatter); fewshot_gan: the K shots of an
    unseen class, then ``n`` samples of each method; cyclegan: ``n`` test images per row through
    G and F; restorer: ``n`` test images per unseen degradation, degraded / restored / clean;
    protonet, meta: one test episode with ``n`` queries per class, right / wrong framed.
    ``path`` defaults to <checkpoint>_samples.png beside the checkpoint.
    """
    ckpt, spec = resolve(source)
    if path is None and spec is None:
        raise ValueError("sample: give a path for the PNG (the checkpoint is not a file)")
    path = check_png_path(path if path is not None else default_sample_path(spec))
    n = n or DEFAULT_SAMPLES.get(ckpt["kind"], SAMPLE_N)
    options = with_defaults(EvalOptions(seed=seed), protocol(spec), ("ways",))
    png, info = KINDS[ckpt["kind"]].sample(ckpt, n, options, data or DataOptions(),
                                           torch.device(device))
    info.update(kind=ckpt["kind"], n=n, path=str(write_png(png, path)))
    if spec is not None:
        info["checkpoint"] = spec
    return info
