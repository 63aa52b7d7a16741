"""The diversity vs recognisability plane of few-shot generators (Boutin et al., NeurIPS 2022,
Fig. 1): matplotlib only; takes the summary of ``gan.recognisability.summarise_metrics``."""

from __future__ import annotations


def diversity_recognisability_figure(summary: dict[str, dict[str, float]], n_way: int,
                                     title: str | None = None, ax=None):
    """Each method as a point (x: diversity δ, y: recognisability R, bars: 95 % CIs over
    episodes) with the chance level R = 1/N as a dashed line. Returns the Figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
    else:
        fig = ax.figure
    for name, row in summary.items():
        ax.errorbar(row["diversity"], row["recognisability"], xerr=row.get("diversity_ci95"),
                    yerr=row.get("recognisability_ci95"), fmt="o", capsize=3, label=name)
    ax.axhline(1 / n_way, ls="--", c="gray", lw=1, label=f"chance (1/{n_way})")
    ax.set(xlabel="diversity δ (mean feature std in the critic's space)",
           ylabel="recognisability R (critic accuracy)", ylim=(0, 1.05),
           title=title or f"{n_way}-way: diversity vs recognisability")
    ax.legend(fontsize=8, loc="best")
    return fig
