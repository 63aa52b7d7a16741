"""Runs: every checkpoint format of metagan_lab, and what can be done with a checkpoint.

    >>> from metagan_lab import runs
    >>> runs.describe("pretrained:maml-5w1s")["algorithm"]
    'maml'
    >>> encoder = runs.build_model("runs/protonet.pt")            # a Conv-4 encoder f_φ
    >>> runs.evaluate("runs/gan.pt", runs.EvalOptions(samples=200))["fd"]
    >>> runs.sample("pretrained:restorer-bias-free", "restored.png")

Kinds (``runs.KINDS``): protonet, meta (MAML family; the format is ``meta.train``'s), episodic
(every method of ``metagan_lab.methods``: Matching, Relation, Proto-MAML, fine-tuned head,
SimpleShot, MANN, HyperNet), gan, fewshot_gan, vae, cyclegan, restorer. Each kind's module in
``runs/kinds/`` builds its checkpoint dict (``runs.kinds.KINDS[kind].checkpoint(…)``), rebuilds
its model, describes, evaluates and samples it. ``save`` / ``load`` check the kind and refuse NaN
or infinite weights; ``prepare_out`` checks a run's ``--out`` before any training;
``write_result`` writes a result JSON atomically; ``load_split`` is the one data loader of every
command.
"""

from __future__ import annotations

from .data import DataOptions, check_fits, load_split
from .evaluation import default_sample_path, evaluate, sample
from .formats import (
                      build_model,
                      check,
                      describe,
                      evaluate_pretrained,
                      load,
                      load_pretrained,
                      protocol,
                      save,
)
from .kinds import KINDS
from .options import EvalOptions
from .out import prepare_out, write_png, write_result

__all__ = ["KINDS", "DataOptions", "EvalOptions", "build_model", "check", "check_fits",
           "default_sample_path", "describe", "evaluate", "evaluate_pretrained", "load",
           "load_pretrained", "load_split", "prepare_out", "protocol", "sample", "save",
           "write_png", "write_result"]
