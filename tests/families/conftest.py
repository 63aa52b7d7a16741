"""tests/families runs tiny networks: one CPU thread is fastest there, and fair to other jobs.
Data-backed commands read 200 glyph classes (0.5 s to make) instead of 1623 (8 s)."""

import pytest
import torch

import metagan_lab.runs.data as runs_data
from metagan_lab.data import make_glyphs


@pytest.fixture(autouse=True, scope="module")
def one_cpu_thread_per_module():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def glyphs():
    return make_glyphs(n_classes=200)


@pytest.fixture
def small_glyphs(glyphs, monkeypatch):
    """`--dataset glyphs` loads the 200 classes (every command goes through runs.load_split)."""
    monkeypatch.setattr(runs_data, "load_classes", lambda *a, **k: glyphs)
    return glyphs
