"""kind 'cyclegan': a CycleGAN between thin (A) and thick (B) strokes (``metagan-lab train
cyclegan``).

Format: {"kind": "cyclegan", "state_dict": the CycleGAN's (G: A→B, F: B→A, D_A, D_B),
"config": CycleGANConfig as a dict, "steps", "dataset"}. Older files hold only "state_dict".
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from ..data import DataOptions, for_checkpoint, load_split
from ..images import feature_network, rows_png
from ..options import EvalOptions

REQUIRED = ("state_dict",)
EVAL_OPTIONS = ("samples",)
DEFAULT_SAMPLES = 500


def checkpoint(model: nn.Module, config, steps: int, dataset: str) -> dict:
    """The checkpoint of a trained ``gan.cyclegan.CycleGAN`` made with ``config``."""
    return {"kind": "cyclegan", "config": dataclasses.asdict(config),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "steps": steps, "dataset": dataset}


def build(ckpt: dict, device: str | torch.device = "cpu") -> nn.Module:
    """The ``gan.cyclegan.CycleGAN`` with the trained weights, in eval mode."""
    from ...gan.cyclegan import CycleGAN

    model = CycleGAN((ckpt.get("config") or {}).get("width", 32))
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval()


def describe(ckpt: dict) -> dict:
    return {"kind": "cyclegan", "algorithm": "cyclegan", "steps": ckpt.get("steps"),
            "dataset": ckpt.get("dataset"), "config": ckpt.get("config")}


def _test_domains(ckpt: dict, data: DataOptions, n: int, seed: int):
    """(A, B, training classes): ``n`` thin / thick stroke images of the test classes."""
    from ...gan.cyclegan import stroke_domains

    _, split = load_split(for_checkpoint(data, ckpt.get("dataset")))
    a, b = stroke_domains(split.test.images)
    gen = torch.Generator().manual_seed(seed)
    return (a[torch.randperm(len(a), generator=gen)[:n]],
            b[torch.randperm(len(b), generator=gen)[:n]], split.train)


def _cycles(model: nn.Module, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(G(a), F(G(a)), F(b), G(F(b))) on the CPU (``gan.cyclegan.translate_cycle`` both ways)."""
    from ...gan.cyclegan import translate_cycle

    device = next(model.parameters()).device
    fake_b, cyc_a = translate_cycle(model, a.to(device))
    with torch.no_grad():
        fake_a = model.f_ba(b.to(device))
        cyc_b = model.g_ab(fake_a)
    return tuple(t.cpu() for t in (fake_b, cyc_a, fake_a, cyc_b))


def evaluate(ckpt: dict, options: EvalOptions, data: DataOptions, device: torch.device,
             progress: bool = False) -> dict:
    """On test classes: cycle L1 ‖F(G(a)) − a‖₁ and ‖G(F(b)) − b‖₁ (pixel means), and Fréchet
    distances FD(G(A), B), FD(F(B), A) beside FD(A, B), the distance with no translation."""
    from ...gan.metrics import frechet_distance

    n = options.samples or DEFAULT_SAMPLES
    model = build(ckpt, device)
    a, b, train = _test_domains(ckpt, data, n, options.seed)
    fake_b, cyc_a, fake_a, cyc_b = _cycles(model, a, b)
    feature, name = feature_network(train, device)
    return {"algorithm": "cyclegan", "steps": ckpt.get("steps"), "samples": len(a),
            "cycle_l1_a": (cyc_a - a).abs().mean().item(),
            "cycle_l1_b": (cyc_b - b).abs().mean().item(),
            "fd_ab": frechet_distance(fake_b, b, feature),
            "fd_ba": frechet_distance(fake_a, a, feature),
            "fd_untranslated": frechet_distance(a, b, feature), "feature": name}


def sample(ckpt: dict, n: int, options: EvalOptions, data: DataOptions,
           device: torch.device) -> tuple[bytes, dict]:
    """Rows: ``n`` thin test images a, G(a), F(G(a)); then thick b, F(b), G(F(b))."""
    seed = options.seed
    model = build(ckpt, device)
    a, b, _ = _test_domains(ckpt, data, n, seed)
    fake_b, cyc_a, fake_a, cyc_b = _cycles(model, a, b)
    rows = {"A (thin)": a, "G(a)": fake_b, "F(G(a))": cyc_a,
            "B (thick)": b, "F(b)": fake_a, "G(F(b))": cyc_b}
    return rows_png(rows), {"shows": f"{len(a)} test images per row: " + ", ".join(rows)}
