"""Recognisability, diversity, FD and in-domain IS of the shipped few-shot GAN's methods.

    python scripts/generation_metrics.py                 # 5-way 1-shot, 30 episodes, 1 thread
    python scripts/generation_metrics.py --json          # the summary as JSON only

Generators: the inits in ``pretrained:fewshot-gan`` (Reptile init adapted / as is, scratch,
pooled DCGAN fine-tuned), each adapted with the checkpoint's own steps and per-method α; critic:
the shipped ProtoNet encoder (``protonet-20w1s``; also the FD feature network, as in
``metagan-lab eval``); IS: a Conv-4 classifier trained here on the training classes (its accuracy
on held-out images of those classes is printed). Reference row: the held-out real images.
Writes a sample grid and the diversity–recognisability plane as PNGs under ``--out-dir``.
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
from metagan_lab.gan.metrics import FeatureNet, train_feature_classifier
from metagan_lab.gan.recognisability import (
    REAL,
    evaluate_generator_metrics,
    gan_generators,
    summarise_metrics,
)
from metagan_lab.pretrained import load_checkpoint
from metagan_lab.runs import DataOptions, load_pretrained, load_split
from metagan_lab.runs.kinds import fewshot_gan
from metagan_lab.tasks.episodes import sample_episode

CRITIC = "protonet-20w1s"


def is_classifier(train: ClassImages, n_classes: int, steps: int, held_out: int = 5):
    """A Conv-4 classifier of the first ``n_classes`` training classes, trained on all but the
    last ``held_out`` images of each, and its accuracy on those held-out images."""
    part = train.subset(list(range(n_classes)))
    fit = ClassImages(part.images[:, :-held_out], part.names)
    classifier = train_feature_classifier(fit, steps=steps, batch_size=64, seed=0)
    x = part.images[:, -held_out:].flatten(0, 1).unsqueeze(1).float() / 255.0
    y = torch.arange(n_classes).repeat_interleave(held_out)
    with torch.no_grad():
        accuracy = (classifier(x).argmax(1) == y).float().mean().item()
    return classifier, accuracy


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
    p.add_argument("--out-dir", default="/tmp/generation_metrics")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    _, split = load_split(DataOptions(dataset="omniglot"))
    ckpt = load_checkpoint("pretrained:fewshot-gan")
    G, D, inits = fewshot_gan.build(ckpt)
    # older files (the shipped one) hold no adapt_lr / adapt_steps: α = cfg.inner_lr, and the
    # step count ``metagan-lab eval`` uses (runs.kinds.fewshot_gan.DEFAULT_STEPS)
    lrs = {m: (ckpt.get("adapt_lr") or {}).get(m, ckpt["config"]["inner_lr"]) for m in inits}
    steps = ckpt.get("adapt_steps") or fewshot_gan.DEFAULT_STEPS
    adapted = tuple(m for m in inits if m in ADAPTED)
    generators = gan_generators(G, D, inits, steps, lrs, ckpt["config"]["loss"], adapted)
    critic = load_pretrained(CRITIC)
    t = time.perf_counter()
    classifier, is_acc = is_classifier(split.train, args.is_classes, args.is_steps)
    seconds = {"is_classifier": time.perf_counter() - t}
    t = time.perf_counter()
    per_episode = evaluate_generator_metrics(
        generators, split.test, critic, classifier, FeatureNet(critic, 64), args.ways,
        args.shots, args.episodes, args.samples, args.seed)
    seconds["evaluate"] = time.perf_counter() - t
    summary = summarise_metrics(per_episode)
    report = {"protocol": {"ways": args.ways, "shots": args.shots, "episodes": args.episodes,
                           "samples_per_class": args.samples, "seed": args.seed,
                           "adapt_steps": steps, "adapt_lr": lrs,
                           "adapted": adapted, "critic": CRITIC,
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
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"{args.ways}-way {args.shots}-shot, {args.episodes} episodes of Omniglot test classes,"
          f" {args.samples} samples per class; chance R = {1 / args.ways:.2f}")
    print(f"{'method':22s} {'recognisability':>17s} {'diversity':>15s} {'FD':>15s} {'IS':>13s}")
    for m, row in summary.items():
        cells = [_cell(row, k) for k in ("recognisability", "diversity", "fd", "inception_score")]
        print(f"{m:22s} {cells[0]:>17s} {cells[1]:>15s} {cells[2]:>15s} {cells[3]:>13s}")
    print(json.dumps({k: report[k] for k in ("protocol", "seconds")}))
    print(f"figures: {out}/samples.png, {out}/plane.png", file=sys.stderr)
    return 0


def _cell(row: dict[str, float], key: str) -> str:
    return f"{row[key]:.3f} ± {row[key + '_ci95']:.3f}" if key in row else "—"


def _figures(generators, test, summary, args, out: Path) -> None:
    from metagan_lab.runs.images import rows_png
    from metagan_lab.viz.gan import figure_png
    from metagan_lab.viz.generation import diversity_recognisability_figure

    rows = sample_rows(generators, test, args.ways, args.shots, 8, args.seed)
    (out / "samples.png").write_bytes(rows_png(rows, title="one test episode: shot, real, "
                                                           "samples per method"))
    fig = diversity_recognisability_figure(summary, args.ways)
    (out / "plane.png").write_bytes(figure_png(fig))


if __name__ == "__main__":
    raise SystemExit(main())
