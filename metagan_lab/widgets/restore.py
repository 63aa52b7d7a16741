"""Widgets for notebook 08: a degradation explorer and an adaptation lab with a button.

Thin views: degradations come from ``restore.degradations``, adaptation and scores from
``restore.evaluate.compare_on_task``, meta-training from ``restore.meta.meta_train``; figures
from ``viz.restore``. Slider moves only re-draw cheap things; adaptation and training run on a
button.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from ..restore.adaptation import MODES
from ..restore.data import sample_task
from ..restore.degradations import DEGRADATIONS, STRENGTH_NAMES, Setting, degrade, kernel_of
from ..restore.evaluate import STEPS, Method, compare_on_task
from ..restore.meta import RestoreMetaConfig, meta_train
from ..restore.metrics import psnr
from .fewshot import _show

# slider range per kind: (min, max, step, default); inpainting uses the mask-fraction slider
STRENGTH_SLIDERS = {"noise": (0.0, 0.5, 0.01, 0.25), "blur": (0.3, 3.0, 0.1, 2.0),
                    "motion": (1, 11, 2, 7), "downsample": (1, 4, 1, 4)}


def _setting_controls(kind: str = "noise"):
    import ipywidgets as w

    kind_w = w.Dropdown(options=DEGRADATIONS, value=kind, description="degradation")
    lo, hi, step, default = STRENGTH_SLIDERS["noise"]
    strength = w.FloatSlider(default, min=lo, max=hi, step=step, description="strength")
    fraction = w.FloatSlider(0.7, min=0.0, max=0.95, step=0.05, description="mask fraction")
    angle = w.FloatSlider(30.0, min=0.0, max=180.0, step=15.0, description="motion angle")

    def on_kind(_=None):
        if kind_w.value in STRENGTH_SLIDERS:
            lo, hi, step, default = STRENGTH_SLIDERS[kind_w.value]
            strength.min, strength.max = min(lo, strength.min), max(hi, strength.max)
            strength.min, strength.max, strength.step, strength.value = lo, hi, step, default
            strength.description = STRENGTH_NAMES[kind_w.value]
        strength.disabled = kind_w.value == "inpaint"
        fraction.disabled = kind_w.value != "inpaint"
        angle.disabled = kind_w.value != "motion"

    kind_w.observe(on_kind, names="value")
    on_kind()

    def setting() -> Setting:
        if kind_w.value == "inpaint":
            return Setting("inpaint", fraction.value)
        s = strength.value
        s = int(round(s)) if kind_w.value in ("motion", "downsample") else s
        return Setting(kind_w.value, s, angle.value)

    return [kind_w, strength, fraction, angle], setting


def degradation_explorer(images: Tensor, n: int = 4):
    """Pick a degradation and its strength / mask fraction; the figure re-draws (cheap)."""
    import ipywidgets as w

    from ..viz.restore import degradation_figure

    controls, setting = _setting_controls()
    seed = w.IntSlider(0, min=0, max=50, description="seed")
    out, label = w.Output(), w.Label()

    def redraw(_=None):
        g = torch.Generator().manual_seed(seed.value)
        idx = torch.randperm(images.shape[0], generator=g)[:n]
        s = setting()
        try:
            obs = degrade(images[idx], s, g)
        except ValueError as exc:                 # e.g. a kernel wider than the image
            label.value = str(exc)
            return
        label.value = s.label()
        kernel = kernel_of(s, dtype=torch.float32)
        known = obs.known if s.kind == "inpaint" else None
        _show(out, degradation_figure(images[idx], obs.degraded, kernel, known, s.label(), n))

    for c in [*controls, seed]:
        c.observe(redraw, names="value")
    redraw()
    return w.VBox([w.HBox(controls[:2]), w.HBox(controls[2:] + [seed]), label, out])


class AdaptationLab:
    """Sliders for the unseen degradation, adaptation steps k, inner lr α, λ, the optimiser and
    which weights adapt (all / gains / head, ``restore.adaptation.MODES``); the "adapt" button
    adapts every method on K support pairs and shows before / degraded / restored side by side
    and PSNR-versus-steps curves. α and the optimiser start at the config's test-time ones."""

    def __init__(self, model: nn.Module, inits: dict[str, dict | None], images: Tensor,
                 cfg: RestoreMetaConfig, kind: str = "noise"):
        import ipywidgets as w

        self.model, self.inits, self.images, self.cfg = model, inits, images, cfg
        self.controls, self.setting = _setting_controls(kind)
        self.steps = w.IntSlider(10, min=1, max=30, description="steps k")
        self.inner_lr = w.FloatLogSlider(cfg.test_lr, base=10, min=-5, max=0, step=0.1,
                                         description="inner lr α")
        self.optimizer = w.Dropdown(options=("sgd", "adam"), value=cfg.test_optimizer,
                                    description="optimiser")
        self.mode = w.Dropdown(options=MODES, value="all", description="adapt")
        self.tv_weight = w.FloatLogSlider(max(cfg.tv_weight, 1e-4), base=10, min=-4, max=-0.5,
                                          step=0.25, description="λ (TV)")
        self.self_sup = w.Checkbox(False, description="self-supervised (no clean pairs)")
        self.seed = w.IntSlider(0, min=0, max=50, description="task seed")
        self.button = w.Button(description="adapt", button_style="primary")
        self.status = w.Label()
        self.images_out, self.curves_out = w.Output(), w.Output()
        self.button.on_click(lambda _: self.run())
        self.last: dict | None = None

    def methods(self) -> list[Method]:
        return [Method(name, theta, self.self_sup.value and theta is not None)
                for name, theta in self.inits.items()]

    def run(self) -> dict:
        """Adapt every method on one task of the chosen setting; returns the curves."""
        from ..viz.restore import psnr_curves_figure, restoration_figure

        s = self.setting()
        try:
            task = sample_task(self.images, s, self.cfg.k_shot, self.cfg.n_query,
                               torch.Generator().manual_seed(self.seed.value))
            device = next((p.device for t in self.inits.values() if t for p in t.values()),
                          torch.device("cpu"))
            task = task.to(device)                 # sampled on the CPU, adapted on θ's device
        except ValueError as exc:
            self.status.value = str(exc)
            return {}
        k = self.steps.value
        grid = sorted({0, 1, k, *(x for x in STEPS if x <= k)})
        self.status.value = f"adapting on {s.label()} …"
        curves = compare_on_task(self.model, self.methods(), task, self.inner_lr.value,
                                 self.tv_weight.value, grid, self.seed.value,
                                 optimizer=self.optimizer.value, mode=self.mode.value)
        restored = {n: c["outputs"][-1] for n, c in curves.items()}
        scores = {n: psnr(c["outputs"][-1], task.query_y).tolist() for n, c in curves.items()}
        _show(self.images_out, restoration_figure(task.query_y, task.query_x, restored, scores,
                                                  title=f"{s.label()}: after {k} steps"))
        _show(self.curves_out, psnr_curves_figure(curves, s.label()))
        self.status.value = " · ".join(f"{n}: {c['psnr'][-1]:.2f} dB" for n, c in curves.items())
        self.last = curves
        return curves

    def widget(self):
        import ipywidgets as w

        c = self.controls
        return w.VBox([w.HBox(c[:2]), w.HBox(c[2:]), w.HBox([self.steps, self.inner_lr]),
                       w.HBox([self.optimizer, self.mode]),
                       w.HBox([self.tv_weight, self.seed]), w.HBox([self.self_sup, self.button]),
                       self.status, self.images_out, self.curves_out])


