"""The nbgrader sources of the exercise notebooks (course/source/exNN/*.ipynb), read by the tests.

The reference solutions live only there, between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
in the cell whose nbgrader ``grade_id`` is the function's name; the package does not ship them.
``reference_solution(name)`` runs the notebook's setup cell and that cell (markers are comments)
and returns the function, so the tests check the same code that instructors release.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from metagan_lab import exercises as ex

ROOT = Path(__file__).resolve().parents[2]
COURSE = ROOT / "course"
LEARNER_NOTEBOOKS = ROOT / "notebooks" / "exercises"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def assignment_of(name: str) -> str:
    """nbgrader assignment id of exercise ``name``: ex01 … ex08 (the notebook's prefix)."""
    return ex.EXERCISES[name].notebook.split("_", 1)[0]


def source_notebook(name: str) -> Path:
    """course/source/exNN/<notebook>.ipynb, the instructor version holding ``name``'s solution."""
    notebook = ex.EXERCISES[name].notebook
    return COURSE / "source" / assignment_of(name) / f"{notebook}.ipynb"


def code_cells(path: Path) -> list[dict]:
    """The code cells of a notebook, each with ``source`` joined into one string."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [{**c, "source": "".join(c["source"])} for c in cells if c["cell_type"] == "code"]


def grade_id(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _cell(path: Path, gid: str) -> dict:
    found = [c for c in code_cells(path) if grade_id(c) == gid]
    assert len(found) == 1, f"{path}: expected one cell with grade_id {gid!r}, found {len(found)}"
    return found[0]


def solution_cell(name: str) -> str:
    """Source of the solution cell of exercise ``name`` (def line, docstring, marked solution)."""
    return _cell(source_notebook(name), name)["source"]


def solution_lines(name: str) -> list[str]:
    """The reference solution's lines, between the BEGIN/END SOLUTION markers."""
    lines = solution_cell(name).splitlines()
    begin = next(i for i, line in enumerate(lines) if line.strip() == BEGIN)
    end = next(i for i, line in enumerate(lines) if line.strip() == END)
    return lines[begin + 1:end]


def without_markers(source: str) -> str:
    """A solution cell as a learner who wrote the reference would hand it in (no markers)."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in (BEGIN, END))


def reference_solution(name: str) -> Callable:
    """The reference ``name`` function: the source notebook's setup cell, then its solution cell."""
    namespace: dict = {}
    exec(_cell(source_notebook(name), "setup")["source"], namespace)    # imports torch, F, ex
    exec(compile(solution_cell(name), f"{source_notebook(name).name}:{name}", "exec"), namespace)
    return namespace[name]
