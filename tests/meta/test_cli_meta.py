"""`metagan-lab train maml|…` and `metagan-lab bench maml` on a tiny in-memory data set."""

import json

import pytest
from meta_helpers import noise_classes

import metagan_lab.cli.meta as cli_meta
from metagan_lab.cli import main
from metagan_lab.data import MetaSplit

TINY = ["--device", "cpu", "--ways", "3", "--queries", "2", "--meta-batch", "2", "--hidden", "8",
        "--threads", "1"]


@pytest.fixture(autouse=True)
def tiny_data(monkeypatch):
    data = noise_classes()
    monkeypatch.setattr(cli_meta, "load_split",
                        lambda args: (data, MetaSplit(data, data, data)))


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


# Reptile's paper trains on 10-shot tasks; the tiny data set has 6 images per class
SHOTS = {"maml": [], "reptile": ["--train-shots", "1"]}


@pytest.mark.parametrize("algorithm", ["maml", "reptile"])
def test_train_prints_json_results_and_writes_a_checkpoint(algorithm, tmp_path, capsys):
    assert main(["train", algorithm, *TINY, *SHOTS[algorithm], "--iterations", "2",
                 "--val-every", "1",
                 "--val-tasks", "2", "--test-tasks", "4", "--eval-queries", "2",
                 "--out", str(tmp_path), "--json", "--quiet"]) == 0
    result = last_json(capsys)
    for key in ("accuracy", "ci95", "seconds", "iterations", "device"):
        assert key in result
    assert result["iterations"] == 2 and result["tasks"] == 4 and result["device"] == "cpu"
    assert (tmp_path / algorithm / "checkpoint.pt").is_file()
    assert json.loads((tmp_path / algorithm / "results.json").read_text())["algorithm"] == algorithm


def test_bench_prints_timings_and_memory(capsys):
    assert main(["bench", "maml", *TINY, "--warmup", "0", "--repeat", "1", "--path", "batched",
                 "--json", "--quiet"]) == 0
    result = last_json(capsys)
    assert result["seconds_per_iteration"] > 0 and result["peak_memory_mb"] > 0
    assert result["tasks_per_second"] == pytest.approx(2 / result["seconds_per_iteration"])
    assert result["path"] == "batched" and result["algorithm"] == "maml"


@pytest.mark.parametrize("flag,value,needle", [("--inner-lr", "-0.4", "-0.4"),
                                               ("--inner-lr", "nan", "nan"),
                                               ("--inner-steps", "-1", "-1"),
                                               ("--meta-batch", "0", "got 0")])
