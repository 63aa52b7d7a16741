"""Widget for notebook 07, last section: personalised generation (issue #12).

A thin view over ``gan.personalise``: the shot and a grid of samples with a toggle under each
(``set_picks`` clicks them without a browser), sliders for the steps k and the step size α, and an
"adapt" button that runs ``personalised_routes`` (the heavy work happens on the button only) and
shows the new samples of each route and their distances to the picked and unpicked samples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor

from ..gan.personalise import (
    N_PICKS,
    Personalised,
    check_picks,
    draw_grid,
    personalised_routes,
    pixels,
    split_picks,
)
from ..gan.statistician import Statistician
from .fewshot import _show  # sets Output.outputs; see there why not `with out: display(…)`
from .gan import notice_html

COLUMNS = 8           # samples per row of the grid


def measure_figure(result: Personalised, feature_space: str = "pixels"):
    """Left: mean distance of each route's new samples to the picked mean m_P and to the unpicked
    mean m_U (lower to m_P, higher to m_U: towards the picks). Right: L(P) before each step."""
    import matplotlib.pyplot as plt

    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(10, 3), width_ratios=(3, 2))
    names = list(result.closeness)
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], [result.closeness[n].to_picked for n in names], 0.4,
           label="to picked mean m_P", color="tab:green")
    ax.bar([i + 0.2 for i in x], [result.closeness[n].to_unpicked for n in names], 0.4,
           label="to unpicked mean m_U", color="tab:gray")
    ax.set_xticks(list(x), [f"{n}\nmargin {result.closeness[n].margin:+.3f}" for n in names],
                  fontsize=8)
    ax.set_ylabel(f"mean distance ({feature_space})")
    ax.legend(fontsize=8)
    ax_loss.plot(range(1, len(result.losses) + 1), result.losses, "o-", ms=3)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("−ELBO of P (one draw of ε)")
    ax_loss.set_title("0 steps: nothing to plot" if not result.losses else "", fontsize=9)
    fig.tight_layout()
    return fig


class PersonaliseView:
    """Pick ``n_picks`` of ``n`` samples drawn from ``shot``, choose k and α, press "adapt"."""

    def __init__(self, model: Statistician, shot: Tensor, n: int = 16, seed: int = 0,
                 embed: Callable[[Tensor], Tensor] = pixels, feature_space: str = "pixels",
                 n_picks: int = N_PICKS):
        import ipywidgets as w

        from ..runs.images import grid_png

        self.model, self.shot, self.seed, self.n_picks = model, shot, seed, n_picks
        self.embed, self.feature_space = embed, feature_space
        self.grid = draw_grid(model, shot, n, seed)                       # [n, 1, 28, 28]
        self.result: Personalised | None = None
        self.toggles = [w.ToggleButton(False, description=f"#{i}", layout=w.Layout(width="64px"))
                        for i in range(n)]
        cells = [w.VBox([w.Image(value=grid_png(self.grid[i:i + 1], 1), width=64, height=64),
                         t]) for i, t in enumerate(self.toggles)]
        self.steps = w.IntSlider(5, min=0, max=20, description="steps k")
        self.lr = w.FloatLogSlider(1e-3, base=10, min=-4, max=-1, description="α (Adam)")
        self.button = w.Button(description="adapt", button_style="primary")
        self.status = w.HTML()
        self.samples_out, self.measure_out = w.Output(), w.Output()
        for t in self.toggles:
            t.observe(lambda _: self._say_picks(), names="value")
        self.button.on_click(lambda _: self.adapt())
        shot_box = w.VBox([w.Label("the shot"), w.Image(value=grid_png(shot.cpu()), width=64,
                                                        height=64)])
        self.widget = w.VBox([
            w.HBox([shot_box, w.GridBox(cells, layout=w.Layout(
                grid_template_columns=f"repeat({COLUMNS}, 72px)"))]),
            w.HBox([self.steps, self.lr, self.button]), self.status,
            self.samples_out, self.measure_out])
        self._say_picks()

    @property
    def picked(self) -> list[int]:
        """P: the indices whose toggle is down, in grid order."""
        return [i for i, t in enumerate(self.toggles) if t.value]

    def set_picks(self, picked: Sequence[int]) -> None:
        """Click the toggles of ``picked`` (and release the others), as a learner would."""
        picks = set(check_picks(picked, len(self.toggles), None))
        for i, t in enumerate(self.toggles):
            t.value = i in picks

    def _say_picks(self) -> None:
        self.status.value = notice_html(f"picked {self.picked}: {len(self.picked)} of "
                                        f"{self.n_picks}; then press adapt")

    def adapt(self) -> Personalised | None:
        """Run ``personalised_routes`` on the picks with the sliders' k and α and show the result;
        a bad choice (not exactly ``n_picks`` picks) is shown in the status line instead."""
        try:
            check_picks(self.picked, len(self.toggles), self.n_picks)
        except ValueError as exc:
            self.status.value = notice_html(str(exc), "error")
            return None
        self.button.disabled = True
        self.status.value = notice_html(f"adapting to {self.picked} for {self.steps.value} steps…")
        try:
            self.result = personalised_routes(self.model, self.shot, self.grid, self.picked,
                                      self.steps.value, self.lr.value, self.seed, self.embed)
        finally:
            self.button.disabled = False
        self.show()
        return self.result

    def show(self) -> None:
        """Draw the last result: the picks and each route's new samples, then the measure."""
        from ..viz.gan import image_rows_figure

        r = self.result
        if r is None:
            return
        chosen, _ = split_picks(self.grid, r.picked, None)
        rows = {"the shot": self.shot.cpu(), "picked P": chosen} | {
            k: v.cpu() for k, v in r.samples.items()}
        _show(self.samples_out, image_rows_figure(rows, nrow=len(self.grid)))
        _show(self.measure_out, measure_figure(r, self.feature_space))
        after = list(r.neg_elbo)[-1]
        self.status.value = notice_html(
            f"P = {r.picked} · −ELBO of P: {r.neg_elbo[list(r.neg_elbo)[1]]:.1f} with θ, "
            f"{r.neg_elbo[after]:.1f} with θ' ({after}) · margin d̄_U − d̄_P: " + ", ".join(
                f"{k} {c.margin:+.3f}" for k, c in r.closeness.items()))

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
