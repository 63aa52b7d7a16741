""""Load or train": a lesson opens on the shipped model and its measured result; a button retrains.

``LoadOrTrain("maml-5w1s", split)`` loads the shipped model at once (``.model``), shows its
manifest card (result ± CI, budget, command), re-checks it on a few new test tasks on a button,
and retrains it from scratch with the same configuration on another button, saying beforehand how
long the shipped run took. The pure parts (``card_html``, ``retrain_estimate``, ``check``,
``retrain``) are what tests call.
"""

from __future__ import annotations

import html
import time

import torch

from ..data.splits import MetaSplit
from ..pretrained import entry, load_checkpoint
from ..runs import build_model


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def card_html(name: str) -> str:
    """The manifest entry of ``name`` as a short HTML card."""
    e = entry(name)
    r = e["result"]
    result = (f"<b>{100 * r['accuracy']:.2f} ± {100 * r['ci95']:.2f} %</b> query accuracy on "
              f"{r['tasks']} Omniglot test tasks" if "accuracy" in r else
              html.escape(e.get("summary") or ", ".join(f"{k} {v}" for k, v in r.items())))
    protocol = e.get("eval", {})
    steps = f", {protocol['inner_steps']} inner steps" if "inner_steps" in protocol else ""
    return (f"<b>{html.escape(e.get('title', name))}</b> · {e['task']} · shipped model "
            f"<code>{name}</code><br>{result}{steps} (measured on the shipped file)<br>"
            f"trained {e['iterations']} iterations in {_minutes(e['train_seconds'])} on "
            f"{html.escape(e['device'])}<br><small>command: <code>"
            f"{html.escape(e['command'])}</code></small>")


def retrain_estimate(name: str, device: torch.device | str) -> str:
    """What the retrain button says about its cost, from the shipped run's own wall time."""
    e = entry(name)
    cpu = _minutes(e["train_seconds"])
    if torch.device(device).type == "cuda":
        return f"on this GPU: minutes (not measured); the shipped run took {cpu} on a 2-core CPU"
    return f"about {cpu} on a 2-core CPU, as the shipped run did"


class LoadOrTrain:
    """The shipped model ``name`` with a card, a re-check button and a retrain button."""

    def __init__(self, name: str, split: MetaSplit, device: str | torch.device = "cpu",
                 check_tasks: int = 50):
        import ipywidgets as w

        self.name, self.split, self.device = name, split, torch.device(device)
        self.check_tasks = check_tasks
        self.checkpoint = load_checkpoint(f"pretrained:{name}")
        self.model = build_model(self.checkpoint, self.device)
        self.source = "shipped"
        self.checks = 0
        self.card = w.HTML(card_html(name))
        self.check_button = w.Button(description=f"check on {check_tasks} new tasks",
                                     icon="check")
        self.retrain_button = w.Button(description="retrain from scratch", icon="play",
                                       button_style="warning",
                                       tooltip=retrain_estimate(name, self.device))
        self.status = w.HTML(f"retraining takes {retrain_estimate(name, self.device)}.")
        self.check_button.on_click(lambda _: self.check())
        self.retrain_button.on_click(lambda _: self.retrain())
        self.view = w.VBox([self.card, w.HBox([self.check_button, self.retrain_button]),
                            self.status])

    def _domain_note(self) -> str:
        source = self.split.test.source
        return "" if source == "omniglot" else (
            f" — on '{source}', not Omniglot: the shipped models were trained on Omniglot, "
            "so this measures transfer to another domain")

    def check(self, tasks: int | None = None) -> dict[str, float]:
        """Re-evaluate the current model on new test tasks (another seed than the manifest's)."""
        from ..pretrained import evaluate

        protocol = entry(self.name)["eval"]
        self.checks += 1                        # every check draws other tasks than the last
        start = time.perf_counter()
        result = evaluate(self.model, self.split.test, protocol, tasks or self.check_tasks,
                          seed=protocol["seed"] + self.checks, device=self.device)
        self.status.value = (f"check {self.checks}: {self.source} model, {result['tasks']} new "
                             f"test tasks: "
                             f"<b>{100 * result['accuracy']:.1f} ± {100 * result['ci95']:.1f} "
                             f"%</b> ({time.perf_counter() - start:.1f} s){self._domain_note()}")
        return result

    def retrain(self, **overrides) -> dict:
        """Train the same configuration from scratch here (``overrides`` shorten it, e.g.
        ``iterations=…``, ``max_seconds=…``; in quick mode, 3 iterations), then use the new
        model; returns its test result."""
        import dataclasses

        from .. import quick_mode

        if quick_mode() and not overrides:          # rehearsals and CI: a few iterations only
            overrides = {"iterations": 3} | ({} if self.checkpoint["kind"] == "protonet"
                                             else {"max_seconds": None, "val_every": 3})
        self.retrain_button.disabled = True
        self.status.value = f"training… ({retrain_estimate(self.name, self.device)})"
        start = time.perf_counter()
        try:
            cfg = self.checkpoint["config"]
            if self.checkpoint["kind"] == "protonet":
                from ..fewshot.train import ProtoNetConfig, train_protonet

                pcfg = dataclasses.replace(ProtoNetConfig(**cfg), **overrides)
                self.model, _ = train_protonet(pcfg, self.split.train, self.device)
            else:
                from ..meta.registry import config_for
                from ..meta.train import meta_train, new_learner

                mcfg = dataclasses.replace(config_for(**cfg), **overrides)
                self.model = new_learner(mcfg, self.device)
                meta_train(self.model, self.split.train, self.split.val, self.device)
            self.source = f"retrained ({_minutes(time.perf_counter() - start)})"
        finally:
            self.retrain_button.disabled = False
        return self.check()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.view)
