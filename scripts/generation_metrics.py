"""Recognisability, diversity, FD and in-domain IS of one-shot generators, on the same episodes.

    python scripts/generation_metrics.py                 # 5-way 1-shot, 30 episodes, 1 thread
    python scripts/generation_metrics.py --statistician runs/statistician/statistician.pt \
        --vae runs/vae/vae.pt --meta-vae runs/meta_vae/meta_vae.pt
    python scripts/generation_metrics.py --json          # the summary as JSON only

Generators (rows), every one given the same K shots of the same unseen classes:
- the inits in ``pretrained:fewshot-gan`` (Reptile init adapted / as is, scratch, pooled DCGAN
  fine-tuned), each adapted with the checkpoint's own steps and per-method α (``--no-gan``: none);
- "copy the shot": the K shots themselves, repeated (recognisability ~1, diversity 0 at K = 1:
  the corner of the diversity–recognisability plane);
- ``--statistician CKPT [CKPT …]``: amortised one-shot generators of ``gan.statistician`` (no
  gradient step: the context of the shots, z ~ p(z | c); ``--temperatures``: z = μ_p + τ σ_p ε,
  a row per τ), each labelled by its decoder (free / warp);
- ``--random-warp F [F …]``: the control of the warp decoder, the shot moved by a random smooth
  field of F × the std the (first) warp statistician's own u has at τ = 1 (``displacement_scale``);
- ``--vae CKPT`` (kind 'vae', one VAE on the pooled training images): sampled as it is, and
  fine-tuned on the shots (``VAE_STEPS`` Adam steps of α = ``VAE_LR``);
- ``--meta-vae CKPT`` (kind 'meta_vae'): its Reptile init adapted, a fresh VAE and its pooled VAE
  fine-tuned, with the checkpoint's own steps and α.
Every VAE shows its samples the same way: the Bernoulli means sigmoid(logits), not thresholded.
Critic: the shipped ProtoNet encoder (``protonet-20w1s``; also the FD feature network, as in
``metagan-lab eval``); IS: a Conv-4 classifier trained here on the training classes (its accuracy
on held-out images of those classes is printed). Reference row: the held-out real images.
Writes metrics.json, a sample grid and the diversity–recognisability plane under ``--out-dir``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from metagan_lab.data.images import ClassImages
from metagan_lab.gan.experiment import ADAPTED
from metagan_lab.gan.fewshot import Adapter
from metagan_lab.gan.meta_vae import vae_adapter
from metagan_lab.gan.metrics import FeatureNet
from metagan_lab.gan.recognisability import (
    REAL,
    evaluate_generator_metrics,
    format_metrics,
    summarise_metrics,
    train_is_classifier,
)
from metagan_lab.gan.statistician import (
    copy_shot_adapter,
    displacement_scale,
    random_warp_adapter,
    statistician_adapter,
)
from metagan_lab.meta.functional import InnerLoop
from metagan_lab.models import params_of
from metagan_lab.pretrained import load_checkpoint
from metagan_lab.runs import DataOptions, build_model, load, load_pretrained, load_split
from metagan_lab.runs.generation import CRITIC
from metagan_lab.runs.kinds import fewshot_gan, meta_vae
from metagan_lab.tasks.episodes import sample_episode

COPY = "copy the shot"
VAE_STEPS, VAE_LR = 10, 0.01   # the pooled VAE's fine-tuning: the meta-VAE CLI's steps and α


def gan_rows() -> tuple[dict[str, Adapter], dict]:
    """The shipped few-shot GAN's methods, each with the checkpoint's own steps and α, as
    ``metagan-lab eval`` adapts them (``runs.kinds.fewshot_gan.generators``)."""
    ckpt = load_checkpoint("pretrained:fewshot-gan")
    # older files (the shipped one) hold no adapt_lr / adapt_steps: α = cfg.inner_lr, and the
    # step count ``metagan-lab eval`` uses (runs.kinds.fewshot_gan.DEFAULT_STEPS)
    steps = ckpt.get("adapt_steps") or fewshot_gan.DEFAULT_STEPS
    rows = fewshot_gan.generators(ckpt, steps)
    return rows, {"adapt_steps": steps, "adapt_lr": fewshot_gan.adapt_lrs(ckpt, rows),
                  "adapted": tuple(m for m in rows if m in ADAPTED)}


def vae_rows(path: str) -> dict[str, Adapter]:
    """A pooled VAE (kind 'vae') as it is (the shots are ignored) and fine-tuned on the shots."""
    model = build_model(path)
    theta = params_of(model, False)
    tune = InnerLoop(lr=VAE_LR, steps=VAE_STEPS, first_order=True, optimizer="adam")
    return {"pooled_vae": vae_adapter(model, theta, InnerLoop(lr=VAE_LR, steps=0)),
            "pooled_vae_finetuned": vae_adapter(model, theta, tune)}


def meta_vae_rows(path: str) -> dict[str, Adapter]:
    """A meta-VAE checkpoint's methods, with its own adaptation steps and α
    (``runs.kinds.meta_vae.generators``)."""
    ckpt = load(path)
    steps = ckpt.get("adapt_steps") or meta_vae.DEFAULT_STEPS
    return {f"mvae:{m}": fn for m, fn in meta_vae.generators(ckpt, steps).items()}


def sample_rows(generators, test: ClassImages, n_way: int, k_shot: int, n: int,
                seed: int) -> dict[str, torch.Tensor]:
    """For one episode: per class, its shot(s), n held-out real images, n samples per method."""
    ep = sample_episode(test, n_way, k_shot, test.n_samples - k_shot, 1,
                        torch.Generator().manual_seed(seed))
    support = ep.support_x[0].unflatten(0, (n_way, k_shot))
    real = ep.query_x[0].unflatten(0, (n_way, -1))
    rows = {}
    for c in range(n_way):
        rows[f"class {c}: shot"] = support[c]
        rows[f"class {c}: {REAL}"] = real[c, :n]
        for name, fn in generators.items():
            rows[f"class {c}: {name}"] = fn(support[c], n, seed + c).clamp(0, 1)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ways", type=int, default=5)
    p.add_argument("--shots", type=int, default=1)
    p.add_argument("--episodes", type=int, default=30)
    p.add_argument("--samples", type=int, default=19, help="generated images per class")
    p.add_argument("--is-classes", type=int, default=100, help="classes of the IS classifier")
    p.add_argument("--is-steps", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--statistician", nargs="+", default=[],
                   help="'statistician' checkpoints (or pretrained:statistician)")
    p.add_argument("--random-warp", type=float, nargs="+", default=[],
                   help="the unlearned control of the first warp statistician, one row per "
                        "factor f: random fields of f × the model's own displacement std")
    p.add_argument("--temperatures", type=float, nargs="+", default=[1.0],
                   help="τ of the statistician's z = μ_p + τ σ_p ε, one row each (1: p(z | c))")
    p.add_argument("--vae", default=None, help="a 'vae' checkpoint (pooled training images)")
    p.add_argument("--meta-vae", default=None, help="a 'meta_vae' checkpoint")
    p.add_argument("--no-gan", action="store_true", help="leave out the shipped few-shot GAN")
    p.add_argument("--out-dir", default="/tmp/generation_metrics")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    _, split = load_split(DataOptions(dataset="omniglot"))
    generators: dict[str, Adapter] = {COPY: copy_shot_adapter()}
    protocol: dict = {"checkpoints": {k: getattr(args, k) for k in ("statistician", "vae",
                                                                     "meta_vae")}}
    warps = []
    for path in args.statistician:
        model = load_pretrained(path) if path.startswith("pretrained:") else build_model(path)
        label = "warp" if model.warps else "free"
        warps += [model] if model.warps else []
        for tau in args.temperatures:
            name = f"statistician ({label})" + ("" if tau == 1 else f" τ={tau:g}")
            generators[name] = statistician_adapter(model, tau)
    if args.random_warp:
        if not warps:
            p.error("--random-warp needs a warp statistician among --statistician")
        shots = split.test.images[:100, 0].unsqueeze(1).float() / 255.0     # [100, 1, 28, 28]
        scale = displacement_scale(warps[0], shots)
        for f in args.random_warp:
            generators[f"random warp ×{f:g}"] = random_warp_adapter(f * scale)
        protocol["random_warp_std"] = {"model_u_std": round(scale, 4), "factors":
                                       args.random_warp}
    if not args.no_gan:
        rows, protocol["fewshot_gan"] = gan_rows()
        generators |= rows
    if args.vae:
        generators |= vae_rows(args.vae)
        protocol["pooled_vae"] = {"adapt_steps": VAE_STEPS, "adapt_lr": VAE_LR}
    if args.meta_vae:
        generators |= meta_vae_rows(args.meta_vae)
    critic = load_pretrained(CRITIC)
    t = time.perf_counter()
    classifier, is_acc = train_is_classifier(split.train, args.is_classes, args.is_steps)
    seconds = {"is_classifier": time.perf_counter() - t}
    t = time.perf_counter()
    per_episode = evaluate_generator_metrics(
        generators, split.test, critic, classifier, FeatureNet(critic, 64), args.ways,
        args.shots, args.episodes, args.samples, args.seed)
    seconds["evaluate"] = time.perf_counter() - t
    summary = summarise_metrics(per_episode)
    report = {"protocol": {"ways": args.ways, "shots": args.shots, "episodes": args.episodes,
                           "samples_per_class": args.samples, "seed": args.seed,
                           "critic": CRITIC, **protocol,
                           "is_classifier": {"classes": args.is_classes, "steps": args.is_steps,
                                             "held_out_accuracy": round(is_acc, 4)},
                           "test_classes": split.test.n_classes},
              "summary": {m: {k: round(v, 4) for k, v in row.items()}
                          for m, row in summary.items()},
              "seconds": {k: round(v, 1) for k, v in seconds.items()}}
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _figures(generators, split.test, summary, args, out)
    report["seconds"]["total"] = round(time.perf_counter() - start, 1)
    (out / "metrics.json").write_text(json.dumps(report, indent=1))
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"{args.ways}-way {args.shots}-shot, {args.episodes} episodes of Omniglot test classes,"
          f" {args.samples} samples per class; chance R = {1 / args.ways:.2f}")
    print(format_metrics(summary))
    print(json.dumps({k: report[k] for k in ("protocol", "seconds")}))
    print(f"figures: {out}/samples.png, {out}/plane.png; {out}/metrics.json", file=sys.stderr)
    return 0


def _figures(generators, test, summary, args, out: Path) -> None:
    from metagan_lab.runs.images import rows_png

    rows = sample_rows(generators, test, args.ways, args.shots, 8, args.seed)
    (out / "samples.png").write_bytes(rows_png(rows, title="one test episode: shot, real, "
                                                           "samples per method"))
    plane_png(summary, args.ways, out / "plane.png")


def plane_png(summary: dict, ways: int, path: Path) -> None:
    """The diversity–recognisability plane, 20 colours (one per row) and the legend outside."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from cycler import cycler

    from metagan_lab.viz.gan import figure_png
    from metagan_lab.viz.generation import diversity_recognisability_figure

    fig, ax = plt.subplots(figsize=(8.5, 4.6))
    ax.set_prop_cycle(cycler(color=plt.cm.tab20.colors))
    diversity_recognisability_figure(summary, ways, ax=ax)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    path.write_bytes(figure_png(fig))


if __name__ == "__main__":
    raise SystemExit(main())
