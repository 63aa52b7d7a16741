"""Widgets for notebooks 06 (GAN lab) and 07 (few-shot generation). Thin views: training is
``gan.train.train_steps``, adaptation ``gan.fewshot.adapt_gan``, CycleGAN ``gan.cyclegan``;
figures come from ``viz.gan``. Heavy work runs on buttons (or in bounded chunks while playing),
never on slider moves."""

from __future__ import annotations

import contextlib
import re
import threading
import time
import warnings

import torch

from ..gan.models import ToyDiscriminator, ToyGenerator
from ..gan.toy2d import TOY_DISTRIBUTIONS, toy_sampler
from ..gan.train import GANConfig, make_gan_state, reconfigure, toy_real_sampler, train_steps
from .fewshot import _show  # sets Output.outputs; see there why not `with out: display(…)`


def toy_lab_state(distribution: str = "ring", cfg: GANConfig | None = None, seed: int = 0):
    """A fresh GAN on a 2-D distribution (also what the lab's reset button builds)."""
    cfg = cfg or GANConfig(batch_size=128)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G, D = ToyGenerator(), ToyDiscriminator()
    return make_gan_state(G, D, toy_real_sampler(toy_sampler(distribution)), cfg)


# status lines and notebook notices: a warning (mode collapse) is amber with ⚠, an error red
_BOX = {"info": ("", ""),
        "warning": ("⚠ ", "background:#fff4e5;border-left:4px solid #f0a020;color:#5f3b00;"),
        "error": ("✖ ", "background:#fdecea;border-left:4px solid #d32f2f;color:#611a15;")}


def notice_html(message: str, level: str = "info") -> str:
    """``message`` as one line of HTML styled by ``level`` (info, warning, error)."""
    import html

    icon, style = _BOX[level]
    return (f'<div style="{style}padding:2px 8px;margin:2px 0;border-radius:2px">'
            f"{icon}{html.escape(message)}</div>")


@contextlib.contextmanager
def warnings_as_notices():
    """Run a block, then show each warning it raised as an amber ⚠ box (not as red stderr)."""
    from IPython.display import HTML, display

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
    for w in caught:
        display(HTML(notice_html(f"{w.category.__name__}: {w.message}", "warning")))


