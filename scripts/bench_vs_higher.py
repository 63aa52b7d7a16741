"""Seconds per second-order MAML meta-iteration: the library's engines against ``higher`` and a
plain hand-written autograd.grad loop, side by side in one process (A/B, interleaved).

    .venv/bin/python scripts/bench_vs_higher.py                   # one JSON line
    .venv/bin/python scripts/bench_vs_higher.py --repeat 9 --paths fused loop

Setting (``metagan-lab bench maml``'s defaults): Conv-4 (64 filters, BatchNorm with batch
statistics), 5-way 1-shot, 5 queries per class, meta-batch 32, one inner step, α = 0.4, float32,
``--threads 1``. Omniglot's meta-training split when found (``METAGAN_LAB_DATA``), else random
28×28 images (the arithmetic is the same).

Contenders, each computing ∇θ of (1/T) Σ_i L_query_i(θ'_i) with a backward per task (only one
task's graph alive), into ``.grad``:

* ``fused``, ``loop`` …: ``get_engine(path).outer_backward`` (the library);
* ``higher``: ``higher.innerloop_ctx`` (``higher==0.2.1``, a benchmark-only dependency:
  ``pip install higher==0.2.1``; skipped with a note when missing);
* ``hand``: ``functional_call`` + ``torch.autograd.grad(create_graph=True)``, the textbook loop.

Each round runs every contender once, in a rotated order; medians over ``--repeat`` rounds of
wall-clock seconds and of the thread's CPU seconds (on a shared machine the second moves less with
the load). Ratios are per round (same round, same load) and then their median. The meta-gradient
of each contender is compared with a float64 per-task loop on the same episode
(‖∇ − ∇_ref‖ / ‖∇_ref‖ of the meta-batch's gradient, and per task: the median and the number of
tasks off by more than 1e-4, where float32 rounding moved a near-tied max-pool window).
``first_call_seconds``: the first call of each contender (nothing is compiled on these paths, so
it is only warm-up).
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch.func import functional_call

from metagan_lab.meta.engines import get_engine
from metagan_lab.meta.functional import InnerLoop
from metagan_lab.meta.registry import config_for
from metagan_lab.meta.train import new_learner
from metagan_lab.tasks.episodes import sample_episode
from metagan_lab.types import Episode


def episode_for(args, generator: torch.Generator) -> tuple[Episode, str]:
    """A meta-training episode from Omniglot when found, else random images."""
    images, source = None, "random"
    if not args.random:
        try:
            from metagan_lab.data import load_classes, meta_split

            images = meta_split(load_classes("omniglot", progress=False)).train
            source = "omniglot"
        except Exception as err:                       # not found: random images, said so
            print(f"bench_vs_higher: Omniglot not loaded ({type(err).__name__}); "
                  "using random 28×28 images", file=sys.stderr)
    if images is None:
        images = torch.randint(0, 256, (64, 20, 28, 28), dtype=torch.uint8, generator=generator)
    return sample_episode(images, args.ways, args.shots, args.queries, args.meta_batch,
                          generator), source


def hand_loop(model, params, episode, alpha):
    """The textbook per-task loop: θ' = θ − α ∇θ L_support(θ) (create_graph), backward per task."""
    n_tasks = episode.n_tasks
    for x_s, y_s, x_q, y_q in zip(*episode):
        loss = F.cross_entropy(functional_call(model, params, (x_s,)), y_s)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
        adapted = {n: p - alpha * g for (n, p), g in zip(params.items(), grads)}
        (F.cross_entropy(functional_call(model, adapted, (x_q,)), y_q) / n_tasks).backward()


def higher_loop(module, optimizer, episode):
    """``higher``'s MAML: a functional copy per task, ``diffopt.step`` tracks the inner step."""
    import higher

    n_tasks = episode.n_tasks
    for x_s, y_s, x_q, y_q in zip(*episode):
        with higher.innerloop_ctx(module, optimizer, copy_initial_weights=False) as (fmodel, opt):
            opt.step(F.cross_entropy(fmodel(x_s), y_s))
            (F.cross_entropy(fmodel(x_q), y_q) / n_tasks).backward()


def contenders(args, learner):
    """name → (leaves whose .grad is the meta-gradient, run(episode): one meta-iteration)."""
    model, params = learner.model, learner.params
    inner = InnerLoop(args.inner_lr, args.steps)
    out = {}
    for path in args.paths:
        engine = get_engine(path, model, "cpu")
        leaves = {n: p.detach().clone().requires_grad_() for n, p in params.items()}
        out[path] = (leaves, lambda ep, e=engine, p=leaves: e.outer_backward(
            model, p, ep, inner, 1.0 / ep.n_tasks))
    if args.steps == 1:
        hand = {n: p.detach().clone().requires_grad_() for n, p in params.items()}
        out["hand"] = (hand, lambda ep: hand_loop(model, hand, ep, args.inner_lr))
        try:
            import higher  # noqa: F401
        except ImportError:
            print("bench_vs_higher: `higher` not installed (pip install higher==0.2.1); "
                  "skipping it", file=sys.stderr)
        else:
            module = copy.deepcopy(model)
            with torch.no_grad():
                for n, p in module.named_parameters():
                    p.copy_(params[n])
            sgd = torch.optim.SGD(module.parameters(), lr=args.inner_lr)
            out["higher"] = (dict(module.named_parameters()),
                             lambda ep: higher_loop(module, sgd, ep))
    return out


