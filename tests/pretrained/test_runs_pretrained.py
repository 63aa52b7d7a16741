"""The shipped models through metagan_lab.runs: every file loads (finite, known kind), describes,
evaluates and samples with `metagan-lab eval|sample pretrained:<name>` (glyph data: offline)."""

from __future__ import annotations

import json

import pytest
import torch

import metagan_lab.runs.data as runs_data
from metagan_lab import runs
from metagan_lab.cli import main
from metagan_lab.data import make_glyphs
from metagan_lab.pretrained import PREFIX, manifest


@pytest.fixture(scope="module")
def glyphs():
    return make_glyphs(n_classes=200)


@pytest.fixture(autouse=True)
def small_data(glyphs, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setattr(runs_data, "load_classes", lambda *a, **k: glyphs)


def test_every_shipped_file_loads_checked_and_describes():
    for name, e in manifest().items():
        ckpt = runs.load(PREFIX + name)                       # finite, kind known, keys present
        assert ckpt["kind"] == e["kind"]
        info = runs.describe(PREFIX + name)
        assert info["kind"] == e["kind"] and info["title"] == e["title"]
        assert info["parameters"] > 0
    assert runs.protocol("pretrained:protonet-20w1s")["ways"] == 20
    assert runs.protocol("runs/protonet.pt") == {}


def test_sample_of_shipped_models(tmp_path, capsys):
    for name, n in (("restorer-fomaml", "2"), ("fewshot-gan", "3"), ("protonet-20w1s", "1"),
                    ("maml-5w1s", "1")):
        png = tmp_path / f"{name}.png"
        assert main(["sample", PREFIX + name, "--out", str(png), "--n", n, "--dataset",
                     "glyphs", "--device", "cpu", "--quiet", "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["path"] == str(png) and png.read_bytes()[:4] == b"\x89PNG", name
    assert "20-way" in info["shows"] or "5-way" in info["shows"]
    assert runs.default_sample_path("pretrained:maml-5w1s").name == "maml-5w1s_samples.png"


def test_eval_of_the_shipped_generator_and_restorer(capsys):
    assert main(["eval", "pretrained:fewshot-gan", "--dataset", "glyphs", "--episodes", "2",
                 "--samples", "8", "--device", "cpu", "--quiet", "--json"]) == 0
    fd = json.loads(capsys.readouterr().out)
    assert {"fd_reptile_adapted", "fd_meta_init", "fd_scratch",
            "fd_pretrained_finetuned"} <= fd.keys()
    assert fd["k_shot"] == 4 and fd["checkpoint"] == "pretrained:fewshot-gan"
    result = runs.evaluate("pretrained:restorer-fomaml",
                           runs.EvalOptions(episodes=2, inner_steps=1, queries=2))
    assert result["steps"] == 1 and result["psnr"]["meta-learned init"] > 15
