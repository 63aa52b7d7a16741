"""Figures and widgets for notebooks 02–05: they draw what the pure functions return."""

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from metagan_lab.meta.sinusoid import SinusoidConfig  # noqa: E402
from metagan_lab.meta.toy2d import reptile_path_2d  # noqa: E402
from metagan_lab.viz.meta import alphas_figure, paths_2d_figure, results_table  # noqa: E402
from metagan_lab.widgets.meta import SinusoidLab, meta_paths_widget  # noqa: E402


def test_results_table_is_markdown_with_three_decimals():
    text = results_table([{"method": "maml", "mse": 0.12345, "ci95": None}],
                         ["method", "mse", "ci95"])
    assert text.splitlines() == ["| method | mse | ci95 |", "|---|---|---|",
                                 "| maml | 0.123 | — |"]
    small = results_table([{"err": 6.95e-06, "zero": 0.0}], ["err", "zero"])
    assert small.splitlines()[-1] == "| 7.0e-06 | 0.000 |"


def test_path_figure_plots_the_reptile_path():
    optima = [(1.0, 0.0), (0.0, 1.0)]
    path = reptile_path_2d((2.0, 2.0), optima, 0.5, 3)
    fig = paths_2d_figure({"Reptile": path}, optima)
    xs = [line.get_xdata() for line in fig.axes[0].lines]
    assert any(np.allclose(x, path[:, 0]) for x in xs)
    plt.close(fig)


def test_alphas_figure_has_one_box_per_tensor_and_filter_images():
    alphas = {"encoder.0.0.weight": torch.rand(4, 1, 3, 3), "head.bias": torch.rand(5)}
    fig = alphas_figure(alphas, initial=0.4)
    assert len(fig.axes) == 1 + 4 + 1                 # the box plot, 4 filter images, colour bar
    plt.close(fig)


def test_widgets_build_headless_and_the_sinusoid_lab_draws_after_training():
    assert meta_paths_widget().children                # sliders + output
    lab = SinusoidLab(SinusoidConfig(iterations=2, meta_batch=2, hidden=(4,)))
    lab.on_train()
    lab.steps.value = 2
    fig = lab.figure()
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "MAML, after 2 step(s)" in labels and "pretrained, before adapting" in labels
    plt.close(fig)


def test_learning_curves_are_drawn_at_the_measured_iterations():
    """Reptile's losses come every 10th iteration: steps=… places them there (by hand)."""
    import matplotlib

    matplotlib.use("Agg")
    from metagan_lab.viz.meta import learning_curves_figure

    fig = learning_curves_figure({"reptile": [3.0, 2.0, 1.0]}, smooth=1,
                                 steps={"reptile": [1, 11, 21]})
    raw = fig.axes[0].lines[0]
    assert list(raw.get_xdata()) == [1, 11, 21] and list(raw.get_ydata()) == [3.0, 2.0, 1.0]
    with pytest.raises(ValueError, match="3 values but 2 steps"):
        learning_curves_figure({"reptile": [3.0, 2.0, 1.0]}, steps={"reptile": [1, 11]})
