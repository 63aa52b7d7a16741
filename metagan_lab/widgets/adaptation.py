"""The Omniglot adaptation lab: α, k and K sliders acting on meta-learned models at test time.

A thin view over ``meta.adaptation``: every redraw reads cached traces (a trace holds the query
loss/accuracy after each step and each task's latest θ^(k), so a larger k only adds the missing
steps). The figure is drawn with Matplotlib's Agg canvas into an ``ipywidgets.Image``: no
``Output`` widget, nothing that depends on when the front end displays the widget.
"""

from __future__ import annotations

import io
import time

import torch

from ..data.images import ClassImages
from ..meta.adaptation import AdaptationTrace, adaptation_trace, extend_trace, scale_inner_lr
from ..meta.train import MetaLearner
from ..tasks.episodes import sample_episode
from ..types import Episode


class AdaptationLab:
    """Sliders: model, α (Meta-SGD: a scale on its learned α), inner steps k, shots K; a button
    draws new tasks. ``update()`` is what every control calls; tests call it directly."""

    def __init__(self, learners: dict[str, MetaLearner], test: ClassImages, tasks: int = 10,
                 queries: int = 5, max_steps: int = 20, device: str = "cpu"):
        import ipywidgets as w

        if not learners:
            raise ValueError("AdaptationLab needs at least one meta-learned model")
        self.learners, self.test, self.tasks, self.queries = learners, test, tasks, queries
        self.device = device
        self._episodes: dict[tuple, Episode] = {}
        self._traces: dict[tuple, AdaptationTrace] = {}
        self.seed = 0
        first = next(iter(learners.values()))
        self.model = w.Dropdown(options=list(learners), description="model")
        self.alpha = w.FloatLogSlider(value=self._trained_alpha(first), base=10, min=-3, max=1.3,
                                      step=0.05, description="α", continuous_update=False,
                                      readout_format=".3g")
        self.steps = w.IntSlider(value=first.config.eval_inner_steps, min=0, max=max_steps,
                                 description="steps k", continuous_update=False)
        self.shots = w.IntSlider(value=1, min=1, max=5, description="shots K",
                                 continuous_update=False)
        self.new_tasks = w.Button(description="new tasks", icon="refresh")
        self.reset_alpha = w.Button(description="α as trained")
        self.status = w.HTML()
        self.image = w.Image(format="png", layout=w.Layout(width="100%"))
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=(12, 3.6), layout="constrained")
        for control in (self.alpha, self.steps, self.shots):
            control.observe(self.update, names="value")
        self.model.observe(self._on_model, names="value")
        self.new_tasks.on_click(self._on_new_tasks)
        self.reset_alpha.on_click(self._on_reset_alpha)
        self.view = w.VBox([w.HBox([self.model, self.new_tasks, self.reset_alpha]),
                            w.HBox([self.alpha, self.steps, self.shots]), self.status,
                            self.image])
        self.update()

    @classmethod
    def from_pretrained(cls, test: ClassImages, names=("maml-5w1s", "metasgd-5w1s", "anil-5w1s"),
                        **kwargs) -> AdaptationLab:
        """The lab on shipped models (``metagan_lab.pretrained``)."""
        from ..runs import load_pretrained

        device = kwargs.get("device", "cpu")
        return cls({n: load_pretrained(n, device) for n in names}, test, **kwargs)

    @property
    def learner(self) -> MetaLearner:
        return self.learners[self.model.value]

    @staticmethod
    def _trained_alpha(learner: MetaLearner) -> float:
        return 1.0 if learner.alphas is not None else learner.config.inner_lr

    def alpha_label(self, value: float | None = None) -> str:
        value = self.alpha.value if value is None else value
        if self.learner.alphas is not None:
            return f"{value:.3g} × learned α"
        return f"α = {value:.3g}"

    def episode(self) -> Episode:
        key = (self.shots.value, self.seed, self.learner.config.n_way)
        if key not in self._episodes:
            gen = torch.Generator().manual_seed(1000 + self.seed)
            self._episodes[key] = sample_episode(self.test, self.learner.config.n_way,
                                                 self.shots.value, self.queries, self.tasks,
                                                 gen).to(self.device)
        return self._episodes[key]

    def trace(self, alpha: float, steps: int) -> AdaptationTrace:
        """The cached trace for (model, K, tasks, α), extended to ``steps`` if shorter."""
        key = (self.model.value, self.shots.value, self.seed, round(alpha, 6))
        learner, episode = self.learner, self.episode()
        lr = scale_inner_lr(learner.inner_lr, alpha) if learner.alphas is not None else alpha
        old = self._traces.get(key)
        if old is None:
            new = adaptation_trace(learner.model, learner.params, episode, lr, steps,
                                   learner.adapted)
        elif old.steps < steps:
            new = extend_trace(learner.model, old, episode, lr, steps - old.steps,
                               learner.adapted)
        else:
            return old
        self._traces[key] = new
        return new

    def update(self, _=None) -> AdaptationTrace:
        start = time.perf_counter()
        steps, alpha = self.steps.value, self.alpha.value
        trained = self._trained_alpha(self.learner)
        trace = self.trace(alpha, steps)
        reference = self.trace(trained, steps) if abs(alpha - trained) > 1e-9 else None
        from ..viz.adaptation import adaptation_figure

        adaptation_figure(trace, self.episode(), steps, self.alpha_label(), reference,
                          f"as trained ({self.alpha_label(trained)})", fig=self.fig)
        buffer = io.BytesIO()
        self.fig.savefig(buffer, format="png", dpi=80)
        self.image.value = buffer.getvalue()
        acc = trace.accuracy[:, steps]
        cfg = self.learner.config
        self.status.value = (
            f"<b>{self.model.value}</b> ({cfg.n_way}-way, trained with α={cfg.inner_lr:g}, "
            f"k={cfg.inner_steps}) · {self.tasks} new test tasks, {self.shots.value}-shot · "
            f"after {steps} step(s) with {self.alpha_label()}: query accuracy "
            f"<b>{acc.mean():.1%}</b> (tasks: {acc.min():.0%}–{acc.max():.0%}) · "
            f"redrawn in {time.perf_counter() - start:.2f} s")
        return trace

    def _on_model(self, _=None) -> None:
        trained = self._trained_alpha(self.learner)
        if self.alpha.value != trained:
            self.alpha.value = trained              # its observer redraws
        else:
            self.update()

    def _on_reset_alpha(self, _=None) -> None:
        trained = self._trained_alpha(self.learner)
        if self.alpha.value != trained:
            self.alpha.value = trained              # its observer redraws
        else:
            self.status.value = (f"α is already the value <b>{self.model.value}</b> was trained "
                                 f"with ({self.alpha_label()}); move the α slider to compare.")

    def _on_new_tasks(self, _=None) -> None:
        self.seed += 1
        self.update()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.view)
