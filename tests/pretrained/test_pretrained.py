"""The shipped models: manifest, files, loading, and a re-evaluation of every classifier.

Reference for the re-evaluation: the manifest's accuracy was measured on 600 Omniglot test tasks
(``scripts/package_pretrained.py``); here fresh tasks (another seed) are drawn and the two
estimates must agree within the sum of their 95 % half-widths.
"""

from __future__ import annotations

import json

import pytest
import torch

from metagan_lab.cli import main
from metagan_lab.data import OmniglotNotFound, load_omniglot, meta_split
from metagan_lab.fewshot.episodic import EpisodicLearner
from metagan_lab.io import safe_load
from metagan_lab.meta.train import MetaLearner
from metagan_lab.pretrained import (
    HERE,
    entry,
    file_sha256,
    load_checkpoint,
    manifest,
    names,
    path_of,
    save_for_shipping,
)
from metagan_lab.runs import evaluate_pretrained, load_pretrained

FIELDS = {"kind", "algorithm", "task", "file", "bytes", "sha256", "command", "data", "seed",
          "iterations", "train_seconds", "wall_seconds", "device", "trained", "result", "eval"}
CLASSIFIERS = names("protonet") + names("meta") + names("episodic")


@pytest.fixture(scope="module")
def omniglot_test():
    try:
        data = load_omniglot(download=False, progress=False)
    except OmniglotNotFound as exc:
        pytest.skip(f"Omniglot is not here, so the shipped models cannot be re-evaluated ({exc})"
                    .splitlines()[0])
    return meta_split(data, "standard", rotations=True).test


def test_manifest_lists_the_promised_models_with_their_provenance():
    entries = manifest()
    for name in ("protonet-5w1s", "protonet-20w1s", "maml-5w1s", "fomaml-5w1s", "metasgd-5w1s",
                 "anil-5w1s", "reptile-5w1s"):
        assert name in entries, f"{name} is not shipped"
    for name, e in entries.items():
        assert FIELDS <= set(e), f"{name} lacks {FIELDS - set(e)}"
        assert e["command"].startswith("metagan-lab train ")
        if e["kind"] in ("protonet", "meta"):
            assert len(e["data"]["fingerprint"]) == 16


def test_files_are_small_match_their_digests_and_load_without_code():
    files = {e["file"] for e in manifest().values()}
    sizes = [(HERE / f).stat().st_size for f in files]
    assert sum(sizes) < 6 * 2**20, f"shipped models take {sum(sizes) / 2**20:.1f} MiB"
    for name in manifest():
        path = path_of(name)                                   # checks the SHA-256
        raw = safe_load(path)                                  # weights_only=True
        assert all(t.dtype == torch.float16 for t in _tensors(raw) if t.is_floating_point())


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)


def test_loaded_models_are_float32_of_the_right_type():
    for name in CLASSIFIERS:
        model = load_pretrained(name)
        if entry(name)["kind"] == "meta":
            assert isinstance(model, MetaLearner)
            assert all(p.dtype == torch.float32 for p in model.params.values())
            assert (model.alphas is not None) == (model.config.algorithm == "metasgd")
        elif entry(name)["kind"] == "episodic":
            assert isinstance(model, EpisodicLearner) and not model.model.training
            assert model.method.name == entry(name)["algorithm"]
            assert all(p.dtype == torch.float32 for p in model.model.parameters())
        else:
            assert isinstance(model, torch.nn.Module) and not model.training


def test_unknown_name_lists_the_shipped_ones():
    with pytest.raises(ValueError, match="maml-5w1s"):
        entry("maml-50w1s")


def test_a_damaged_file_is_refused(tmp_path, monkeypatch):
    name = CLASSIFIERS[0]
    e = entry(name)
    copy = tmp_path / e["file"]
    copy.write_bytes(b"not a checkpoint")
    monkeypatch.setattr("metagan_lab.pretrained.HERE", tmp_path)
    with pytest.raises(RuntimeError, match="does not match its manifest"):
        path_of(name)


def test_shipping_halves_floats_and_keeps_integers(tmp_path):
    ckpt = {"kind": "meta", "params": {"w": torch.randn(3, dtype=torch.float32)},
            "steps": torch.arange(3), "config": {"alpha": 0.5}}
    path = save_for_shipping(ckpt, tmp_path / "m.pt")
    assert safe_load(path)["params"]["w"].dtype == torch.float16
    back = load_checkpoint(path)
    assert back["params"]["w"].dtype == torch.float32 and back["steps"].dtype == torch.int64
    torch.testing.assert_close(back["params"]["w"], ckpt["params"]["w"], atol=2e-3, rtol=1e-3)
    assert file_sha256(path) == file_sha256(path)