class MetaTrainer:
    """A "meta-train N steps" button with a live loss plot; training continues from θ."""

    def __init__(self, model: nn.Module, theta: dict, images: Tensor, family,
                 cfg: RestoreMetaConfig, history: list[float] | None = None, steps: int = 50):
        """``steps``: the meta-steps slider's starting value (5 to 500)."""
        import ipywidgets as w

        self.model, self.theta, self.images, self.family = model, theta, images, family
        self.cfg, self.history = cfg, list(history or [])
        self.method = w.Dropdown(options=("maml", "fomaml", "reptile"), value=cfg.method,
                                 description="method")
        self.n = w.IntSlider(steps, min=5, max=500, step=5, description="meta-steps")
        self.button = w.Button(description="meta-train", button_style="primary")
        self.out = w.Output()
        self.button.on_click(lambda _: self.run())

    def run(self) -> list[float]:
        from ..viz.restore import loss_figure

        cfg = dataclasses.replace(self.cfg, method=self.method.value)
        new = meta_train(self.model, self.theta, self.images, self.family, cfg, self.n.value,
                         seed=len(self.history), progress=True)
        self.history += new
        _show(self.out, loss_figure({f"meta ({cfg.method})": self.history}))
        return new

    def widget(self):
        import ipywidgets as w

        return w.VBox([w.HBox([self.method, self.n, self.button]), self.out])
