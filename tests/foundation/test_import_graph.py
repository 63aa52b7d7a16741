"""The library's import graph has no cycle, counting imports inside functions too
(``scripts/code_metrics.py``; reference: a hand-made three-module package with one cycle)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _metrics():
    spec = importlib.util.spec_from_file_location("code_metrics", ROOT / "scripts/code_metrics.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_checker_finds_a_lazy_cycle_and_ignores_type_checking_imports(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .a import x\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                              "    from .a import y\n")
    (pkg / "d.py").write_text("def g(p1, p2, p3, p4, p5, p6, p7, p8, p9):\n    pass\n")
    m = _metrics()
    assert m.analyse(pkg, 9, lazy=False)["import_cycles"] == []
    found = m.analyse(pkg, 9, lazy=True)
    assert found["import_cycles"] == [["pkg.a", "pkg.b"]]
    assert found["functions_with_many_params"] == ["pkg.d.g(9)"]


def test_metagan_lab_has_no_import_cycle_even_through_lazy_imports():
    assert _metrics().analyse(ROOT / "metagan_lab", 9, lazy=True)["import_cycles"] == []
