"""Widgets draw into their ``Output`` by setting ``outputs`` (``widgets.fewshot._show``), never by
capturing the cell's messages, which can hang ``nbconvert --execute`` (jupyter/nbclient#312)."""

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")


def test_show_sets_outputs_without_capturing(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import Markdown

    from metagan_lab.widgets.fewshot import _show

    out = w.Output()
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    _show(out, fig)
    assert len(out.outputs) == 1 and "image/png" in out.outputs[0]["data"]
    assert not plt.fignum_exists(fig.number)                     # closed once rendered
    assert out.msg_id == ""                                      # no capture of the cell's messages
    _show(out, Markdown("**done**"))
    assert len(out.outputs) == 1 and out.outputs[0]["data"]["text/markdown"] == "**done**"
    _show(out, None)
    assert out.outputs == ()


def test_fewshot_adapter_draws_before_display():
    import torch

    from metagan_lab.gan.fewshot import FewShotGANConfig, make_gan
    from metagan_lab.models import params_of
    from metagan_lab.widgets.gan import FewShotAdapter

    G, D = make_gan(FewShotGANConfig(z_dim=4, width=4))
    theta = (params_of(G, False), params_of(D, False))
    images = (torch.rand(2, 10, 28, 28) * 255).to(torch.uint8)
    adapter = FewShotAdapter(G, D, {"reptile_adapted": theta}, images, n_samples=2)
    assert "image/png" in adapter.out.outputs[0]["data"]


@pytest.mark.slow
def test_many_redraws_under_nbclient_do_not_stall(tmp_path):
    """120 cells that each redraw an Output: with the old ``with out: display(…)`` a few of
    them (about 3 %: this fails ~97 % of the time) waited for the whole cell timeout although
    the kernel had replied."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from datetime import datetime

    setup = ("import ipywidgets as w\nfrom IPython.display import HTML, display\n"
             "from metagan_lab.widgets.fewshot import _show\nout = w.Output()\ndisplay(out)")
    cells = [nbformat.v4.new_code_cell(setup)]
    cells += [nbformat.v4.new_code_cell(f"_show(out, HTML('<b>{i}</b>'))") for i in range(120)]
    nb = nbformat.v4.new_notebook(cells=cells)
    timeout = 30
    nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()

    def t(cell, key):
        return datetime.fromisoformat(cell.metadata.execution[key].replace("Z", "+00:00"))

    gaps = [(t(b, "iopub.execute_input") - t(a, "shell.execute_reply")).total_seconds()
            for a, b in zip(nb.cells[1:], nb.cells[2:])]
    assert max(gaps) < timeout / 3, gaps
