"""Notebook 00's Markdown links open under `make lab`, which serves the repository root."""

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "00_start_here.ipynb"
LINK = re.compile(r"\]\(([^)\s]+)\)")                   # [text](target)


def _relative_links() -> list[str]:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return [t for t in LINK.findall(text) if "://" not in t and not t.startswith("#")]


def test_every_relative_link_is_a_file_inside_the_served_root():
    links = _relative_links()
    expected = {"../README.md", "../docs/instructors_guide.md", "01_episodes_and_protonets.ipynb"}
    assert expected <= set(links)
    for target in links:
        path = (NOTEBOOK.parent / target).resolve()     # relative to the notebook's folder
        assert path.is_file(), f"notebook 00 links to {target}, which does not exist"
        assert REPO in path.parents, f"{target} is outside the repository root that make lab serves"


def test_make_lab_serves_the_repository_root_and_opens_notebook_00():
    lab = (REPO / "Makefile").read_text(encoding="utf-8").split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert "--ServerApp.root_dir=." in lab and "notebooks/00_start_here.ipynb" in lab
    assert "--allow-root" in lab and '"fetchNews": "false"' in lab
