"""`metagan-lab train <method> --resume` for every episodic method (Matching, Relation,
Proto-MAML, fine-tuned head, SimpleShot, MANN, HyperNet).

Reference: the unbroken run. 2 iterations, then resumed to 4, must end with exactly the weights
of 4 iterations in one go: the checkpoint holds Adam's state, the schedule and the random streams
(episodes, MANN's support orders), and one CPU thread is deterministic.
"""

from __future__ import annotations

import json
import re

import pytest
import torch

from metagan_lab.cli import main
from metagan_lab.methods import METHODS
from metagan_lab.pretrained import load_checkpoint

TINY = ["--dataset", "glyphs", "--device", "cpu", "--hidden", "8", "--ways", "3",
        "--queries", "2", "--val-every", "2", "--val-tasks", "2", "--test-tasks", "4",
        "--eval-queries", "2", "--threads", "1", "--quiet", "--json"]
OWN = {"finetune": ["--finetune-steps", "10"], "simpleshot": ["--batch", "16", "--mean-images",
                                                               "200"],
       "protomaml": ["--eval-inner-steps", "2"], "relation": ["--lr-halve-every", "3"]}


@pytest.mark.parametrize("method", list(METHODS))
def test_two_iterations_resumed_to_four_equal_four_in_one_go(method, small_glyphs, tmp_path,
                                                             capsys):
    own = OWN.get(method, [])
    assert main(["train", method, *TINY, *own, "--iterations", "4",
                 "--out", str(tmp_path / "unbroken")]) == 0
    assert main(["train", method, *TINY, *own, "--iterations", "2",
                 "--out", str(tmp_path / "split")]) == 0
    checkpoint = tmp_path / "split" / method / "checkpoint.pt"
    capsys.readouterr()
    assert main(["train", method, *TINY, "--iterations", "4", "--resume", str(checkpoint),
                 "--out", str(tmp_path / "split")]) == 0         # in place: no --overwrite
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["iterations"] == 4
    assert result["resumed_from"] == {"checkpoint": str(checkpoint), "iteration": 2}
    expected = load_checkpoint(tmp_path / "unbroken" / method / "checkpoint.pt")
    got = load_checkpoint(checkpoint)
    assert got["iteration"] == expected["iteration"] == 4
    for name, value in expected["state_dict"].items():
        assert torch.equal(value, got["state_dict"][name]), f"{method}: {name}"


def test_resume_refusals_name_the_fix(small_glyphs, tmp_path, capsys):
    assert main(["train", "matching", *TINY, "--iterations", "2", "--out", str(tmp_path)]) == 0
    checkpoint = tmp_path / "matching" / "checkpoint.pt"
    for method, extra, needle in (
            ("relation", [], "a matching checkpoint, not relation's"),
            ("matching", [], "at iteration 2.*--iterations 2; pass a larger --iterations")):
        with pytest.raises(SystemExit):
            main(["train", method, *TINY, *extra, "--resume", str(checkpoint),
                  "--out", str(tmp_path / "other")])
        assert re.search(needle, capsys.readouterr().err), needle
