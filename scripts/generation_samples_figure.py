"""The sample figure of docs/generation.md: three unseen Omniglot characters (seed 7), each as its
shot and real images, then 10 samples of each generator from that one shot.

    python scripts/generation_samples_figure.py --free <free-decoder statistician> \
        --vae <pooled VAE> --out docs/figures/generation_samples.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generation_metrics import gan_rows, vae_rows  # noqa: E402

from metagan_lab.gan.statistician import (  # noqa: E402
    displacement_scale,
    random_warp_adapter,
    statistician_adapter,
)
from metagan_lab.runs import DataOptions, build_model, load_pretrained, load_split  # noqa: E402
from metagan_lab.runs.images import rows_png  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--free", required=True, help="a free-decoder 'statistician' checkpoint")
    p.add_argument("--vae", required=True, help="a 'vae' checkpoint (pooled training images)")
    p.add_argument("--out", type=Path, default=Path("docs/figures/generation_samples.png"))
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    torch.set_num_threads(1)
    _, split = load_split(DataOptions(dataset="omniglot"))
    warp = load_pretrained("statistician")
    scale = displacement_scale(warp, split.test.images[:100, 0].unsqueeze(1).float() / 255)
    generators = {"warp statistician (shipped)": statistician_adapter(warp, 1.0),
                  "random warp, model's std": random_warp_adapter(scale),
                  "free statistician": statistician_adapter(build_model(args.free), 1.0),
                  "Reptile GAN, adapted": gan_rows()[0]["reptile_adapted"],
                  "pooled VAE, fine-tuned": vae_rows(args.vae)["pooled_vae_finetuned"]}
    rows = {}
    g = torch.Generator().manual_seed(args.seed)
    for c in torch.randperm(split.test.n_classes, generator=g)[:3].tolist():
        images = split.test.images[c].unsqueeze(1).float() / 255            # [S, 1, 28, 28]
        name = split.test.names[c]
        rows[f"{name}: shot | real"] = images[:10]
        for method, fn in generators.items():
            rows[f"{name.split('/')[0]}: {method}"] = fn(images[:1], 10, c).clamp(0, 1)
    args.out.write_bytes(rows_png(rows, title="one shot (first image of each top row), then 10 "
                                              "samples per generator"))
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
