"""`metagan-lab train matching|relation|protomaml|finetune|simpleshot`: 5 iterations on glyphs, then
`eval` (and `sample`) of the checkpoint; --out refused without --overwrite; a diverging run exits
with one line and writes no checkpoint; the one table of algorithms (metagan_lab.algorithms)."""

from __future__ import annotations

import json

import pytest
import torch

import metagan_lab.cli.families as cli_families
import metagan_lab.cli.meta as cli_meta
from metagan_lab import runs
from metagan_lab.algorithms import ALGORITHMS, FAMILIES, by_family
from metagan_lab.cli import build_parser, main
from metagan_lab.meta.registry import ALGORITHMS as META
from metagan_lab.methods import METHODS, config_for

TINY = ["--dataset", "glyphs", "--device", "cpu", "--hidden", "8", "--iterations", "5",
        "--ways", "3", "--queries", "2", "--val-tasks", "2", "--test-tasks", "4",
        "--eval-queries", "2", "--threads", "1", "--quiet", "--json"]
OWN = {"matching": ["--fce"], "relation": [], "protomaml": ["--eval-inner-steps", "2"],
       "finetune": ["--finetune-steps", "10"], "simpleshot": ["--batch", "16",
                                                             "--mean-images", "200"]}


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize("method", list(OWN))     # black-box learners: test_mann, test_hypernet
def test_train_5_iterations_then_eval_the_checkpoint(method, small_glyphs, tmp_path, capsys):
    assert main(["train", method, *TINY, *OWN[method], "--out", str(tmp_path)]) == 0
    result = last_json(capsys)
    assert result["algorithm"] == method and result["family"] == METHODS[method].family
    assert result["iterations"] == 5 and result["tasks"] == 4 and result["n_way"] == 3
    assert 0 <= result["accuracy"] <= 1 and result["ci95"] >= 0
    checkpoint = tmp_path / method / "checkpoint.pt"
    assert result["checkpoint"] == str(checkpoint)
    assert json.loads((tmp_path / method / "results.json").read_text())["algorithm"] == method
    info = runs.describe(str(checkpoint))
    assert info["kind"] == "episodic" and info["algorithm"] == method and info["iterations"] == 5
    assert main(["eval", str(checkpoint), "--dataset", "glyphs", "--device", "cpu",
                 "--episodes", "4", "--queries", "2", "--json", "--quiet"]) == 0
    evaluated = last_json(capsys)
    assert evaluated["kind"] == "episodic" and evaluated["algorithm"] == method
    assert evaluated["tasks"] == 4 and evaluated["n_way"] == 3 and 0 <= evaluated["accuracy"] <= 1


def test_sample_draws_one_episode_of_a_checkpoint(small_glyphs, tmp_path, capsys):
    assert main(["train", "relation", *TINY, "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    png = tmp_path / "episode.png"
    assert main(["sample", str(tmp_path / "relation" / "checkpoint.pt"), "--dataset", "glyphs",
                 "--device", "cpu", "--n", "2", "--out", str(png), "--json", "--quiet"]) == 0
    assert last_json(capsys)["kind"] == "episodic"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_out_is_checked_before_training_and_inner_steps_only_where_they_apply(
        small_glyphs, tmp_path, capsys):
    assert main(["train", "matching", *TINY, "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(["train", "matching", *TINY, "--out", str(tmp_path)])
    assert info.value.code == 2 and "--overwrite" in capsys.readouterr().err
    assert main(["train", "matching", *TINY, "--out", str(tmp_path), "--overwrite"]) == 0
    with pytest.raises(SystemExit):
        main(["eval", str(tmp_path / "matching" / "checkpoint.pt"), "--dataset", "glyphs",
              "--inner-steps", "3", "--quiet"])
    assert "does not apply to a matching" in capsys.readouterr().err


def test_a_diverging_run_exits_with_one_line_and_writes_no_checkpoint(small_glyphs, tmp_path,
                                                                      capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "matching", *TINY, "--lr", "1e9", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.startswith("metagan-lab: error: matching, iteration")
    assert "no checkpoint was written" in err and "Traceback" not in err
    assert not (tmp_path / "matching" / "checkpoint.pt").exists()


def test_bad_method_options_are_one_line_errors(small_glyphs, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "protomaml", *TINY, "--inner-lr", "-1", "--out", str(tmp_path)])
    assert info.value.code == 2 and "inner_lr" in capsys.readouterr().err


def test_the_one_table_lists_every_algorithm_with_its_family():
    assert set(ALGORITHMS) == {*META, "protonet", *METHODS}
    assert all(ALGORITHMS[n].family == "gradient-based" for n in META)
    assert {n for n, a in ALGORITHMS.items() if a.family == "metric"} >= {"protonet", "matching",
                                                                          "relation"}
    assert set(by_family("baseline")) == {"finetune", "simpleshot"}
    assert all(a.family in FAMILIES for a in ALGORITHMS.values())
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    commands = train._subparsers._group_actions[0].choices
    assert set(ALGORITHMS) <= set(commands)        # every algorithm is a `train` sub-command
    for name in METHODS:                           # the paper defaults are the CLI defaults
        args = build_parser().parse_args(["train", name])
        assert args.n_way == config_for(name).n_way and args.n_query == config_for(name).n_query
        assert args.lr == config_for(name).lr
        # --iterations is absent unless given (so --resume can take the checkpoint run's)
        assert cli_families.config_from_args(args, METHODS[name]).iterations == \
            config_for(name).iterations
    for name in META:
        args = build_parser().parse_args(["train", name])
        assert cli_meta.config_from_args(args, name).iterations == META[name].config().iterations


def test_checkpoints_with_nan_weights_are_refused(small_glyphs, tmp_path, capsys):
    assert main(["train", "relation", *TINY, "--out", str(tmp_path)]) == 0
    ckpt = torch.load(tmp_path / "relation" / "checkpoint.pt", weights_only=True)
    next(iter(ckpt["state_dict"].values())).fill_(float("nan"))
    with pytest.raises(RuntimeError, match="NaN"):
        runs.check(ckpt)
