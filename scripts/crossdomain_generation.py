"""Cross-domain one-shot generation: statisticians meta-trained on one alphabet set, given one
shot of classes of the other (seed 003: "meta-train on Omniglot, adapt to glyph classes, and the
reverse").

    python scripts/crossdomain_generation.py \
        --omniglot pretrained:statistician-warp --glyphs runs/glyph_warp/statistician.pt

Every checkpoint is tested on the unseen test classes of both datasets, in-domain and across,
with the same protocol as ``scripts/generation_metrics.py``: N-way 1-shot episodes, the shipped
ProtoNet ``protonet-20w1s`` as critic (recognisability, diversity) and, as there, through
``FeatureNet(critic, 64)`` the feature space of FD; the
held-out real images and "copy the shot" as reference rows. Adaptation to the new domain is the
statistician's own: the context of the one shot (no gradient step). Writes crossdomain.json and
crossdomain.md under ``--out-dir``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from metagan_lab.gan.metrics import FeatureNet
from metagan_lab.gan.recognisability import (
    REAL,
    evaluate_generator_metrics,
    format_metrics,
    summarise_metrics,
)
from metagan_lab.gan.statistician import copy_shot_adapter, statistician_adapter
from metagan_lab.io import atomic_write_json
from metagan_lab.runs import DataOptions, build_model, load_pretrained, load_split

CRITIC = "protonet-20w1s"
DATASETS = ("omniglot", "glyphs")


def _model(spec: str):
    return load_pretrained(spec) if spec.startswith("pretrained:") else build_model(spec)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--omniglot", required=True, help="a statistician trained on Omniglot")
    parser.add_argument("--glyphs", required=True, help="a statistician trained on the glyphs")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0])
    parser.add_argument("--ways", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--samples", type=int, default=19)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out-dir", type=Path, default=Path("runs/crossdomain_generation"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    critic = load_pretrained(CRITIC)
    models = {"omniglot": _model(args.omniglot), "glyphs": _model(args.glyphs)}
    tables, rows = {}, {}
    for target in DATASETS:
        _, split = load_split(DataOptions(dataset=target))
        generators = {"copy the shot": copy_shot_adapter()}
        for trained, model in models.items():
            for tau in args.temperatures:
                generators[f"trained on {trained}, τ={tau:g}"] = statistician_adapter(model, tau)
        per_episode = evaluate_generator_metrics(
            generators, split.test, critic, None, FeatureNet(critic, 64), args.ways, 1,
            args.episodes, args.samples, args.seed)
        summary = summarise_metrics(per_episode)
        tables[target] = format_metrics(summary)
        rows[target] = {name: {k: round(v, 4) for k, v in row.items()}
                        for name, row in summary.items()}
        print(f"test classes of {target} ({split.test.n_classes}):\n{tables[target]}", flush=True)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    protocol = {"ways": args.ways, "shots": 1, "episodes": args.episodes,
                "samples_per_class": args.samples, "seed": args.seed, "critic": CRITIC,
                "checkpoints": {"omniglot": args.omniglot, "glyphs": args.glyphs},
                "reference_row": REAL, "threads": args.threads,
                "seconds": round(time.perf_counter() - start, 1)}
    atomic_write_json({"protocol": protocol, "results": rows}, args.out_dir / "crossdomain.json")
    md = "\n\n".join(f"## test classes of {t}\n\n```\n{tables[t]}\n```" for t in DATASETS)
    (args.out_dir / "crossdomain.md").write_text(md + "\n")
    print(json.dumps(protocol))
    return 0


if __name__ == "__main__":
    sys.exit(main())