def test_bad_values_are_one_line_errors_naming_the_value(flag, value, needle, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "maml", *TINY, flag, value, "--quiet"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("metagan-lab: error:") and needle in err and "Traceback" not in err


def test_eval_reads_a_meta_checkpoint_and_refuses_other_ways(tmp_path, capsys):
    assert main(["train", "maml", *TINY, "--iterations", "2", "--val-every", "2",
                 "--val-tasks", "2", "--test-tasks", "4", "--eval-queries", "2",
                 "--out", str(tmp_path), "--json", "--quiet"]) == 0
    trained = last_json(capsys)
    checkpoint = str(tmp_path / "maml" / "checkpoint.pt")
    assert main(["eval", checkpoint, "--device", "cpu", "--queries", "2", "--episodes", "6",
                 "--inner-steps", "2", "--json", "--quiet"]) == 0
    result = last_json(capsys)
    assert result["algorithm"] == "maml" and result["n_way"] == 3 and result["tasks"] == 6
    assert result["inner_steps"] == 2 and result["iterations"] == 2
    assert 0 <= result["accuracy"] <= 1 and result["ci95"] >= 0
    assert trained["checkpoint"] == checkpoint
    with pytest.raises(SystemExit) as info:
        main(["eval", checkpoint, "--device", "cpu", "--ways", "5", "--quiet"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--ways 5" in err and "3 outputs" in err and "Traceback" not in err


PATH_ERR, LOOP_ERR = "meta_gradient_rel_err_vs_float64", "loop_meta_gradient_rel_err_vs_float64"


def test_bench_compares_the_timed_meta_gradient_with_a_float64_loop(capsys):
    assert main(["bench", "maml", *TINY, "--warmup", "0", "--repeat", "1", "--path", "batched",
                 "--json", "--quiet"]) == 0
    result = last_json(capsys)
    assert 0 <= result[PATH_ERR] < 1e-5                      # float32 rounding: same maths
    assert 0 <= result[LOOP_ERR] < 1e-5                      # and the float32 loop's alike
    assert result["dtype"] == "float32" and result["warmup_seconds"] >= 0
    assert main(["bench", "maml", *TINY, "--warmup", "0", "--repeat", "1", "--no-check",
                 "--json", "--quiet"]) == 0
    result = last_json(capsys)
    assert result[PATH_ERR] is None and result[LOOP_ERR] is None
    assert main(["bench", "maml", *TINY, "--warmup", "0", "--repeat", "1", "--path", "loop",
                 "--json", "--quiet"]) == 0
    result = last_json(capsys)
    assert 0 <= result[PATH_ERR] == result[LOOP_ERR] < 1e-5      # the timed path is the loop
    assert main(["bench", "maml", *TINY, "--warmup", "0", "--repeat", "1", "--algorithm",
                 "reptile", "--train-shots", "1", "--json", "--quiet"]) == 0
    result = last_json(capsys)
    assert result[PATH_ERR] is None and result[LOOP_ERR] is None  # no meta-gradient


def test_gpu_check_script_parses_and_names_its_parts():
    """scripts/gpu_check.sh runs on a lent GPU only; here: bash syntax and the usage message."""
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    done = subprocess.run(["bash", str(script), "everything"], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "OUT": "/tmp/metagan_gpu_check_test"})
    assert done.returncode == 2 and "bench|maml5|maml20|others" in done.stderr


def test_train_and_bench_on_the_compiled_path(tmp_path, capsys, monkeypatch):
    """The whole CLI on path='compiled' (aot_eager backend: inductor takes minutes on a CPU)."""
    import torch

    monkeypatch.setenv("METAGAN_LAB_COMPILE_BACKEND", "aot_eager")
    torch._dynamo.reset()
    assert main(["train", "maml", *TINY, "--path", "compiled", "--iterations", "3",
                 "--val-every", "2", "--val-tasks", "2", "--test-tasks", "4",
                 "--eval-queries", "2", "--out", str(tmp_path), "--json", "--quiet"]) == 0
    result = last_json(capsys)
    assert result["iterations"] == 3 and result["val_accuracy"] is not None
    assert main(["bench", "maml", *TINY, "--path", "compiled", "--warmup", "1", "--repeat", "1",
                 "--json", "--quiet"]) == 0
    bench = last_json(capsys)
    assert bench["path"] == "compiled" and bench[PATH_ERR] < 1e-5 and bench[LOOP_ERR] < 1e-5
    torch._dynamo.reset()


def test_reptile_trains_with_adam_inner_steps_and_maml_refuses_them(tmp_path, capsys):
    assert main(["train", "reptile", *TINY, *SHOTS["reptile"], "--inner-optimizer", "adam",
                 "--inner-lr", "0.001",
                 "--iterations", "2", "--val-every", "2", "--val-tasks", "2",
                 "--test-tasks", "4", "--eval-queries", "2", "--out", str(tmp_path), "--json",
                 "--quiet"]) == 0
    assert last_json(capsys)["iterations"] == 2
    with pytest.raises(SystemExit) as info:
        main(["train", "maml", *TINY, "--inner-optimizer", "adam", "--quiet"])
    assert info.value.code == 2 and "first-order" in capsys.readouterr().err
