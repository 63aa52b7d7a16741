"""Command line, checkpoints (atomic writes, safe loads), devices, and the environment files."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import torch

import metagan_lab.runs.data as runs_data
from metagan_lab.cli import main
from metagan_lab.data import make_glyphs
from metagan_lab.device import resolve_device
from metagan_lab.io import atomic_save, safe_load
from metagan_lab.models import Conv4

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("METAGAN_LAB_DATA", str(tmp_path / "no-data"))
    monkeypatch.setenv("METAGAN_LAB_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def few_glyphs():
    return make_glyphs(n_classes=200)


@pytest.fixture
def small_glyphs(few_glyphs, monkeypatch):
    """--dataset glyphs with 200 classes (0.5 s) instead of 1623 (8 s) for every command."""
    monkeypatch.setattr(runs_data, "load_classes", lambda *a, **k: few_glyphs)


def test_train_protonet_json_checkpoint_and_eval(tmp_path, offline, small_glyphs, capsys):
    out = tmp_path / "run"
    assert main(["train", "protonet", "--dataset", "glyphs", "--iterations", "3", "--ways", "3",
                 "--queries", "2", "--test-episodes", "4", "--device", "cpu", "--json",
                 "--quiet", "--out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"accuracy", "ci95", "seconds", "iterations", "device"} <= result.keys()
    assert result["iterations"] == 3 and result["device"] == "cpu"
    assert 0 <= result["accuracy"] <= 1
    ckpt = torch.load(out / "protonet.pt", weights_only=True)
    assert ckpt["kind"] == "protonet" and ckpt["config"]["n_way"] == 3
    assert json.loads((out / "protonet_results.json").read_text())["checkpoint"] == str(
        out / "protonet.pt")
    assert main(["eval", str(out / "protonet.pt"), "--dataset", "glyphs", "--episodes", "4",
                 "--ways", "3", "--queries", "2", "--json", "--quiet", "--device", "cpu"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["episodes"] == 4 and again["n_way"] == 3
    assert main(["eval", str(out / "protonet.pt"), "--dataset", "glyphs", "--episodes", "4",
                 "--queries", "2", "--json", "--quiet", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["n_way"] == 3      # the ways it was tested with


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_is_a_clear_error_not_a_traceback(offline):
    proc = subprocess.run([sys.executable, "-m", "metagan_lab", "train", "protonet",
                           "--device", "cuda", "--iterations", "1"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "no CUDA GPU" in proc.stderr and "--device cpu" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_numbers_are_rejected_with_the_value(tmp_path, offline, small_glyphs, capsys):
    with pytest.raises(SystemExit):
        main(["train", "protonet", "--ways", "0"])
    assert "got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "protonet", "--dataset", "glyphs", "--ways", "5", "--shots", "15",
              "--queries", "15", "--iterations", "1", "--quiet", "--out", str(tmp_path)])
    assert "15 + 15 = 30 is more than the 20 samples" in capsys.readouterr().err


def test_eval_refuses_a_file_that_is_not_a_checkpoint(tmp_path, offline, capsys):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"\x00 truncated")
    with pytest.raises(SystemExit):
        main(["eval", str(bad), "--dataset", "glyphs"])
    assert "broken.pt" in capsys.readouterr().err


def test_data_command_reports_root_and_source(tmp_path, offline, capsys):
    assert main(["data", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["data_root"] == str(tmp_path / "no-data") and info["omniglot"] == "not found"
    assert info["from"] == "METAGAN_LAB_DATA"


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path):
    path = atomic_save({"w": torch.ones(2)}, tmp_path / "ckpt.pt")

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        atomic_save({"bad": Unpicklable()}, path)
    assert torch.equal(safe_load(path)["w"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


def test_safe_load_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"f": print}, path)                      # a function: needs full unpickling
    with pytest.raises(RuntimeError, match="evil.pt"):
        safe_load(path)


def test_resolve_device_messages():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="'tpu'"):
        resolve_device("tpu")


def test_conv4_embedding_and_functional_call():
    model = Conv4()
    x = torch.randn(3, 1, 28, 28)
    assert model(x).shape == (3, 64)
    params = dict(model.named_parameters())
    out = torch.func.functional_call(model, params, (x,))
    assert torch.allclose(out, model(x))
    assert Conv4(n_classes=5)(x).shape == (3, 5)


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_the_same_runtime_requirements_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    text = (ROOT / "environment.yml").read_text()
    pip_section = text.split("- pip:", 1)[1]
    conda_pip = {_name(line.strip()[2:]) for line in pip_section.splitlines()
                 if line.strip().startswith("- ") and not line.strip().startswith("- -e")}
    assert conda_pip == runtime, f"only in environment.yml: {conda_pip - runtime}; " \
                                 f"only in pyproject.toml: {runtime - conda_pip}"
    assert re.search(r"^\s*-\s*python", text, re.M) and re.search(r"^\s*-\s*pip\s*$", text, re.M)


def test_every_command_takes_threads_and_main_applies_it(monkeypatch):
    """``--threads N`` is one option of ``cli.common.add_common``: every train, eval, sample and
    bench subcommand accepts it, and ``cli.main`` calls ``torch.set_num_threads(N)`` before the
    command runs (reference: the value the command sees from ``torch.get_num_threads``)."""
    import argparse

    from metagan_lab.cli import build_parser

    parser = build_parser()
    top = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    checked = 0
    for name, sub in top.choices.items():
        inner = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
        commands = inner[0].choices.items() if inner else [(name, sub)]
        for command, p in commands:
            if any(a.dest == "out" or a.dest == "device" for a in p._actions):
                assert any(a.dest == "threads" for a in p._actions), f"{name} {command}"
                checked += 1
    assert checked >= 20

    seen = []
    before = torch.get_num_threads()
    monkeypatch.setattr("metagan_lab.cli.gan.run_vae",
                        lambda args: seen.append(torch.get_num_threads()) or 0)
    try:
        assert main(["train", "vae", "--threads", "1"]) == 0
    finally:
        torch.set_num_threads(before)
    assert seen == [1]
    with pytest.raises(SystemExit):
        main(["train", "restore", "--threads", "0"])


def test_train_protonet_checkpoints_as_it_goes_and_resumes_as_if_unbroken(tmp_path, offline,
                                                                         small_glyphs, capsys):
    """Reference: the unbroken run. 4 episodes, then resumed to 8, end with exactly the weights
    of 8 in one go (Adam's state, the halving schedule and the episode stream are in the
    file)."""
    base = ["train", "protonet", "--dataset", "glyphs", "--ways", "3", "--queries", "2",
            "--test-episodes", "4", "--device", "cpu", "--json", "--quiet", "--threads", "1",
            "--lr-halve-every", "3", "--checkpoint-every", "2"]
    assert main([*base, "--iterations", "8", "--out", str(tmp_path / "unbroken")]) == 0
    assert main([*base, "--iterations", "4", "--out", str(tmp_path / "split")]) == 0
    checkpoint = tmp_path / "split" / "protonet.pt"
    assert torch.load(checkpoint, weights_only=True)["iteration"] == 4
    capsys.readouterr()
    assert main([*base, "--iterations", "8", "--resume", str(checkpoint), "--lr", "0.5",
                 "--out", str(tmp_path / "split")]) == 0     # in place; --lr is the run's
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["iterations"] == 8
    assert result["resumed_from"] == {"checkpoint": str(checkpoint), "iteration": 4}
    expected = torch.load(tmp_path / "unbroken" / "protonet.pt", weights_only=True)
    got = torch.load(checkpoint, weights_only=True)
    assert got["iteration"] == 8 and got["config"] == expected["config"]
    for name, value in expected["state_dict"].items():
        assert torch.equal(value, got["state_dict"][name]), name

    with pytest.raises(SystemExit):
        main([*base, "--resume", str(checkpoint), "--out", str(tmp_path / "other")])
    assert "at iteration 8, and this run stops at --iterations 8" in capsys.readouterr().err
