"""The GAN lab animates one persistent figure: a frame moves the same artists to new data."""

import warnings

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")


@pytest.fixture(autouse=True)
def _agg(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")


def test_frames_reuse_the_figure_and_show_new_data():
    import matplotlib.pyplot as plt

    from metagan_lab.gan.train import train_steps
    from metagan_lab.viz.gan import GANLabFigure
    from metagan_lab.widgets.gan import toy_lab_state

    state = toy_lab_state("ring")
    view = GANLabFigure(state, pyplot=False)
    fig, artists = view.fig, (view.surface, view.fake, view.d_line)
    first = view.png()
    surface, fake = view.surface.get_array().copy(), view.fake.get_offsets().copy()
    assert first[:4] == b"\x89PNG" and fig not in map(plt.figure, plt.get_fignums())
    train_steps(state, 30)
    view.update(state)
    second = view.png()
    assert view.fig is fig and (view.surface, view.fake, view.d_line) == artists
    assert second != first
    assert (view.surface.get_array() != surface).any()          # D's surface moved
    assert (view.fake.get_offsets() != fake).any()              # so did G(z)
    assert len(view.d_line.get_xdata()) == 30
    assert view.ax.get_title() == "step 30: σ(D(x))"
    xlim = view.ax2.get_xlim()
    train_steps(state, 1)
    view.update(state)
    assert view.ax2.get_xlim() == xlim                          # limits grow in steps only
    view.update(toy_lab_state("ring"))                          # a reset: small axes again
    assert view.ax2.get_xlim() == (0, 100) and view.png()[:4] == b"\x89PNG"


def test_blitted_frame_matches_a_full_draw():
    import io

    import numpy as np
    from PIL import Image

    from metagan_lab.gan.train import train_steps
    from metagan_lab.viz.gan import GANLabFigure
    from metagan_lab.widgets.gan import toy_lab_state

    state = toy_lab_state("ring")
    view = GANLabFigure(state, pyplot=False)
    view.png()
    train_steps(state, 20)
    view.update(state)
    blitted = np.asarray(Image.open(io.BytesIO(view.png())), dtype=float)
    view._background = None                                     # force a full draw
    full = np.asarray(Image.open(io.BytesIO(view.png())), dtype=float)
    assert blitted.shape == full.shape and np.abs(blitted - full).mean() < 1.0


def test_lab_frames_and_collapse_shown_as_a_warning():
    from metagan_lab.gan.train import reconfigure
    from metagan_lab.widgets.gan import GANLab

    lab = GANLab(chunk=4, max_steps=40)
    fig, png = lab.view.fig, lab.image.value
    frames = lab.frames
    lab.step()
    assert lab.view.fig is fig and lab.image.value != png and lab.frames == frames + 1
    reconfigure(lab.state, collapse_threshold=0.99, collapse_after=0, check_every=1)
    with warnings.catch_warnings(record=True) as caught:       # the status line reports it,
        lab.step()                                              # not a red stderr warning
    assert not [w for w in caught if "mode collapse" in str(w.message)]
    assert lab.state.collapse_step is not None
    assert "⚠" in lab.status.value and "#f0a020" in lab.status.value   # amber, not red
    assert "#d32f2f" not in lab.status.value
