"""Widgets for notebooks 02–05: sinusoid explorer, 2-D meta-update paths, a meta-trainer button.

Thin views: adaptation is ``meta.sinusoid.adapted_curves``, paths are ``meta.toy2d``, training is
``meta.train.meta_train`` / ``meta.sinusoid.train_sinusoid_*``; figures come from ``viz.meta``.
Slider moves only redraw (milliseconds); training runs on a button.
"""

from __future__ import annotations

import dataclasses

import torch

from ..data.images import ClassImages
from ..meta.config import MetaConfig
from ..meta.registry import ALGORITHMS, config_for
from ..meta.sinusoid import (
    SinusoidConfig,
    adapted_curves,
    train_sinusoid_maml,
    train_sinusoid_pretrained,
)
from ..meta.toy2d import maml_path_2d, reptile_path_2d
from ..meta.train import meta_test, meta_train, new_learner
from ..tasks.sinusoid import X_RANGE, sample_sinusoid_tasks
from .fewshot import _show


class SinusoidLab:
    """A "train" button (MAML and the pre-trained baseline) and sliders α, k, K and task that
    re-draw both networks' curves after k SGD steps on K points of a new sine."""

    def __init__(self, cfg: SinusoidConfig | None = None):
        import ipywidgets as w

        self.cfg = cfg = cfg if cfg is not None else SinusoidConfig()
        self.maml = self.pretrained = None
        self.iterations = w.IntText(cfg.iterations, description="iterations")
        self.button = w.Button(description="train MAML + pretrained", button_style="primary",
                               layout=w.Layout(width="220px"))
        self.status = w.Label("not trained yet")
        self.alpha = w.FloatLogSlider(cfg.inner_lr, base=10, min=-3, max=0, step=0.1,
                                      description="α (inner lr)")
        self.steps = w.IntSlider(1, min=0, max=10, description="steps k")
        self.k_shot = w.IntSlider(cfg.k_shot, min=1, max=20, description="points K")
        # Task 11 (A = 4.29, φ = 0.07) is far from the mean sine that both networks start from,
        # so one step visibly separates MAML from the pre-trained net (task 0 ≈ the mean sine).
        self.task = w.IntSlider(11, min=0, max=50, description="task")
        self.out = w.Output()
        self.button.on_click(self.on_train)
        for s in (self.alpha, self.steps, self.k_shot, self.task):
            s.observe(self.redraw, names="value")
        self.view = w.VBox([w.HBox([self.iterations, self.button, self.status]),
                            w.HBox([self.alpha, self.steps]), w.HBox([self.k_shot, self.task]),
                            self.out])

    def on_train(self, _=None) -> None:
        self.button.disabled = True
        try:
            cfg = dataclasses.replace(self.cfg, iterations=int(self.iterations.value))
            self.status.value = "training MAML…"
            self.maml = train_sinusoid_maml(cfg, progress=False)
            self.status.value = "pre-training the baseline…"
            self.pretrained = train_sinusoid_pretrained(cfg, progress=False)
            self.status.value = (f"trained {cfg.iterations} iterations · last MAML outer loss "
                                 f"{self.maml[2][-1]:.3f}, pretrained loss "
                                 f"{self.pretrained[2][-1]:.3f}")
            self.redraw()
        finally:
            self.button.disabled = False

    def figure(self):
        from ..viz.meta import sinusoid_figure

        tasks = sample_sinusoid_tasks(1, self.k_shot.value, 1,
                                      torch.Generator().manual_seed(1000 + self.task.value))
        grid = torch.linspace(*X_RANGE, 200)
        k, alpha = self.steps.value, self.alpha.value
        curves = {}
        for name, trained in (("MAML", self.maml), ("pretrained", self.pretrained)):
            model, params, _ = trained
            fits = adapted_curves(model, params, tasks, alpha, sorted({0, k}), grid)
            curves[f"{name}, after {k} step(s)"] = fits[k][0]
            if k:
                curves[f"{name}, before adapting"] = fits[0][0]
        return sinusoid_figure(grid, tasks.curve(grid)[0], tasks.support_x[0],
                               tasks.support_y[0], curves,
                               f"A = {tasks.amplitude[0]:.2f}, φ = {tasks.phase[0]:.2f} · "
                               f"α = {alpha:.3g}, k = {k}")

    def redraw(self, _=None) -> None:
        if self.maml is None:
            return
        _show(self.out, self.figure())