@pytest.mark.slow
@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_shipped_classifier_reaches_its_manifest_accuracy(name, omniglot_test):
    torch.set_num_threads(1)
    e = entry(name)
    # fewer tasks where a task costs more (20 ways; Reptile's 50 Adam steps): the CI widens
    tasks = (20 if e["eval"]["ways"] >= 20 else 10 if e["eval"].get("inner_steps", 0) > 10
             else 50)
    got = evaluate_pretrained(name, omniglot_test, tasks=tasks, seed=e["eval"]["seed"] + 777)
    shipped = e["result"]
    assert abs(got["accuracy"] - shipped["accuracy"]) <= got["ci95"] + shipped["ci95"], (
        f"{name}: {got['accuracy']:.4f} ± {got['ci95']:.4f} on {tasks} new tasks, manifest "
        f"{shipped['accuracy']:.4f} ± {shipped['ci95']:.4f}")


def test_cli_lists_and_shows_the_shipped_models(capsys):
    assert main(["pretrained", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["models"]
    assert {r["name"] for r in rows} == set(manifest())
    assert main(["pretrained", "maml-5w1s", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["algorithm"] == "maml"
    assert main(["pretrained"]) == 0
    assert "eval pretrained:" in capsys.readouterr().out


def test_cli_eval_of_a_shipped_model(omniglot_test, capsys):
    assert main(["eval", "pretrained:protonet-20w1s", "--episodes", "4", "--json", "--quiet",
                 "--device", "cpu", "--dataset", "omniglot"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_way"] == 20 and out["episodes"] == 4        # the manifest's ways by default


@pytest.mark.slow
@pytest.mark.parametrize("name", names("statistician"))
def test_every_shipped_generator_reaches_its_manifest_recognisability(name, omniglot_test):
    # reference: the manifest's R and δ, measured on the shipped file by package_pretrained.py
    # (30 episodes, seed 0); here 8 new episodes (seed 777), so the CI widens
    from metagan_lab.runs import DataOptions, EvalOptions
    from metagan_lab.runs.kinds import statistician as kind

    torch.set_num_threads(1)
    e = entry(name)
    got = kind.evaluate(load_checkpoint(name), EvalOptions(episodes=8, seed=777),
                        DataOptions("omniglot"), torch.device("cpu"))
    for key in ("recognisability", "diversity"):
        want, ci = e["result"][key], e["result"][f"{key}_ci95"]
        assert abs(got[key] - want) <= got[f"{key}_ci95"] + ci, (
            f"{name}: {key} {got[key]:.4f} ± {got[f'{key}_ci95']:.4f} on 8 new episodes, "
            f"manifest {want:.4f} ± {ci:.4f}")


@pytest.mark.slow
@pytest.mark.parametrize("name", names("restorer"))
def test_every_shipped_restorer_reproduces_its_manifest_check(name):
    # reference: the manifest's "check", PSNR per method after k steps on the first test tasks,
    # measured on the shipped float16 file by package_pretrained.py (runs.evaluate, CPU)
    from metagan_lab import runs

    torch.set_num_threads(1)
    check = entry(name)["check"]
    options = {k: check[k] for k in ("episodes", "inner_steps", "queries", "seed")}
    got = runs.evaluate(f"pretrained:{name}", runs.EvalOptions(**options))["psnr"]
    assert got.keys() == check["psnr"].keys()
    for method, want in check["psnr"].items():
        assert abs(got[method] - want) < 0.05, f"{name} · {method}: {got[method]} vs {want}"


@pytest.mark.slow
@pytest.mark.parametrize("name", names("fewshot_gan"))
def test_every_shipped_gan_init_reproduces_its_manifest_check(name, omniglot_test):
    # reference: the manifest's "check", FD per method and R / δ on 2 classes of Omniglot's test
    # characters, measured on the shipped float16 file by package_pretrained.py (CPU, seed 0)
    from metagan_lab import runs

    torch.set_num_threads(1)
    check = entry(name)["check"]
    options = runs.EvalOptions(**{k: check[k] for k in ("episodes", "samples", "seed")})
    got = runs.evaluate(str(HERE / entry(name)["file"]), options, runs.DataOptions("omniglot"))
    for key, want in check["values"].items():
        # R is a count of critic decisions (2 classes × 5 ways × 16 samples): another CPU's
        # rounding may flip a sample or two near a decision boundary; FD and δ are continuous
        tol = {"abs": 0.03} if "recognisability" in key else {"rel": 0.01, "abs": 1e-3}
        assert got[key] == pytest.approx(want, **tol), f"{name} · {key}"
