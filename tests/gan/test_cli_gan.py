"""`metagan-lab train gan|vae|cyclegan|fewshot-gan` on tiny settings, with --json output."""

import json

import pytest

from metagan_lab.cli import main


def run_json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_train_gan_on_a_toy_distribution(tmp_path, capsys):
    out = run_json(capsys, ["train", "gan", "--toy", "ring", "--steps", "5", "--batch-size", "16",
                            "--device", "cpu", "--quiet", "--json", "--out", str(tmp_path)])
    assert out["algorithm"] == "gan" and out["steps"] == 5 and out["steps_per_s"] > 0
    assert (tmp_path / "gan.pt").is_file()


def test_invalid_learning_rate_is_an_argument_error(capsys):
    with pytest.raises(SystemExit):
        main(["train", "gan", "--toy", "ring", "--lr-d", "-1"])
    assert "lr-d" in capsys.readouterr().err


def test_train_vae_and_cyclegan_on_glyphs(tmp_path, capsys, monkeypatch):
    import metagan_lab.cli.gan as cli_gan
    from metagan_lab.data import MetaSplit, make_glyphs

    data = make_glyphs(n_classes=12)
    split = MetaSplit(data.subset(list(range(8))), None, data.subset(list(range(8, 12))))
    monkeypatch.setattr(cli_gan, "_load", lambda args: (data, split))
    common = ["--dataset", "glyphs", "--device", "cpu", "--quiet", "--json", "--out",
              str(tmp_path), "--no-rotations"]
    vae = run_json(capsys, ["train", "vae", "--steps", "3", *common])
    assert vae["algorithm"] == "vae" and vae["elbo"] < 0
    cyc = run_json(capsys, ["train", "cyclegan", "--steps", "2", *common])
    assert cyc["cycle"] >= 0


def test_train_fewshot_gan_reports_all_four_methods(tmp_path, capsys, monkeypatch):
    import metagan_lab.cli.gan as cli_gan
    from metagan_lab.data import MetaSplit, make_glyphs

    data = make_glyphs(n_classes=12)
    split = MetaSplit(data.subset(list(range(6))), data.subset([6, 7, 8]),
                      data.subset([9, 10, 11]))
    monkeypatch.setattr(cli_gan, "_load", lambda args: (data, split))
    out = run_json(capsys, ["train", "fewshot-gan", "--iterations", "1", "--inner-steps", "1",
                            "--meta-batch", "2", "--pretrain-steps", "1", "--classifier-steps",
                            "1", "--adapt-steps", "1", "--k-shot", "2", "--eval-classes", "2",
                            "--n-fake", "4", "--device", "cpu", "--quiet", "--json", "--out",
                            str(tmp_path)])
    for name in ("reptile_adapted", "meta_init", "scratch", "pretrained_finetuned"):
        assert f"fd_{name}" in out
    assert set(out["adapt_lr"]) == {"reptile_adapted", "scratch", "pretrained_finetuned"}


def test_fewshot_gan_rejects_k_larger_than_the_class(capsys, monkeypatch):
    import metagan_lab.cli.gan as cli_gan
    from metagan_lab.data import MetaSplit, make_glyphs

    data = make_glyphs(n_classes=4)
    monkeypatch.setattr(cli_gan, "_load", lambda args: (data, MetaSplit(data, None, data)))
    with pytest.raises(SystemExit):
        main(["train", "fewshot-gan", "--k-shot", "19", "--quiet"])
    assert "k_shot" in capsys.readouterr().err


def test_conditional_gan_checkpoint_evaluates_samples_and_old_files_load(tmp_path, capsys,
                                                                         monkeypatch):
    import torch

    import metagan_lab.cli.gan as cli_gan
    import metagan_lab.runs.data as runs_data
    from metagan_lab import runs
    from metagan_lab.data import MetaSplit, make_glyphs

    data = make_glyphs(n_classes=12)
    split = MetaSplit(data.subset(list(range(8))), None, data.subset(list(range(8, 12))))
    monkeypatch.setattr(cli_gan, "_load", lambda args: (data, split))
    bigger = make_glyphs(n_classes=150)                 # eval splits it: 100 validation classes
    monkeypatch.setattr(runs_data, "load_classes", lambda *a, **k: bigger)
    out = run_json(capsys, ["train", "gan", "--conditional", "--steps", "2", "--batch-size", "8",
                            "--width", "8", "--z-dim", "8", "--device", "cpu", "--quiet",
                            "--json", "--out", str(tmp_path)])
    assert json.loads((tmp_path / "gan_results.json").read_text()) == json.loads(json.dumps(out))
    fd = run_json(capsys, ["eval", str(tmp_path / "gan.pt"), "--samples", "8", "--json",
                           "--quiet", "--device", "cpu", "--no-rotations"])
    assert fd["fd"] >= 0 and fd["kind"] == "gan"
    shown = run_json(capsys, ["sample", str(tmp_path / "gan.pt"), "--n", "8", "--json",
                              "--quiet", "--device", "cpu"])
    assert "labels" in shown["shows"] and (tmp_path / "gan_samples.png").is_file()
    old = torch.load(tmp_path / "gan.pt", weights_only=True)
    del old["arch"], old["steps"]                    # a file written before "arch" was recorded
    G, D = runs.build_model(old)
    assert (G.z_dim, G.n_classes, G.width) == (8, 8, 8)


def test_vae_and_cyclegan_write_result_files(tmp_path, capsys, monkeypatch):
    import metagan_lab.cli.gan as cli_gan
    from metagan_lab.data import MetaSplit, make_glyphs

    data = make_glyphs(n_classes=8)
    monkeypatch.setattr(cli_gan, "_load", lambda args: (data, MetaSplit(data, None, data)))
    common = ["--device", "cpu", "--quiet", "--json", "--out", str(tmp_path)]
    vae = run_json(capsys, ["train", "vae", "--steps", "1", *common])
    assert json.loads((tmp_path / "vae_results.json").read_text())["elbo"] == vae["elbo"]
    run_json(capsys, ["train", "cyclegan", "--steps", "1", *common])
    assert (tmp_path / "cyclegan_results.json").is_file()
    with pytest.raises(SystemExit):
        main(["train", "vae", "--steps", "1", *common])
    assert "add --overwrite" in capsys.readouterr().err
