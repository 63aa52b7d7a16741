"""The exercises as an nbgrader course: one source, a student version, autograding.

In a temporary copy of course/ this runs ``nbgrader generate_assignment`` for every exercise
notebook and checks that the student versions have no solutions, that they are exactly the
committed notebooks/exercises/ (so nobody edits those by hand), then autogrades three submissions
of ex02 with ``nbgrader autograde`` and reads the scores from the gradebook: the reference (full
marks), a first-order meta-gradient (the 2-point check fails) and the untouched student version
(nothing). About 30 s on two CPU cores, most of it three kernels importing torch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from exercise_sources import (
    BEGIN,
    BEGIN_HIDDEN,
    COURSE,
    LEARNER_NOTEBOOKS,
    code_cells,
    grade_id,
    solution_lines,
    without_markers,
)

from metagan_lab import exercises as ex

pytest.importorskip("nbgrader", reason="nbgrader is a dev dependency: pip install -e '.[dev]'")
from nbgrader.api import Gradebook  # noqa: E402

SOURCES = sorted((COURSE / "source").glob("ex*/ex*.ipynb"))
GRADED = "ex02"                       # inner_update (1 point) and maml_query_loss (2 points)
NOTEBOOK = "ex02_inner_update_and_maml"
FIRST_ORDER = '''\
def maml_query_loss(w, support_x, support_y, query_x, query_y, inner_lr):
    support_loss = ((support_x @ w - support_y) ** 2).mean()
    (grad,) = torch.autograd.grad(support_loss, w)          # no create_graph: first order
    w_adapted = w - inner_lr * grad
    return ((query_x @ w_adapted - query_y) ** 2).mean()
'''


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """``nbgrader <args>`` in ``course`` with this interpreter (its bin/ on PATH for alembic)."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A copy of course/ (config and sources only) after ``nbgrader generate_assignment "*"``."""
    root = tmp_path_factory.mktemp("course")
    shutil.copy(COURSE / "nbgrader_config.py", root)
    shutil.copytree(COURSE / "source", root / "source")
    nbgrader(root, "generate_assignment", "*", "--force")
    return root


def test_one_source_per_exercise_notebook():
    stems = sorted({e.notebook for e in ex.EXERCISES.values()})
    assert [p.stem for p in SOURCES] == stems
    assert all(p.parent.name == p.stem[:4] for p in SOURCES), "course/source/exNN/exNN_….ipynb"
    for path in SOURCES:
        cells = code_cells(path)
        solutions = [c for c in cells if c["metadata"].get("nbgrader", {}).get("solution")]
        tests = [c for c in cells if c["metadata"].get("nbgrader", {}).get("grade")]
        assert solutions and all(BEGIN in c["source"] for c in solutions), path.name
        assert [grade_id(c) for c in tests] == [f"check_{grade_id(c)}" for c in solutions]
        for cell in tests:
            meta = cell["metadata"]["nbgrader"]
            assert meta["locked"] and meta["points"] > 0 and meta["schema_version"] == 3
            assert cell["source"].startswith(f"ex.{meta['grade_id']}(")
            assert BEGIN_HIDDEN in cell["source"]          # the assert the autograder adds


def test_student_versions_have_no_solutions(course):
    for source in SOURCES:
        release = course / "release" / source.parent.name / source.name
        cells = code_cells(release)
        text = "\n".join(c["source"] for c in cells)
        assert BEGIN not in text and BEGIN_HIDDEN not in text and "assert ex." not in text
        for name in (grade_id(c) for c in cells if c["metadata"]["nbgrader"].get("solution")):
            body = [line.strip() for line in solution_lines(name) if line.strip()]
            assert not any(line in text for line in body), f"{release.name} leaks {name}"
            stub = next(c["source"] for c in cells if grade_id(c) == name)
            assert stub.rstrip().endswith("    raise NotImplementedError"), stub


def test_committed_student_notebooks_are_the_generated_ones(course):
    for source in SOURCES:
        release = course / "release" / source.parent.name / source.name
        committed = LEARNER_NOTEBOOKS / source.name
        assert json.loads(committed.read_text(encoding="utf-8")) == \
            json.loads(release.read_text(encoding="utf-8")), \
            f"{committed} differs from what nbgrader generates from {source}: run `make exercises`"


def _submit(course: Path, student: str, solutions: dict[str, str]) -> None:
    """submitted/<student>/ex02/: the student version with the given solution cells filled in."""
    release = course / "release" / GRADED / f"{NOTEBOOK}.ipynb"
    nb = json.loads(release.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        gid = grade_id(cell)
        if gid in solutions:
            cell["source"] = solutions[gid].splitlines(keepends=True)
    folder = course / "submitted" / student / GRADED
    folder.mkdir(parents=True)
    (folder / release.name).write_text(json.dumps(nb, indent=1), encoding="utf-8")


def test_autograde_reference_wrong_and_untouched(course):
    source = COURSE / "source" / GRADED / f"{NOTEBOOK}.ipynb"
    reference = {grade_id(c): without_markers(c["source"]) for c in code_cells(source)
                 if c["metadata"].get("nbgrader", {}).get("solution")}
    assert set(reference) == {"inner_update", "maml_query_loss"}
    _submit(course, "reference", reference)
    _submit(course, "first_order", {**reference, "maml_query_loss": FIRST_ORDER})
    _submit(course, "untouched", {})
    nbgrader(course, "autograde", GRADED, "--force")

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in ("reference", "first_order", "untouched"):
            submission = gb.find_submission(GRADED, student)
            grades = {g.name: g.score for g in submission.notebooks[0].grades}
            scores[student] = (submission.score, submission.max_score, grades)
    assert scores["reference"] == (3, 3, {"check_inner_update": 1, "check_maml_query_loss": 2})
    assert scores["first_order"] == (1, 3, {"check_inner_update": 1, "check_maml_query_loss": 0})
    assert scores["untouched"] == (0, 3, {"check_inner_update": 0, "check_maml_query_loss": 0})
