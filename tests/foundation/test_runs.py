"""metagan_lab.runs: every checkpoint kind made by a tiny `train`, then `eval` and `sample` of it;
bad inputs refused in the first second (NaN weights, unknown kinds, a bad --out, --ways too
large); no import cycle among the command modules."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import metagan_lab.cli.gan as cli_gan
import metagan_lab.runs.data as runs_data
from metagan_lab import runs
from metagan_lab.cli import main
from metagan_lab.data import MetaSplit, make_glyphs

ROOT = Path(__file__).resolve().parents[2]
TINY_META = ["--device", "cpu", "--ways", "3", "--queries", "2", "--meta-batch", "2", "--hidden",
             "8", "--threads", "1", "--iterations", "2", "--val-every", "2", "--val-tasks", "2",
             "--test-tasks", "4", "--eval-queries", "2"]
# kind → (train command, checkpoint path under the run folder)
TRAIN = {
    "protonet": (["train", "protonet", "--iterations", "2", "--ways", "3", "--queries", "2",
                  "--test-episodes", "2"], "protonet.pt"),
    "meta": (["train", "maml", *TINY_META], "maml/checkpoint.pt"),
    "gan": (["train", "gan", "--steps", "2", "--batch-size", "8", "--width", "8"], "gan.pt"),
    "gan-toy": (["train", "gan", "--toy", "ring", "--steps", "2", "--batch-size", "8"],
                "toy/gan.pt"),
    "vae": (["train", "vae", "--steps", "2"], "vae.pt"),
    "cyclegan": (["train", "cyclegan", "--steps", "1"], "cyclegan.pt"),
    "fewshot_gan": (["train", "fewshot-gan", "--iterations", "1", "--inner-steps", "1",
                     "--meta-batch", "2", "--pretrain-steps", "1", "--classifier-steps", "1",
                     "--adapt-steps", "1", "--k-shot", "2", "--eval-classes", "2", "--n-fake",
                     "4"], "fewshot_gan.pt"),
    "restorer": (["train", "restore", "--degradations", "noise,inpaint", "--iterations", "1",
                  "--meta-batch", "2", "--k-shot", "2", "--queries", "2", "--hidden", "4",
                  "--depth", "2", "--eval-tasks", "2", "--steps", "0,1", "--inner-steps", "1",
                  "--no-self-supervised-rows"], "restore_fomaml.pt"),
}
# kind → (eval options, keys its result must hold)
EVAL = {
    "protonet": (["--episodes", "2", "--queries", "2"], {"accuracy", "ci95", "n_way", "episodes"}),
    "meta": (["--episodes", "2", "--queries", "2"], {"accuracy", "ci95", "n_way", "inner_steps"}),
    "gan": (["--samples", "8"], {"fd", "diversity", "samples"}),
    "gan-toy": (["--samples", "8"], {"fd_2d", "diversity"}),
    "vae": (["--samples", "8"], {"elbo", "fd"}),
    "cyclegan": (["--samples", "8"], {"cycle_l1_a", "cycle_l1_b", "fd_ab", "fd_ba"}),
    "fewshot_gan": (["--episodes", "2", "--samples", "4"],
                    {"fd_reptile_adapted", "fd_meta_init", "fd_scratch",
                     "fd_pretrained_finetuned"}),
    "restorer": (["--episodes", "2"], {"psnr", "table", "steps"}),
}


@pytest.fixture(scope="module")
def glyphs():
    """200 glyph classes (0.5 s to make) instead of 1623 (8 s) for every data-backed command."""
    return make_glyphs(n_classes=200)


@pytest.fixture(autouse=True)
def small_data(glyphs, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setattr(runs_data, "load_classes", lambda *a, **k: glyphs)


def _fewshot_split(glyphs):
    split = runs.load_split(runs.DataOptions("glyphs"))[1]
    return glyphs, MetaSplit(split.train, None, split.test)     # no validation: α as given


@pytest.fixture(scope="module")
def trained(tmp_path_factory, glyphs):
    """One tiny run of every train command; kind → checkpoint path."""
    out = tmp_path_factory.mktemp("runs")
    paths = {}
    with pytest.MonkeyPatch.context() as mp:
        torch.set_num_threads(1)
        mp.setattr(runs_data, "load_classes", lambda *a, **k: glyphs)
        mp.setattr(cli_gan, "_load", lambda args: _fewshot_split(glyphs))
        for kind, (argv, rel) in TRAIN.items():
            data = [] if kind == "restorer" else ["--dataset", "glyphs"]   # restorer: photos
            folder = out / Path(rel).parent if kind != "meta" else out     # maml: out/maml/
            assert main([*argv, *data, "--device", "cpu", "--quiet", "--json", "--out",
                         str(folder)]) == 0
            paths[kind] = out / rel
            assert paths[kind].is_file(), kind
    return paths


@pytest.mark.parametrize("kind", list(TRAIN))
def test_eval_and_sample_every_kind(kind, trained, tmp_path, capsys):
    capsys.readouterr()
    options, keys = EVAL[kind]
    assert main(["eval", str(trained[kind]), *options, "--dataset", "glyphs", "--device", "cpu",
                 "--quiet", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert keys <= result.keys(), f"{kind}: {sorted(result)}"
    assert result["kind"] == kind.removesuffix("-toy") and result["device"] == "cpu"
    assert result["checkpoint"] == str(trained[kind])
    png = tmp_path / f"{kind}.png"
    assert main(["sample", str(trained[kind]), "--out", str(png), "--n", "3", "--dataset",
                 "glyphs", "--device", "cpu", "--quiet", "--json"]) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["path"] == str(png) and info["shows"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == [png.name]        # no temporary file left


def test_sample_defaults_beside_the_checkpoint_and_describes(trained, capsys):
    assert main(["sample", str(trained["vae"]), "--device", "cpu", "--quiet"]) == 0
    assert (trained["vae"].parent / "vae_samples.png").is_file()
    assert "vae_samples.png" in capsys.readouterr().out
    for kind, path in trained.items():
        info = runs.describe(path)
        assert info["kind"] == kind.removesuffix("-toy") and info["parameters"] > 0
    assert runs.describe(trained["gan-toy"])["dataset"] == "toy:ring"


def test_notebook_reloads_a_protonet_and_a_restorer(trained):
    encoder = runs.build_model(trained["protonet"])
    assert isinstance(encoder, torch.nn.Module) and not encoder.training
    assert encoder(torch.zeros(2, 1, 28, 28)).shape == (2, 64)
    model, theta = runs.build_model(trained["restorer"])
    out = torch.func.functional_call(model, theta["meta"], (torch.zeros(1, 1, 32, 32),))
    assert out.shape == (1, 1, 32, 32)

    assert isinstance(runs.build_model(runs.load(trained["vae"])), torch.nn.Module)


def _poison(ckpt, path=()):
    """Put a NaN into the first floating tensor; return its dotted name."""
    for key, value in ckpt.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            value.view(-1)[0] = float("nan")
            return ".".join(map(str, (*path, key)))
        if isinstance(value, dict):
            name = _poison(value, (*path, key))
            if name:
                return name
    return None


@pytest.mark.parametrize("kind", list(TRAIN))
def test_nan_weights_are_refused_naming_file_and_tensor(kind, trained, tmp_path, capsys):
    ckpt = torch.load(trained[kind], weights_only=True)
    name = _poison(ckpt)
    bad = tmp_path / "diverged.pt"
    torch.save(ckpt, bad)
    with pytest.raises(SystemExit) as info:
        main(["eval", str(bad), "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "diverged.pt" in err and name in err and "NaN" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit):
        main(["sample", str(bad), "--out", str(tmp_path / "x.png"), "--quiet"])
    assert "NaN" in capsys.readouterr().err and not (tmp_path / "x.png").exists()


def test_unknown_kind_lists_the_kinds(tmp_path, capsys):
    path = tmp_path / "other.pt"
    torch.save({"kind": "banana", "w": torch.ones(2)}, path)
    with pytest.raises(SystemExit):
        main(["eval", str(path), "--quiet"])
    err = capsys.readouterr().err
    assert "other.pt" in err and "kind='banana'" in err
    assert all(kind in err for kind in runs.KINDS)
    with pytest.raises(ValueError, match="lacks"):
        runs.check({"kind": "gan", "config": {}})


def test_an_option_of_another_kind_is_refused(trained, capsys):
    with pytest.raises(SystemExit):
        main(["eval", str(trained["vae"]), "--ways", "5", "--quiet"])
    err = capsys.readouterr().err
    assert "--ways does not apply to a vae checkpoint" in err and "--samples" in err


def _no_data(*args, **kwargs):
    raise AssertionError("data was loaded before the bad argument was refused")


def test_out_that_is_a_file_is_refused_before_any_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runs_data, "load_classes", _no_data)
    afile = tmp_path / "results.txt"
    afile.write_text("not a folder")
    for argv in (["train", "protonet"], ["train", "vae"], ["train", "gan", "--toy", "ring"],
                 ["train", "restore"]):
        with pytest.raises(SystemExit) as info:
            main([*argv, "--out", str(afile), "--quiet", "--device", "cpu"])
        err = capsys.readouterr().err
        assert info.value.code == 2 and f"--out {afile} is a file" in err, argv
    with pytest.raises(SystemExit):
        main(["train", "vae", "--out", str(afile / "sub"), "--quiet"])
    assert "is a file, so the folder cannot be created" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_out_is_refused(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(SystemExit):
        main(["train", "gan", "--toy", "ring", "--out", str(locked / "run"), "--quiet"])
    assert "is not writable" in capsys.readouterr().err


def test_existing_run_needs_overwrite(tmp_path, capsys):
    argv = ["train", "gan", "--toy", "ring", "--steps", "2", "--batch-size", "8", "--device",
            "cpu", "--quiet", "--out", str(tmp_path)]
    assert main(argv) == 0
    before = (tmp_path / "gan.pt").stat().st_mtime_ns
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and "already holds a run (gan.pt, gan_results.json)" in err
    assert "--overwrite" in err and (tmp_path / "gan.pt").stat().st_mtime_ns == before
    assert main([*argv, "--overwrite"]) == 0
    assert json.loads((tmp_path / "gan_results.json").read_text())["steps"] == 2


def test_prepare_out_api(tmp_path):
    assert runs.prepare_out(tmp_path / "new" / "run", False, ["a.pt"]) == tmp_path / "new" / "run"
    assert not (tmp_path / "new").exists()                    # nothing created before training
    (tmp_path / "a.pt").write_bytes(b"")
    with pytest.raises(ValueError, match="--overwrite"):
        runs.prepare_out(tmp_path, False, ["a.pt", "b.json"])
    assert runs.prepare_out(tmp_path, True, ["a.pt"]) == tmp_path


def test_ways_above_the_test_classes_fail_before_training(monkeypatch, tmp_path, capsys):
    import metagan_lab.cli.protonet as cli_protonet

    monkeypatch.setattr(cli_protonet, "train_protonet", _no_data)
    test_classes = runs.load_split(runs.DataOptions("glyphs"))[1].test.n_classes
    with pytest.raises(SystemExit) as info:
        main(["train", "protonet", "--ways", "2000", "--train-ways", "5", "--dataset", "glyphs",
              "--out", str(tmp_path), "--quiet", "--device", "cpu"])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert (f"--ways 2000: the test split of glyphs has only {test_classes} classes; use "
            f"--ways <= {test_classes}") in err
    with pytest.raises(SystemExit):
        main(["train", "protonet", "--ways", "5", "--train-ways", "5000", "--dataset", "glyphs",
              "--out", str(tmp_path), "--quiet"])
    assert "--train-ways 5000: the training split" in capsys.readouterr().err


def test_eval_does_not_change_its_arguments(trained):
    from metagan_lab.cli import build_parser

    args = build_parser().parse_args(["eval", str(trained["protonet"]), "--episodes", "2",
                                      "--queries", "2", "--dataset", "glyphs", "--device",
                                      "cpu", "--quiet"])
    before = dict(vars(args))
    assert args.run(args) == 0
    assert vars(args) == before


# -- the command modules: no import cycle ------------------------------------------------------

PACKAGE = ROOT / "metagan_lab"


def _module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _target(package: str, name: str) -> str:
    """``package.name`` when that is a module or a package, else ``package`` (a name in it)."""
    candidate = f"{package}.{name}" if name else package
    as_path = ROOT.joinpath(*candidate.split("."))
    return candidate if as_path.with_suffix(".py").is_file() or as_path.is_dir() else package


def _imports(path: Path, anywhere: bool = False) -> set[str]:
    """metagan_lab modules imported by the file ``path``: at module level, or ``anywhere``
    (inside functions too)."""
    here = _module_of(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree) if anywhere else tree.body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("metagan_lab")}
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            base = (f"{base}.{node.module}" if node.module else base) if node.level else \
                node.module
            if base and base.startswith("metagan_lab"):
                found |= {_target(base, a.name) for a in node.names}
    return found - {here}


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), list(graph.get(start, ()))
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo += graph.get(node, ())
    return False


def test_no_import_cycle_through_the_commands_or_runs():
    graph = {_module_of(p): _imports(p) for p in PACKAGE.rglob("*.py")}
    ours = [m for m in graph if m.startswith(("metagan_lab.cli", "metagan_lab.runs"))]
    assert len(ours) > 15 and "metagan_lab.runs.kinds.meta" in graph["metagan_lab.runs.kinds"]
    assert [m for m in ours if _reaches(graph, m, m)] == []
    cli = {_module_of(p): {i for i in _imports(p, anywhere=True) if i.startswith("metagan_lab.cli")}
           for p in (PACKAGE / "cli").glob("*.py") if p.name != "__init__.py"}
    assert all(deps <= {"metagan_lab.cli.common"} for deps in cli.values()), cli   # not even
    # inside a function: cli/meta.py ↔ cli/protonet.py was the one cycle
    assert _reaches({"a": {"b"}, "b": {"c"}, "c": {"a"}}, "a", "a")       # the checker works


def test_each_command_module_imports_in_a_fresh_interpreter():
    code = ("import metagan_lab.cli.meta, metagan_lab.cli.protonet, metagan_lab.cli.eval, "
            "metagan_lab.cli.sample, metagan_lab.runs")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1:]