def meta_paths_widget(theta0=(3.0, -2.5), optima=((1.0, 1.0), (-1.5, 0.5), (0.0, -1.0))):
    """Sliders for ε, α, k and the number of meta-steps; draws Reptile, FOMAML and MAML paths.
    (Explicit sliders and ``_show`` rather than ``ipywidgets.interactive``, which draws by
    capturing the cell's output: see ``widgets.fewshot._show``.)"""
    import ipywidgets as w

    from ..viz.meta import paths_2d_figure

    epsilon = w.FloatSlider(0.5, min=0.05, max=1.0, step=0.05, description="epsilon")
    inner_lr = w.FloatSlider(0.5, min=0.05, max=1.0, step=0.05, description="inner_lr")
    inner_steps = w.IntSlider(1, min=1, max=10, description="inner_steps")
    meta_steps = w.IntSlider(8, min=1, max=40, description="meta_steps")
    out = w.Output()

    def redraw(_=None):
        e, a, k, m = epsilon.value, inner_lr.value, inner_steps.value, meta_steps.value
        _show(out, paths_2d_figure({
            "Reptile": reptile_path_2d(theta0, optima, e, m, a, k),
            "first-order MAML": maml_path_2d(theta0, optima, e, m, a, k, first_order=True),
            "MAML": maml_path_2d(theta0, optima, e, m, a, k),
        }, optima))

    for s in (epsilon, inner_lr, inner_steps, meta_steps):
        s.observe(redraw, names="value")
    redraw()
    return w.VBox([epsilon, inner_lr, inner_steps, meta_steps, out])


