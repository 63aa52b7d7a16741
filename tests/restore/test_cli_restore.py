"""`metagan-lab train restore`: a tiny run end to end with --json, and clear errors."""

import json

import pytest

from metagan_lab.cli import main


def test_train_restore_tiny_run_prints_one_json_line(tmp_path, capsys):
    rc = main(["train", "restore", "--images", "natural", "--degradations", "noise,inpaint",
               "--iterations", "2", "--meta-batch", "2", "--k-shot", "2", "--queries", "2",
               "--hidden", "4", "--depth", "2", "--eval-tasks", "2", "--steps", "0,1",
               "--inner-steps", "1", "--device", "cpu", "--out", str(tmp_path), "--json",
               "--quiet", "--no-self-supervised-rows"])
    assert rc == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["algorithm"] == "restore-fomaml" and result["iterations"] == 2
    methods = {r["method"] for r in result["table"]}
    assert methods == {"meta-learned init", "scratch", "pretrained on all", "classical (skimage)"}
    assert {r["setting"] for r in result["table"]} == {"noise sigma=0.25",
                                                       "inpaint fraction missing=0.7"}
    assert {r["steps"] for r in result["table"]} == {0, 1}
    assert (tmp_path / "restore_fomaml.pt").is_file()
    assert (tmp_path / "restore_fomaml_results.json").is_file()


def test_unknown_degradation_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "restore", "--degradations", "noise,fog", "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown degradation 'fog'" in err and "Traceback" not in err


def test_negative_tv_weight_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        main(["train", "restore", "--tv-weight", "-1"])
    assert "must be >= 0" in capsys.readouterr().err


def test_restorer_checkpoint_evaluates_like_training_and_samples(tmp_path, capsys):
    argv = ["train", "restore", "--images", "natural", "--degradations", "noise",
            "--iterations", "1", "--meta-batch", "2", "--k-shot", "2", "--queries", "2",
            "--hidden", "4", "--depth", "2", "--eval-tasks", "2", "--steps", "0,1",
            "--inner-steps", "1", "--device", "cpu", "--out", str(tmp_path), "--json", "--quiet",
            "--no-self-supervised-rows"]
    assert main(argv) == 0
    trained = json.loads(capsys.readouterr().out)
    checkpoint = str(tmp_path / "restore_fomaml.pt")
    assert main(["eval", checkpoint, "--json", "--quiet", "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["table"] == trained["table"]            # the training command's own protocol
    assert set(result["psnr"]) == {r["method"] for r in trained["table"]}
    assert main(["sample", checkpoint, "--n", "2", "--quiet", "--device", "cpu"]) == 0
    assert (tmp_path / "restore_fomaml_samples.png").is_file()
    with pytest.raises(SystemExit):
        main(argv)
    assert "--overwrite" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0