def per_task_gradients(leaves: dict, run, episode: Episode) -> torch.Tensor:
    """[T, |θ|]: each task's meta-gradient ∇θ L_query_i(θ'_i), one task per call."""
    rows = []
    for t in range(episode.n_tasks):
        for p in leaves.values():
            p.grad = None
        run(Episode(*(v[t:t + 1] for v in episode)))
        rows.append(torch.cat([p.grad.reshape(-1) for p in leaves.values()]).double())
    return torch.stack(rows)


def reference_per_task(learner, episode, args) -> torch.Tensor:
    """[T, |θ|]: the float64 per-task loop's meta-gradients on the same episode and θ."""
    model = copy.deepcopy(learner.model).double()
    params = {n: p.detach().double().requires_grad_() for n, p in learner.params.items()}
    ep64 = Episode(episode.support_x.double(), episode.support_y, episode.query_x.double(),
                   episode.query_y)
    engine, inner = get_engine("loop", model, "cpu"), InnerLoop(args.inner_lr, args.steps)
    return per_task_gradients(params, lambda ep: engine.outer_backward(model, params, ep, inner,
                                                                       1.0), ep64)


def gradient_errors(grads: torch.Tensor, ref: torch.Tensor) -> dict:
    """‖∇ − ∇_ref‖ / ‖∇_ref‖ of the meta-batch's meta-gradient (the mean over tasks), and per
    task: the median, and how many tasks are off by more than 1e-4 (float32 rounding that moves
    a near-tied max-pool window: that task's gradient then takes the other element's share)."""
    mean, mean_ref = grads.mean(0), ref.mean(0)
    per_task = (grads - ref).norm(dim=1) / ref.norm(dim=1)
    return {"meta_batch": float((mean - mean_ref).norm() / mean_ref.norm()),
            "per_task_median": float(per_task.median()),
            "tasks_over_1e-4": int((per_task > 1e-4).sum())}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--paths", nargs="+", default=["fused", "loop"],
                   help="library engines to time (besides higher and the hand loop)")
    p.add_argument("--repeat", type=int, default=7, help="timed rounds (medians)")
    p.add_argument("--warmup", type=int, default=1, help="untimed rounds after the first call")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--ways", type=int, default=5)
    p.add_argument("--shots", type=int, default=1)
    p.add_argument("--queries", type=int, default=5)
    p.add_argument("--meta-batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=1, help="inner steps (higher/hand: 1 only)")
    p.add_argument("--inner-lr", type=float, default=0.4)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--random", action="store_true", help="random images, not Omniglot")
    p.add_argument("--no-check", action="store_true", help="skip the float64 comparison")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    cfg = config_for("maml", n_way=args.ways, k_shot=args.shots, n_query=args.queries,
                     meta_batch=args.meta_batch, inner_lr=args.inner_lr,
                     inner_steps=args.steps, hidden=args.hidden, seed=args.seed)
    learner = new_learner(cfg, "cpu")
    episode, source = episode_for(args, torch.Generator().manual_seed(args.seed))
    runs = contenders(args, learner)
    names = list(runs)

    def clear():
        for leaves, _ in runs.values():
            for t in leaves.values():
                t.grad = None

    first, errors = {}, {}
    for name, (_, run) in runs.items():                      # the first call of each
        clear()
        start = time.perf_counter()
        run(episode)
        first[name] = round(time.perf_counter() - start, 3)
    if not args.no_check:
        ref = reference_per_task(learner, episode, args)
        for name, (leaves, run) in runs.items():
            errors[name] = gradient_errors(per_task_gradients(leaves, run, episode), ref)
    for _ in range(args.warmup):
        for _, run in runs.values():
            clear()
            run(episode)
    wall = {n: [] for n in names}
    cpu = {n: [] for n in names}
    for r in range(args.repeat):
        for name in names[r % len(names):] + names[: r % len(names)]:      # rotated order
            clear()
            w, c = time.perf_counter(), time.thread_time()
            runs[name][1](episode)
            cpu[name].append(time.thread_time() - c)
            wall[name].append(time.perf_counter() - w)
    med = lambda xs: statistics.median(xs)  # noqa: E731

    def ratios(times, base):
        """Per round: base's seconds / each contender's (> 1: faster than base); median."""
        if base not in times:
            return None
        return {n: round(med([b / t for b, t in zip(times[base], times[n])]), 3)
                for n in names}

    result = {
        "setting": {"algorithm": "maml", "n_way": args.ways, "k_shot": args.shots,
                    "n_query": args.queries, "meta_batch": args.meta_batch,
                    "inner_steps": args.steps, "inner_lr": args.inner_lr,
                    "hidden": args.hidden, "dtype": "float32", "dataset": source},
        "seconds_per_iteration": {n: round(med(wall[n]), 4) for n in names},
        "cpu_seconds_per_iteration": {n: round(med(cpu[n]), 4) for n in names},
        "speedup_vs_higher": ratios(wall, "higher"),
        "speedup_vs_higher_cpu": ratios(cpu, "higher"),
        "speedup_vs_hand": ratios(wall, "hand"),
        "speedup_vs_hand_cpu": ratios(cpu, "hand"),
        "meta_gradient_rel_err_vs_float64": errors,
        "first_call_seconds": first,
        "repeat": args.repeat, "threads": torch.get_num_threads(),
        "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
