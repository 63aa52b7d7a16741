"""Every exercise check accepts the reference solution and rejects plausible wrong ones.

The reference solutions come from the nbgrader sources, course/source/exNN/*.ipynb
(exercise_sources.py); the package has none.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from exercise_sources import (
    BEGIN,
    BEGIN_HIDDEN,
    LEARNER_NOTEBOOKS,
    reference_solution,
    solution_lines,
    source_notebook,
)

from metagan_lab import exercises as ex
from metagan_lab.exercises.checking import Case, compare

NAMES = sorted(ex.EXERCISES)
MISTAKES = [(name, i) for name in NAMES for i in range(len(ex.EXERCISES[name].mistakes))]


def check_fn(name: str):
    return getattr(ex, f"check_{name}")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [0, 1])
def test_reference_solution_passes(name, seed, capsys):
    assert check_fn(name)(reference_solution(name), seed=seed) is True
    assert f"✓ {name}" in capsys.readouterr().out


@pytest.mark.parametrize(("name", "index"), MISTAKES)
def test_plausible_mistake_fails_with_its_hint(name, index):
    exercise = ex.EXERCISES[name]
    mistake = exercise.mistakes[index]
    with pytest.raises(ex.ExerciseFailed) as info:
        check_fn(name)(mistake.fn, seed=3)
    message = str(info.value)
    assert f"✗ {name} disagrees with the library on case:" in message
    assert "inputs:" in message and "hint:" in message
    assert ("expected" in message and "got" in message) or "raised" in message, message
    assert mistake.hint in message, f"expected the targeted hint for mistake {index}:\n{message}"
    assert "seed=3" in message


@pytest.mark.parametrize("name", NAMES)
def test_messages_never_show_the_solution(name):
    """No line of the reference solution's body appears in a failure message."""
    code_lines = [line.strip() for line in solution_lines(name) if len(line.strip()) > 12]
    assert code_lines, f"no solution lines for {name} in {source_notebook(name)}"
    for mistake in ex.EXERCISES[name].mistakes:
        with pytest.raises(ex.ExerciseFailed) as info:
            check_fn(name)(mistake.fn, seed=4)
        for line in code_lines:
            assert line not in str(info.value), f"message reveals {line!r}"


@pytest.mark.parametrize("name", NAMES)
def test_hard_coded_answer_fails(name):
    """Returning the right output of one case (memorised) fails on the other, random cases."""
    exercise = ex.EXERCISES[name]
    first = next(c for c in exercise.cases(torch.Generator().manual_seed(0))
                 if c.raises is None)
    args = [a.detach().clone().requires_grad_(True)
            if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in first.args]
    memorised = reference_solution(name)(*args, **first.kwargs)

    def hard_coded(*args, **kwargs):
        return memorised

    with pytest.raises(ex.ExerciseFailed):
        check_fn(name)(hard_coded, seed=5)


@pytest.mark.parametrize("name", NAMES)
def test_untouched_exercise_cell_is_not_an_error(name, capsys):
    def not_written(*args, **kwargs):
        raise NotImplementedError

    assert check_fn(name)(not_written) is False
    assert "not written yet" in capsys.readouterr().out


def test_in_place_update_is_reported():
    def in_place(params, grads, inner_lr):
        for k in params:
            params[k] -= inner_lr * grads[k]
        return params

    with pytest.raises(ex.ExerciseFailed, match=r"modified its input params\['w'\] in place"):
        ex.check_inner_update(in_place, seed=0)


def test_edge_case_that_must_raise():
    def no_error_for_one_value(values):
        n = len(values)
        mean = sum(values) / n
        var = sum((v - mean) ** 2 for v in values) / max(n - 1, 1)
        return mean, 1.96 * var ** 0.5 / n ** 0.5

    with pytest.raises(ex.ExerciseFailed, match="expected ValueError to be raised"):
        ex.check_mean_ci95(no_error_for_one_value, seed=0)


def test_detached_meta_loss_is_explained():
    def detached(w, support_x, support_y, query_x, query_y, inner_lr):
        return reference_solution("maml_query_loss")(w, support_x, support_y, query_x, query_y,
                                              inner_lr).detach()

    with pytest.raises(ex.ExerciseFailed, match="not connected to w by autograd"):
        ex.check_maml_query_loss(detached, seed=0)


def test_r1_without_create_graph_is_explained():

    def no_graph(critic, real, r1_gamma):
        x = real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x).sum(), x)
        return r1_gamma / 2 * grad.flatten(1).pow(2).sum(1).mean()

    with pytest.raises(ex.ExerciseFailed, match="create_graph=True"):
        ex.check_r1_penalty(no_graph, seed=0)


def test_compare_reports_shape_and_values():

    a = torch.zeros(2, 3, dtype=torch.float64)
    assert compare(a, a.clone(), 1e-6, 1e-9) is None
    assert "expected shape [2, 3], got shape [3, 2]" in compare(a, a.T, 1e-6, 1e-9)
    b = a.clone()
    b[1, 2] = 0.5
    assert "at index [1, 2] expected 0, got 0.5" in compare(a, b, 1e-6, 1e-9)
    assert "expected keys" in compare({"w": a}, {"v": a}, 1e-6, 1e-9)
    assert compare((1.0, 2.0), (1.0, 2.0 + 1e-12), 1e-6, 1e-9) is None


def test_the_package_ships_no_solutions():
    """Reference solutions live in course/source only: the installed package has none."""
    assert importlib.util.find_spec("metagan_lab.exercises.solutions") is None
    assert not hasattr(ex, "solution")
    for path in sorted(Path(next(iter(ex.__path__))).glob("*.py")):
        assert BEGIN not in path.read_text(encoding="utf-8"), path


def test_case_defaults():
    case = Case("random 1", (1, 2))
    assert case.kwargs == {} and case.raises is None


@pytest.mark.parametrize("name", NAMES)
def test_learner_notebook_has_the_exercise(name):
    """The committed notebook is the learner's version: an unwritten cell, then the check."""
    path = LEARNER_NOTEBOOKS / f"{ex.EXERCISES[name].notebook}.ipynb"
    assert path.exists(), f"missing exercise notebook {path}"
    cells = json.loads(path.read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    learner = [s for s in sources if f"\ndef {name}(" in s and "YOUR CODE" in s]
    assert learner and "raise NotImplementedError" in learner[0], f"no learner cell for {name}"
    assert any(f"ex.check_{name}({name})" in s for s in sources), f"no check cell for {name}"
    assert not any(BEGIN in s or BEGIN_HIDDEN in s for s in sources), f"{path.name} has solutions"
    assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code"), \
        f"{path.name} is committed with outputs; strip them"
