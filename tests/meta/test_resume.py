"""Resuming a meta-training run (``meta_train(resume=…)``, ``metagan-lab train <alg> --resume``).

Reference: the same run unbroken. A run that crashes after iteration 4 and is resumed from its
iteration-3 checkpoint must end with exactly the unbroken run's θ (and α): the checkpoint holds
Adam's moments, the episode sampler's random state and Reptile's progress, and CPU arithmetic on
one thread is deterministic. Without them (``--init-from``'s fresh Adam) it differs.
"""

import json

import pytest
import torch
from meta_helpers import noise_classes

import metagan_lab.cli.meta as cli_meta
import metagan_lab.meta.train as meta_train_module
from metagan_lab.cli import main
from metagan_lab.data import MetaSplit
from metagan_lab.meta.registry import config_for
from metagan_lab.meta.train import init_from, meta_train, new_learner
from metagan_lab.pretrained import load_checkpoint

SETTINGS = {"maml": dict(inner_lr=0.4), "metasgd": dict(inner_lr=0.4),
            "reptile": dict(inner_lr=0.01, train_shots=1, inner_optimizer="sgd")}


def _config(algorithm: str, iterations: int = 6):
    return config_for(algorithm, n_way=3, n_query=2, meta_batch=2, hidden=4, inner_steps=1,
                      iterations=iterations, val_every=3, path="loop", **SETTINGS[algorithm])


class _Crash(Exception):
    pass


def _crashing_sampler(after: int):
    """EpisodeSampler that raises on episode ``after + 1``: a run killed mid-way."""
    class Sampler(meta_train_module.EpisodeSampler):
        def __next__(self):
            self.drawn = getattr(self, "drawn", 0) + 1
            if self.drawn > after:
                raise _Crash
            return super().__next__()
    return Sampler


def _theta(learner) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in learner.trainable.items()}


@pytest.mark.parametrize("algorithm", ["maml", "metasgd", "reptile"])
def test_a_crashed_run_resumed_from_its_checkpoint_equals_the_unbroken_run(algorithm, tmp_path,
                                                                           monkeypatch):
    data = noise_classes()
    unbroken = new_learner(_config(algorithm))
    meta_train(unbroken, data, out=tmp_path / "unbroken", progress=False)

    with monkeypatch.context() as m:
        m.setattr(meta_train_module, "EpisodeSampler", _crashing_sampler(4))
        with pytest.raises(_Crash):
            meta_train(new_learner(_config(algorithm)), data, out=tmp_path / "crashed",
                       progress=False)
    state = load_checkpoint(tmp_path / "crashed" / "checkpoint.pt")
    assert state["iteration"] == 3

    resumed = init_from(new_learner(_config(algorithm)), state)
    history = meta_train(resumed, data, out=tmp_path / "crashed", progress=False, resume=state)
    assert history["iterations"] == 6
    expected, got = _theta(unbroken), _theta(resumed)
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name

    if algorithm != "reptile":       # Reptile has no optimiser state: the fresh start is exact too
        restarted = init_from(new_learner(_config(algorithm, iterations=3)), state)
        meta_train(restarted, data, progress=False)
        assert any(not torch.equal(expected[n], p) for n, p in _theta(restarted).items())


def test_resume_refuses_a_finished_run_and_a_file_without_optimiser_state(tmp_path):
    data = noise_classes()
    learner = new_learner(_config("maml", iterations=3))
    meta_train(learner, data, out=tmp_path, progress=False)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="iteration 3.*--iterations 3; pass a larger"):
        meta_train(init_from(new_learner(_config("maml", 3)), state), data, progress=False,
                   resume=state)
    bare = {k: v for k, v in state.items() if k != "resume"}
    with pytest.raises(ValueError, match="no optimiser state.*start a new run"):
        meta_train(init_from(new_learner(_config("maml")), bare), data, progress=False,
                   resume=bare)


TINY = ["--device", "cpu", "--ways", "3", "--queries", "2", "--meta-batch", "2", "--hidden", "4",
        "--threads", "1", "--val-every", "2", "--val-tasks", "2", "--test-tasks", "4",
        "--eval-queries", "2", "--json", "--quiet"]


def test_cli_resume_goes_on_in_place_to_a_larger_iterations(tmp_path, capsys, monkeypatch):
    data = noise_classes()
    monkeypatch.setattr(cli_meta, "load_split", lambda args: (data, MetaSplit(data, data, data)))
    assert main(["train", "maml", *TINY, "--iterations", "2", "--inner-lr", "0.3",
                 "--out", str(tmp_path)]) == 0
    checkpoint = tmp_path / "maml" / "checkpoint.pt"
    capsys.readouterr()
    # no --overwrite needed: the run goes on in its own folder; --inner-lr here is ignored
    assert main(["train", "maml", *TINY, "--iterations", "4", "--inner-lr", "0.9",
                 "--resume", str(checkpoint), "--out", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["iterations"] == 4
    assert result["resumed_from"] == {"checkpoint": str(checkpoint), "iteration": 2}
    state = load_checkpoint(checkpoint)
    assert state["iteration"] == 4 and state["config"]["inner_lr"] == 0.3
    assert state["config"]["iterations"] == 4

    for args, needle in ((["reptile", "--resume", str(checkpoint)], "a maml checkpoint; resume "
                           "it with `metagan-lab train maml`"),
                         (["maml", "--resume", str(checkpoint), "--init-from", str(checkpoint)],
                          "give one"),
                         (["maml", "--resume", str(checkpoint)], "at iteration 4.*--iterations 4")):
        with pytest.raises(SystemExit):
            main(["train", *args, *TINY, "--out", str(tmp_path / "other")])
        assert pytest.importorskip("re").search(needle, capsys.readouterr().err), needle


def test_reptile_epsilon_goes_on_from_the_checkpoint_progress(tmp_path, monkeypatch):
    """ε_t = ε (1 − done): a time-limited run's ``done`` can run ahead of it/iterations, and a
    resumed run must not anneal back up (reference: ε·(1 − 0.9) by hand)."""
    import metagan_lab.meta.reptile as reptile

    data = noise_classes()
    meta_train(new_learner(_config("reptile", iterations=3)), data, out=tmp_path, progress=False)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    state["resume"]["done"] = 0.9
    seen = []
    update = reptile.reptile_update
    monkeypatch.setattr(reptile, "reptile_update",
                        lambda theta, phis, eps: seen.append(eps) or update(theta, phis, eps))
    cfg = _config("reptile", iterations=5)
    meta_train(init_from(new_learner(cfg), state), data, progress=False, resume=state)
    assert seen == pytest.approx([cfg.epsilon * 0.1, cfg.epsilon * 0.1])


def test_shipping_drops_the_resume_state(tmp_path):
    from metagan_lab.pretrained import save_for_shipping

    meta_train(new_learner(_config("maml", iterations=3)), noise_classes(), out=tmp_path,
               progress=False)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert set(state["resume"]) == {"outer", "sampler", "done"}
    shipped = load_checkpoint(save_for_shipping(state, tmp_path / "shipped.pt"))
    assert "resume" not in shipped and shipped["params"].keys() == state["params"].keys()