class GANLab:
    """GAN Lab in a notebook: loss, α_G, α_D, D steps per G step, R1 γ; play / pause / step /
    reset. Play trains in a background thread (the kernel stays free) and redraws about ``fps``
    times a second, training as many steps as fit between frames (at most ``chunk``); it stops
    by itself after ``max_steps``. The step button trains ``chunk`` steps.

    The figure (``viz.gan.GANLabFigure``) is built once; a frame moves its artists and sends
    the rendered PNG to an ``ipywidgets.Image``."""

    def __init__(self, distribution: str = "ring", chunk: int = 25, max_steps: int = 3000,
                 fps: float = 25.0):
        import ipywidgets as w

        self.chunk, self.max_steps, self.frame_seconds = chunk, max_steps, 1.0 / fps
        self.distribution = w.Dropdown(options=sorted(TOY_DISTRIBUTIONS), value=distribution,
                                       description="target")
        self.loss = w.Dropdown(options=["minimax", "nonsaturating", "least_squares", "wgan_gp",
                                        "hinge"], value="nonsaturating", description="loss")
        self.lr_g = w.FloatLogSlider(1e-3, base=10, min=-5, max=-1, description="α_G")
        self.lr_d = w.FloatLogSlider(1e-3, base=10, min=-5, max=-1, description="α_D")
        self.d_steps = w.IntSlider(1, min=1, max=10, description="D steps/G")
        self.r1_gamma = w.FloatSlider(0.0, min=0.0, max=10.0, step=0.5, description="R1 γ")
        self.play_button = w.Button(description="▶ play", button_style="success")
        self.pause_button = w.Button(description="❚❚ pause")
        self.step_button = w.Button(description=f"step ×{chunk}")
        self.reset_button = w.Button(description="reset", button_style="warning")
        self.status = w.HTML()
        self.image = w.Image(format="png")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.state = self.view = None
        self.frames = 0                                # frames rendered (the benchmark reads it)
        # The library warns once on collapse; here the status line shows it (amber ⚠) instead.
        # The filter matches warnings attributed to this module (train_steps' caller) only.
        warnings.filterwarnings("ignore", message=r".*mode collapse", category=RuntimeWarning,
                                module=re.escape(__name__))
        self.reset()
        for s in (self.loss, self.lr_g, self.lr_d, self.d_steps, self.r1_gamma):
            s.observe(self._on_setting, names="value")
        self.distribution.observe(lambda _: self.reset(), names="value")
        self.play_button.on_click(lambda _: self.play())
        self.pause_button.on_click(lambda _: self.pause())
        self.step_button.on_click(lambda _: self.step())
        self.reset_button.on_click(lambda _: self.reset())
        self.widget = w.VBox([
            w.HBox([self.distribution, self.loss, self.d_steps]),
            w.HBox([self.lr_g, self.lr_d, self.r1_gamma]),
            w.HBox([self.play_button, self.pause_button, self.step_button, self.reset_button]),
            self.status, self.image])

    def _cfg_values(self) -> dict:
        return dict(loss=self.loss.value, lr_g=self.lr_g.value, lr_d=self.lr_d.value,
                    d_steps=self.d_steps.value, r1_gamma=self.r1_gamma.value)

    def _say(self, message: str, level: str = "info") -> None:
        self.status.value = notice_html(message, level)

    def _on_setting(self, _=None) -> None:
        with self._lock:
            reconfigure(self.state, **self._cfg_values())
        self._say(f"settings changed at step {self.state.step}")

    def redraw(self) -> None:
        """One frame: move the figure's artists to the current state, send its PNG."""
        from ..viz.gan import GANLabFigure

        with self._lock:
            if self.view is None:
                self.view = GANLabFigure(self.state, pyplot=False)
            else:
                self.view.update(self.state)
            png = self.view.png()
        self.image.value = png
        self.frames += 1

    def reset(self) -> None:
        self.pause()
        self.state = toy_lab_state(self.distribution.value, GANConfig(batch_size=128,
                                                                      **self._cfg_values()))
        self._say("reset: step 0")
        self.redraw()

    def train(self, n: int) -> bool:
        """Train ``n`` steps and update the status line; False after an error (non-finite
        loss, or collapse with ``stop_on_collapse``), which also stops play."""
        try:
            with self._lock:
                train_steps(self.state, n)
        except RuntimeError as exc:                    # NonFiniteLossError, ModeCollapseError
            self._say(str(exc), "error")
            self._stop.set()
            return False
        if self.state.collapse_step is not None:
            self._say(f"step {self.state.step} · mode collapse reported at step "
                      f"{self.state.collapse_step}: try another loss, a lower α_G, more D steps "
                      "or R1", "warning")
        else:
            self._say(f"step {self.state.step}")
        return True

    def step(self) -> None:
        """Train one chunk and redraw."""
        self.train(self.chunk)
        self.redraw()

    def _run(self) -> None:
        steps, per_step = 1, None                      # per_step: seconds per training step
        while not self._stop.is_set() and self.state.step < self.max_steps:
            t0 = time.perf_counter()
            ok = self.train(min(steps, self.max_steps - self.state.step))
            t1 = time.perf_counter()
            self.redraw()
            if not ok:
                return
            drawn = time.perf_counter() - t1
            measured = (t1 - t0) / steps
            per_step = measured if per_step is None else 0.7 * per_step + 0.3 * measured
            budget = max(self.frame_seconds - drawn, drawn)  # train at least as long as drawing
            steps = max(1, min(self.chunk, int(budget / per_step)))

    def play(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def pause(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


class FewShotAdapter:
    """Sliders for K (1–10), adaptation steps and inner lr α, a class picker, and an "adapt"
    button that adapts every initialisation on the same K shots and shows their samples."""

    def __init__(self, G, D, inits: dict, test_images: torch.Tensor,
                 adapt_methods: tuple[str, ...] | None = None,
                 inner_lr: float = 0.05, n_samples: int = 10, loss: str = "nonsaturating",
                 gp_lambda: float = 10.0):
        """``adapt_methods``: the names in ``inits`` that take the adaptation steps; by default
        ``gan.experiment.ADAPTED`` (every "<method>_adapted" meta-init, scratch and
        pretrained_finetuned), so a MAML or FOMAML init is adapted like Reptile's. ``loss`` and
        ``gp_lambda``: the GAN loss the inits were trained with (``cfg.loss``, ``cfg.gp_lambda``),
        so a WGAN-GP init adapts with its own loss."""
        import ipywidgets as w

        from ..gan.experiment import ADAPTED

        self.G, self.D, self.inits, self.test_images = G, D, inits, test_images
        self.adapt_methods = ADAPTED if adapt_methods is None else tuple(adapt_methods)
        self.n_samples, self.loss, self.gp_lambda = n_samples, loss, gp_lambda
        self.k_shot = w.IntSlider(4, min=1, max=10, description="K shots")
        self.steps = w.IntSlider(10, min=0, max=50, description="adapt steps")
        self.inner_lr = w.FloatLogSlider(inner_lr, base=10, min=-3, max=0, description="α")
        self.class_idx = w.IntSlider(0, min=0, max=test_images.shape[0] - 1, description="class")
        self.button = w.Button(description="adapt", button_style="primary")
        self.out = w.Output()
        self.button.on_click(lambda _: self.show())
        self.widget = w.VBox([w.HBox([self.k_shot, self.steps]),
                              w.HBox([self.inner_lr, self.class_idx, self.button]), self.out])
        self.show()                                    # the first figure, before any display

    def rows(self) -> dict[str, torch.Tensor]:
        """{'K shots': shots, method: samples} for the current settings (pure computation)."""
        from ..gan.fewshot import adapt_gan, generate

        imgs = self.test_images[self.class_idx.value].unsqueeze(1).float() / 255.0
        shots = imgs[: self.k_shot.value].to(next(iter(self.inits.values()))[0]["fc.bias"].device)
        rows = {f"{self.k_shot.value} shots": shots.cpu()}
        for name, (tg, td) in self.inits.items():
            if name in self.adapt_methods:
                tg, _ = adapt_gan(self.G, self.D, tg, td, shots, self.steps.value,
                                  self.inner_lr.value, self.loss, gp_lambda=self.gp_lambda)
            rows[name] = generate(self.G, tg, self.n_samples, seed=1).cpu()
        return rows

    def show(self) -> None:
        from ..viz.gan import image_rows_figure

        _show(self.out, image_rows_figure(self.rows(), nrow=self.n_samples))

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


class CycleExplorer:
    """A λ_cyc slider and a "train" button: trains a fresh small CycleGAN for ``steps`` steps
    and shows x → G(x) → F(G(x)) side by side."""

    def __init__(self, domain_a: torch.Tensor, domain_b: torch.Tensor, steps: int = 200,
                 n_show: int = 8, width: int = 16):
        import ipywidgets as w

        self.domain_a, self.domain_b = domain_a, domain_b
        self.n_show, self.width = n_show, width
        self.lambda_cyc = w.FloatSlider(10.0, min=0.0, max=20.0, step=1.0, description="λ_cyc")
        self.steps = w.IntSlider(steps, min=10, max=max(steps * 4, 20), step=10,
                                 description="steps")
        self.button = w.Button(description="train", button_style="primary")
        self.out = w.Output()
        self.button.on_click(lambda _: self.show())
        self.widget = w.VBox([w.HBox([self.lambda_cyc, self.steps, self.button]), self.out])

    def rows(self) -> tuple[dict[str, torch.Tensor], list[dict[str, float]]]:
        from ..gan.cyclegan import CycleGANConfig, make_cyclegan, train_cyclegan, translate_cycle

        state = make_cyclegan(CycleGANConfig(lambda_cyc=self.lambda_cyc.value, width=self.width))
        history = train_cyclegan(state, self.domain_a, self.domain_b, self.steps.value)
        x = self.domain_a[torch.linspace(0, len(self.domain_a) - 1, self.n_show).long()]
        gx, fgx = translate_cycle(state.model, x)
        return {"x (thin)": x, "G(x)": gx, "F(G(x))": fgx}, history

    def show(self) -> None:
        from ..viz.gan import image_rows_figure

        rows, history = self.rows()
        _show(self.out, image_rows_figure(rows, nrow=self.n_show,
                                          title=f"λ_cyc = {self.lambda_cyc.value:g}: cycle "
                                                f"loss {history[-1]['cycle']:.3f}"))

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
