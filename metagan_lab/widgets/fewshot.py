"""Widgets for notebook 01: an episode explorer and a ProtoNet trainer with a live plot.

Thin views: sampling is ``tasks.sample_episode``, training is ``fewshot.train_protonet``,
evaluation is ``fewshot.evaluate_protonet``; figures come from ``viz.fewshot``.
"""

from __future__ import annotations

import io

import torch

from ..data.images import ClassImages
from ..fewshot.protonet import protonet_logits, prototypes
from ..fewshot.train import ProtoNetConfig, evaluate_protonet, train_protonet
from ..models.conv4 import Conv4
from ..tasks.episodes import sample_episode


def _show(out, obj) -> None:
    """Make an ``ipywidgets.Output`` show ``obj`` alone: a matplotlib Figure (rendered to PNG here,
    then closed) or anything IPython can display (``Markdown``…); ``None`` empties it.

    This sets the widget's ``outputs`` trait on the kernel side: one state update, the same
    picture in a browser, safe from a background thread. It does not use
    ``with out: clear_output(wait=True); display(obj)``, which relies on the front end capturing
    the messages of the running cell. Under nbclient (``nbconvert --execute``, nbval) that
    capture is mimicked by an object that echoes every captured output (and every clear) back
    to the kernel on the shell socket while nbclient awaits the cell's ``execute_reply`` on
    that same socket; the wake-up can be lost and the cell then sits, kernel idle, until its
    timeout (jupyter/nbclient#312).
    """
    if obj is None:
        out.outputs = ()
        return
    if hasattr(obj, "savefig"):                    # a matplotlib Figure
        import base64

        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        obj.savefig(buf, format="png", bbox_inches="tight")
        plt.close(obj)
        data = {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"),
                "text/plain": repr(obj)}
        metadata = {}
    else:
        from IPython.core.interactiveshell import InteractiveShell

        data, metadata = InteractiveShell.instance().display_formatter.format(obj)
    out.outputs = ({"output_type": "display_data", "data": data, "metadata": metadata},)


def episode_explorer(data: ClassImages):
    """Sliders for ways, shots, queries and seed; each move re-draws the episode (cheap)."""
    import ipywidgets as w

    from ..viz.fewshot import episode_figure

    ways = w.IntSlider(5, min=2, max=min(20, data.n_classes), description="ways N")
    shots = w.IntSlider(1, min=1, max=5, description="shots K")
    queries = w.IntSlider(3, min=1, max=5, description="queries Q")
    seed = w.IntSlider(0, min=0, max=100, description="seed")
    out = w.Output()
    label = w.Label()

    def redraw(_=None):
        gen = torch.Generator().manual_seed(seed.value)
        ep = sample_episode(data, ways.value, shots.value, queries.value, 1, gen)
        label.value = (f"support_x {tuple(ep.support_x.shape)} · query_x "
                       f"{tuple(ep.query_x.shape)} · labels 0..{ways.value - 1}")
        _show(out, episode_figure(ep, max_query=queries.value))

    for s in (ways, shots, queries, seed):
        s.observe(redraw, names="value")
    redraw()
    return w.VBox([w.HBox([ways, shots]), w.HBox([queries, seed]), label, out])


class ProtoNetTrainer:
    """A "train N steps" button with a live loss/accuracy plot and a test-accuracy readout.

    Training continues from the current encoder at every click; heavy work happens only on
    the button, never on slider moves.
    """

    def __init__(self, train: ClassImages, test: ClassImages, device: str = "cpu",
                 plot_every: int = 10, eval_episodes: int = 100):
        import ipywidgets as w

        self.train_data, self.test_data, self.device = train, test, device
        self.plot_every, self.eval_episodes = plot_every, eval_episodes
        self.encoder = Conv4()
        self.history: dict[str, list[float]] = {"loss": [], "accuracy": []}
        self.steps = w.IntSlider(100, min=10, max=1000, step=10, description="steps")
        self.ways = w.IntSlider(5, min=2, max=20, description="train ways")
        self.distance = w.Dropdown(options=["euclidean", "cosine"], description="distance")
        self.button = w.Button(description="train N steps", button_style="primary")
        self.reset = w.Button(description="reset")
        self.status = w.Label("untrained encoder")
        self.curves, self.embedding = w.Output(), w.Output()
        self.button.on_click(self.on_train)
        self.reset.on_click(self.on_reset)
        self.distance.observe(self.on_reset, names="value")
        self.view = w.VBox([w.HBox([self.steps, self.ways, self.distance]),
                            w.HBox([self.button, self.reset, self.status]),
                            w.HBox([self.curves, self.embedding])])

    def on_reset(self, _=None) -> None:
        self.encoder = Conv4()
        self.history = {"loss": [], "accuracy": []}
        self.status.value = "untrained encoder"
        _show(self.curves, None)
        _show(self.embedding, None)

    def _live(self, step: int, loss: float, acc: float) -> None:
        self.history["loss"].append(loss)
        self.history["accuracy"].append(acc)
        if (step + 1) % self.plot_every == 0:
            from ..viz.fewshot import training_curves

            _show(self.curves, training_curves(self.history, smooth=self.plot_every))

    def on_train(self, _=None) -> None:
        from ..viz.fewshot import embedding_figure

        self.button.disabled = True
        self.status.value = "training…"
        try:
            cfg = ProtoNetConfig(n_way=self.ways.value, n_query=5, iterations=self.steps.value,
                                 distance=self.distance.value, seed=len(self.history["loss"]))
            self.encoder, _ = train_protonet(cfg, self.train_data, self.device, progress=False,
                                             callback=self._live, encoder=self.encoder)
            res = evaluate_protonet(self.encoder, self.test_data, 5, 1, 15, self.eval_episodes,
                                    self.distance.value, device=self.device)
            # the average over many test episodes, not the one episode drawn on the right
            self.status.value = (f"{len(self.history['loss'])} steps · average test accuracy over "
                                 f"{self.eval_episodes} 5-way 1-shot episodes: "
                                 f"{100 * res['accuracy']:.1f} ± {100 * res['ci95']:.1f} % "
                                 f"(95 % CI)")
            _show(self.embedding, self.embedding_plot(embedding_figure))
        finally:
            self.button.disabled = False

    @torch.no_grad()
    def embedding_plot(self, embedding_figure):
        ep = sample_episode(self.test_data, 5, 1, 15, 1, torch.Generator().manual_seed(0))
        self.encoder.eval()
        x = torch.cat([ep.support_x[0], ep.query_x[0]]).to(self.device)
        emb = self.encoder(x).cpu()
        protos = prototypes(emb[:5], ep.support_y[0], 5)
        logits = protonet_logits(emb[5:], protos, self.distance.value)
        acc = (logits.argmax(-1) == ep.query_y[0]).float().mean().item()
        return embedding_figure(emb[5:], ep.query_y[0], protos,
                                f"one test episode (5-way 1-shot): accuracy {100 * acc:.0f} %")
