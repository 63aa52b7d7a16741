"""tests/families: data-backed commands read 200 glyph classes (0.5 s to make) instead of 1623
(8 s)."""

import pytest

import metagan_lab.runs.data as runs_data
from metagan_lab.data import make_glyphs


@pytest.fixture(scope="session")
def glyphs():
    return make_glyphs(n_classes=200)


@pytest.fixture
def small_glyphs(glyphs, monkeypatch):
    """`--dataset glyphs` loads the 200 classes (every command goes through runs.load_split)."""
    monkeypatch.setattr(runs_data, "load_classes", lambda *a, **k: glyphs)
    return glyphs