class MetaTrainer:
    """A "train N iterations" button for one algorithm on image tasks, with a live loss plot
    and the test accuracy ± 95% CI after each chunk. Each click continues from the current θ
    (Adam's state and Reptile's ε schedule restart with every chunk).

    ``MetaTrainer.menu(train, test, **changes)`` adds a menu of every algorithm in
    ``meta.registry``; choosing one starts a fresh learner with that algorithm's paper setting
    (plus ``changes``)."""

    def __init__(self, cfg: MetaConfig, train: ClassImages, test: ClassImages,
                 device: str = "cpu", eval_tasks: int = 100, plot_every: int = 10,
                 changes: dict | None = None):
        import ipywidgets as w

        self.train_data, self.test_data, self.changes = train, test, changes
        self.device, self.eval_tasks, self.plot_every = device, eval_tasks, plot_every
        self.result: dict | None = None
        self.iterations = w.IntText(cfg.iterations, description="iterations")
        self.button = w.Button(button_style="primary")
        self.status = w.Label()
        self.out = w.Output()
        self.button.on_click(self.on_train)
        row = [self.iterations, self.button, self.status]
        if changes is not None:
            self.algorithm = w.Dropdown(options=[(f"{a.name}: {a.help}", a.name)
                                                 for a in ALGORITHMS.values()],
                                        value=cfg.algorithm, description="algorithm")
            self.algorithm.observe(lambda ch: self.reset(config_for(ch["new"], **self.changes)),
                                   names="value")
            row.insert(0, self.algorithm)
        self.view = w.VBox([w.HBox(row), self.out])
        self.reset(cfg)

    @classmethod
    def menu(cls, train: ClassImages, test: ClassImages, algorithm: str = "maml",
             device: str = "cpu", eval_tasks: int = 100, **changes) -> MetaTrainer:
        """A trainer with an algorithm menu generated from the registry; ``changes`` apply to
        every algorithm's paper setting."""
        return cls(config_for(algorithm, **changes), train, test, device, eval_tasks,
                   changes=changes)

    def reset(self, cfg: MetaConfig) -> None:
        """A fresh learner for ``cfg`` (history and results cleared)."""
        self.cfg, self.learner = cfg, new_learner(cfg, self.device)
        self.history: dict[str, list[float]] = {"loss": [], "accuracy": [], "step": []}
        self.done, self.result, self._plotted = 0, None, 0
        self.button.description = f"train {cfg.algorithm}"
        self.status.value = "untrained"

    def _live(self, it: int, loss: float, acc: float) -> None:
        step = self.done + it
        self.history["loss"].append(loss)
        self.history["accuracy"].append(acc)
        self.history["step"].append(step)
        if step - self._plotted >= self.plot_every:       # Reptile reports every 10th iteration
            from ..viz.meta import learning_curves_figure

            self._plotted = step
            _show(self.out, learning_curves_figure(
                {"query loss": self.history["loss"],
                 "query accuracy": self.history["accuracy"]}, "loss / accuracy",
                smooth=self.plot_every,
                steps={k: self.history["step"] for k in ("query loss", "query accuracy")}))

    def on_train(self, _=None) -> None:
        self.button.disabled = True
        self.status.value = "training…"
        try:
            self.learner.config = dataclasses.replace(
                self.cfg, iterations=int(self.iterations.value), seed=self.cfg.seed + self.done)
            history = meta_train(self.learner, self.train_data, None, self.device,
                                 progress=False, callback=self._live)
            self.done += history["iterations"]
            self.result = meta_test(self.learner, self.test_data, self.eval_tasks)
            self.status.value = (f"{self.done} iterations · test "
                                 f"{self.cfg.n_way}-way {self.cfg.k_shot}-shot "
                                 f"{100 * self.result['accuracy']:.1f} ± "
                                 f"{100 * self.result['ci95']:.1f} % "
                                 f"({self.result['tasks']} tasks)")
        finally:
            self.button.disabled = False


class BenchmarkTable:
    """A "train all methods" button: runs ``meta.bench.compare_methods`` and shows the table
    next to the published numbers."""

    COLUMNS = ("method", "accuracy", "ci95", "seconds", "iterations", "paper")

    def __init__(self, configs: dict[str, MetaConfig], train: ClassImages, test: ClassImages,
                 device: str = "cpu", protonet_iterations: int | None = None,
                 test_tasks: int = 100):
        import ipywidgets as w

        self.configs, self.train_data, self.test_data = configs, train, test
        self.device, self.protonet_iterations = device, protonet_iterations
        self.test_tasks = test_tasks
        self.rows: list[dict] = []
        self.button = w.Button(description="train all methods", button_style="primary")
        self.status = w.Label(", ".join((["protonet"] if protonet_iterations else [])
                                        + list(configs)))
        self.out = w.Output()
        self.button.on_click(self.on_run)
        self.view = w.VBox([w.HBox([self.button, self.status]), self.out])

    def markdown(self) -> str:
        """The last results as a Markdown table, accuracy in percent."""
        from ..viz.meta import results_table

        shown = [{**r, "accuracy": f"{100 * r['accuracy']:.1f}",
                  "ci95": f"± {100 * r['ci95']:.1f}", "seconds": f"{r['seconds']:.1f}"}
                 for r in self.rows]
        return results_table(shown, self.COLUMNS)

    def on_run(self, _=None) -> None:
        from IPython.display import Markdown

        from ..meta.bench import compare_methods

        self.button.disabled = True
        self.status.value = "training…"
        try:
            self.rows = compare_methods(self.configs, self.train_data, self.test_data,
                                        self.device, self.protonet_iterations, self.test_tasks)
            _show(self.out, Markdown(self.markdown()))
            self.status.value = "done"
        finally:
            self.button.disabled = False
