"""Notebook 04's α tiles carry a colour bar, so a learner can read α off a saved figure."""

import pytest

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from metagan_lab.viz.meta import alphas_figure  # noqa: E402


def test_alpha_tiles_have_one_colour_bar_on_their_symmetric_scale():
    first = torch.tensor([-0.3, 0.1, 0.7]).repeat(4, 1, 3, 1)             # [4, 1, 3, 3]
    fig = alphas_figure({"encoder.0.0.weight": first, "head.bias": torch.rand(5)}, initial=0.4)
    bars = [ax._colorbar for ax in fig.axes if getattr(ax, "_colorbar", None) is not None]
    assert len(bars) == 1
    bar = bars[0]
    assert bar.ax.get_ylabel() == "α"
    assert bar.vmin == pytest.approx(-0.7) and bar.vmax == pytest.approx(0.7)   # ± max |α|
    tiles = [im for ax in fig.axes for im in ax.images]
    assert len(tiles) == 4 and all(im.norm is bar.norm or (im.norm.vmin, im.norm.vmax)
                                   == (bar.vmin, bar.vmax) for im in tiles)
    plt.close(fig)


def test_no_colour_bar_without_a_conv_layer():
    fig = alphas_figure({"head.weight": torch.rand(5, 3), "head.bias": torch.rand(5)})
    assert all(getattr(ax, "_colorbar", None) is None for ax in fig.axes)
    plt.close(fig)
