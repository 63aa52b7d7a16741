"""Notebook 01's episode grid: one class per row below 10 ways, several classes per row above."""

import pytest

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from metagan_lab.types import Episode  # noqa: E402
from metagan_lab.viz.fewshot import episode_figure, episode_layout  # noqa: E402


def _episode(n_way: int, k_shot: int, n_query: int) -> Episode:
    g = torch.Generator().manual_seed(0)
    return Episode(torch.rand(1, n_way * k_shot, 1, 28, 28, generator=g),
                   torch.arange(n_way).repeat_interleave(k_shot)[None],
                   torch.rand(1, n_way * n_query, 1, 28, 28, generator=g),
                   torch.arange(n_way).repeat_interleave(n_query)[None])


def _class_label_positions(fig):
    """{class k: (x0, y0) of the axes labelled "class k"}."""
    return {int(ax.get_ylabel().split()[1]): (round(ax.get_position().x0, 3),
                                              round(ax.get_position().y0, 3))
            for ax in fig.axes if ax.get_ylabel().startswith("class ")}


def test_layout_one_row_per_class_below_ten_ways_then_wrapped():
    assert episode_layout(5, 4) == (5, 1)
    assert episode_layout(9, 4) == (9, 1)
    assert episode_layout(10, 4) == (2, 5)
    assert episode_layout(20, 4) == (4, 5)
    assert episode_layout(30, 4) == (6, 5)
    assert episode_layout(20, 10) == (10, 2)
    for n_way in range(10, 61):
        for per_class in range(2, 11):
            rows, per_row = episode_layout(n_way, per_class)
            assert rows * per_row >= n_way > (rows - 1) * per_row   # no empty grid row
            assert per_row * per_class <= 20                         # readable width


def test_five_ways_keep_one_class_per_row():
    fig = episode_figure(_episode(5, 1, 3), max_query=3)
    pos = _class_label_positions(fig)
    assert sorted(pos) == list(range(5))
    assert len({x for x, _ in pos.values()}) == 1 and len({y for _, y in pos.values()}) == 5
    assert sum(len(ax.images) for ax in fig.axes) == 5 * 4
    plt.close(fig)


@pytest.mark.parametrize("n_way", [20, 30])
def test_many_ways_wrap_into_several_grid_rows_with_every_image(n_way):
    fig = episode_figure(_episode(n_way, 1, 3), max_query=3)
    pos = _class_label_positions(fig)
    assert sorted(pos) == list(range(n_way))                        # every class labelled once
    rows = {y for _, y in pos.values()}
    assert 1 < len(rows) < n_way                                    # wrapped: several grid rows
    assert len({x for x, _ in pos.values()}) > 1                    # several classes per row
    assert sum(len(ax.images) for ax in fig.axes) == n_way * 4      # 1 support + 3 queries each
    width, height = fig.get_size_inches()
    assert height < width                                           # not a 20-row-tall strip
    plt.close(fig)
