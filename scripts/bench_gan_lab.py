"""Frames per second of the GAN lab (notebook 06): the previous way (a new figure per frame,
saved with a tight bounding box) against the lab's persistent figure (``viz.gan.GANLabFigure``:
artists moved in place, one Agg draw, PNG sent to an ``ipywidgets.Image``).

    .venv/bin/python scripts/bench_gan_lab.py            # prints one JSON object
    .venv/bin/python scripts/bench_gan_lab.py --seconds 10

``render``: frames/s of drawing alone (same state, 60×60 surface, 512 points) and CPU ms per
frame (frames/s on a busy machine fall with the load; CPU time per frame does not).
``play``: frames/s and training steps/s of the play loop, headless, for ``--seconds`` each: the
previous loop (25 steps, then a new figure) and ``GANLab.play`` (as many steps as fit in a
1/25 s frame, at least as long as a frame takes to draw).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time

os.environ.setdefault("MPLBACKEND", "Agg")


def rebuilt_frame(state, extent: float = 3.0, n_points: int = 512, resolution: int = 60):
    """The lab's frame before the persistent figure (kept here to measure against)."""
    import matplotlib.pyplot as plt
    import torch

    from metagan_lab.gan.toy2d import evaluate_on_grid
    from metagan_lab.gan.train import sample_noise

    x_real, _ = state.sample_real(n_points, torch.Generator().manual_seed(0))
    with torch.no_grad():
        fake = state.generator(sample_noise(state, n_points)).cpu()
    D = state.discriminator
    xs, ys, logits = evaluate_on_grid(lambda p: D(p.to(state.device)).cpu(), extent, resolution)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
    im = ax.imshow(torch.sigmoid(logits).numpy(), origin="lower", cmap="RdBu_r", vmin=0, vmax=1,
                   extent=(-extent, extent, -extent, extent), alpha=0.8)
    ax.scatter(x_real[:, 0], x_real[:, 1], s=4, c="black", label="real x")
    ax.scatter(fake[:, 0], fake[:, 1], s=4, c="tab:red", label="G(z)")
    ax.set(xlim=(-extent, extent), ylim=(-extent, extent), title=f"step {state.step}: σ(D(x))")
    ax.legend(loc="upper right", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046)
    h = state.history
    ax2.plot(h["step"], h["d_loss"], label="D loss")
    ax2.plot(h["step"], h["g_loss"], label="G loss")
    ax2.set(xlabel="step", title=f"losses ({state.cfg.loss})")
    ax2.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def rate(fn, seconds: float) -> dict:
    """Calls of ``fn`` per second of wall time over about ``seconds`` (at least 3 calls), and
    the process CPU time per call (what a frame costs on an idle core, whatever the load)."""
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while n < 3 or time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return {"fps": n / (time.perf_counter() - t0),
            "cpu_ms_per_frame": 1e3 * (time.process_time() - c0) / n}


def bench(seconds: float = 5.0, threads: int = 1) -> dict:
    import torch

    from metagan_lab.gan.train import train_steps
    from metagan_lab.viz.gan import GANLabFigure
    from metagan_lab.widgets.gan import GANLab, toy_lab_state

    torch.set_num_threads(threads)
    state = train_steps(toy_lab_state("ring"), 200)
    view = GANLabFigure(state, pyplot=False)
    render = {"rebuilt": rate(lambda: rebuilt_frame(state), seconds),
              "persistent": rate(lambda: (view.update(state), view.png()), seconds)}

    state = toy_lab_state("ring")
    frames, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        train_steps(state, 25)
        rebuilt_frame(state)
        frames += 1
    elapsed = time.perf_counter() - t0
    before = {"fps": frames / elapsed, "steps_per_s": state.step / elapsed}

    lab = GANLab("ring", max_steps=10**9)
    frames0, t0 = lab.frames, time.perf_counter()
    lab.play()
    time.sleep(seconds)
    lab.pause()
    elapsed = time.perf_counter() - t0
    after = {"fps": (lab.frames - frames0) / elapsed, "steps_per_s": lab.state.step / elapsed}
    return {"render": render, "play": {"rebuilt_25_steps": before, "lab": after},
            "threads": threads, "cores": os.cpu_count(), "torch": torch.__version__,
            "loadavg": os.getloadavg()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    p.add_argument("--threads", type=int, default=1, help="torch threads (the notebook uses 1)")
    a = p.parse_args()
    print(json.dumps(bench(a.seconds, a.threads), indent=1))


if __name__ == "__main__":
    main()
