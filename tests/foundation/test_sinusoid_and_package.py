"""Sinusoid task family (MAML paper §5.1), the package's version guard and quick mode."""

import math
import subprocess
import sys

import pytest
import torch

import metagan_lab
from metagan_lab.tasks import sample_sinusoid_tasks


def test_sinusoid_ranges_and_values():
    gen = torch.Generator().manual_seed(0)
    tasks = sample_sinusoid_tasks(500, k_shot=5, n_query=7, generator=gen, dtype=torch.float64)
    assert tasks.support_x.shape == (500, 5, 1) and tasks.query_y.shape == (500, 7, 1)
    assert 0.1 <= tasks.amplitude.min() and tasks.amplitude.max() <= 5.0
    assert 0.0 <= tasks.phase.min() and tasks.phase.max() <= math.pi
    x = torch.cat([tasks.support_x, tasks.query_x], 1)
    assert -5.0 <= x.min() and x.max() <= 5.0
    t = 3
    expected = tasks.amplitude[t] * torch.sin(tasks.support_x[t] - tasks.phase[t])
    assert torch.allclose(tasks.support_y[t], expected, atol=1e-15)
    grid = torch.linspace(-5, 5, 11, dtype=torch.float64)
    curve = tasks.amplitude[t] * torch.sin(grid - tasks.phase[t])
    assert torch.allclose(tasks.curve(grid)[t], curve)


def test_sinusoid_bad_values():
    with pytest.raises(ValueError, match="k_shot must be a positive integer, got 0"):
        sample_sinusoid_tasks(2, k_shot=0)


def test_require_version_message():
    metagan_lab.require_version("0.1")
    with pytest.raises(RuntimeError, match="needs metagan_lab >= 99.0.*make lab"):
        metagan_lab.require_version("99.0")


def test_quick_mode_reads_the_environment(monkeypatch):
    monkeypatch.setenv("METAGAN_LAB_QUICK", "1")
    assert metagan_lab.quick_mode()
    monkeypatch.setenv("METAGAN_LAB_QUICK", "0")
    assert not metagan_lab.quick_mode()


def test_core_imports_without_matplotlib_or_ipywidgets():
    code = ("import sys; sys.modules['matplotlib'] = None; sys.modules['ipywidgets'] = None; "
            "import metagan_lab.data, metagan_lab.tasks, metagan_lab.models, metagan_lab.fewshot, "
            "metagan_lab.meta, metagan_lab.gan, metagan_lab.restore, metagan_lab.cli; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
