"""torchrun's sharding (``meta.distributed``): two gloo processes must reproduce one process.

Reference: the same outer steps in a single process on the whole meta-batch. The first step's
meta-gradient and the parameters after 3 outer steps agree to 1e-6 in float32 and 1e-10 in float64
for MAML, Meta-SGD and Reptile; only the order of a sum over tasks differs.

One exception, checked separately: Conv-4's conv biases sit before batch norm, so their true
gradient is exactly 0 and what autograd returns is rounding noise (~1e-9 in float32); Adam divides
that noise by its own size and moves those biases by up to its step size in a noise-chosen
direction. They are excluded from the parameter comparison after the test has shown their
gradient to be zero up to rounding.
"""

from __future__ import annotations

import os
import warnings

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from metagan_lab.meta.distributed import Shard
from metagan_lab.meta.engines import get_engine
from metagan_lab.meta.registry import ALGORITHMS, config_for
from metagan_lab.meta.train import new_learner
from metagan_lab.types import Episode

STEPS = 3


def _episodes(dtype: torch.dtype) -> list[Episode]:
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(STEPS):
        x_s = torch.rand(4, 5, 1, 28, 28, generator=g)
        x_q = torch.rand(4, 10, 1, 28, 28, generator=g)
        y_s, y_q = torch.arange(5).repeat(4, 1), torch.arange(5).repeat_interleave(2).repeat(4, 1)
        out.append(Episode(x_s.to(dtype), y_s, x_q.to(dtype), y_q))
    return out


def _run(algorithm: str, dtype: torch.dtype, shard: Shard | None) -> dict[str, torch.Tensor]:
    """θ (and α) after STEPS outer steps, plus the first step's meta-gradient ('grad:' keys)."""
    torch.set_num_threads(1)
    cfg = config_for(algorithm, hidden=4, meta_batch=4, inner_steps=2, path="loop",
                     inner_lr=0.4 if algorithm != "reptile" else 0.01,
                     inner_optimizer="sgd")
    learner = new_learner(cfg, "cpu", dtype)
    outer = ALGORITHMS[algorithm].outer_step(learner, get_engine("loop", learner.model, "cpu"),
                                             shard)
    result = {}
    for it, episode in enumerate(_episodes(dtype), start=1):
        outer(episode, it + 1, it / 10)
        if it == 1 and algorithm != "reptile":
            result.update({f"grad:{n}": p.grad.detach().clone()
                           for n, p in learner.trainable.items()})
    result.update({n: p.detach().clone() for n, p in learner.params.items()})
    result.update({f"alpha:{n}": a.detach().clone() for n, a in (learner.alphas or {}).items()})
    return result


def _worker(rank: int, world: int, store: str, algorithm: str, dtype: torch.dtype,
            path: str) -> None:
    # A file store, not a port picked in advance: under `make test` nbval's kernels bind random
    # ports at the same time, and one of them can take a port between picking it and binding it.
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        result = _run(algorithm, dtype, Shard(rank, world))
        if rank == 0:
            torch.save(result, path)
        dist.barrier()      # neither rank tears gloo down while the other still uses it
        open(f"{path}.done{rank}", "w").close()
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-6), (torch.float64, 1e-10)])
@pytest.mark.parametrize("algorithm", ["maml", "metasgd", "reptile"])
def test_two_gloo_processes_equal_one_process(tmp_path, algorithm, dtype, tol):
    path = str(tmp_path / "rank0.pt")
    store = str(tmp_path / "store")
    try:
        mp.spawn(_worker, args=(2, store, algorithm, dtype, path), nprocs=2, join=True)
    except mp.ProcessExitedException as exc:
        # One CI run lost rank 1 to "terminate called without an active exception" (SIGABRT), a
        # C++ abort at an unknown point that 48 local two-process runs (under full CPU load, or
        # with rank 0 slowed by 3 s before saving) did not reproduce. A crash after both ranks
        # passed the final barrier (gloo's teardown) cannot change the saved result; any earlier
        # one still fails the test.
        if not all(os.path.exists(f"{path}.done{r}") for r in range(2)):
            raise
        warnings.warn(f"gloo crashed while tearing down, after the result was saved: {exc}",
                      stacklevel=1)
    sharded, single = torch.load(path), _run(algorithm, dtype, None)
    assert sharded.keys() == single.keys()
    if algorithm != "reptile":
        assert any(k.startswith("grad:") for k in single)
    grads = [n for n in single if n.startswith("grad:")]
    if grads:
        flat = lambda d: torch.cat([d[n].flatten() for n in grads])  # noqa: E731
        err = ((flat(sharded) - flat(single)).norm() / flat(single).norm()).item()
        assert err <= tol, f"{algorithm} {dtype} meta-gradient: relative difference {err:.2e}"
        for name in grads:
            if _before_batch_norm(name):     # zero up to rounding: see the module docstring
                assert single[name].norm() <= 100 * tol * flat(single).norm(), name
    params = [n for n in single if not n.startswith("grad:")
              and not (_before_batch_norm(n) and algorithm != "reptile")]
    flat = lambda d: torch.cat([d[n].flatten() for n in params])  # noqa: E731
    err = ((flat(sharded) - flat(single)).norm() / flat(single).norm()).item()
    assert err <= tol, f"{algorithm} {dtype} parameters after {STEPS} steps: {err:.2e}"


def _before_batch_norm(name: str) -> bool:
    """encoder.<i>.0.bias (optionally alpha:/grad: prefixed): a conv bias followed by BN."""
    parts = name.split(":")[-1].split(".")
    return parts[0] == "encoder" and parts[2:] == ["0", "bias"]


def test_shard_splits_every_task_once():
    shares = [list(Shard(r, 3).tasks(8)) for r in range(3)]
    assert sum(shares, []) == list(range(8)) and [len(s) for s in shares] == [2, 3, 3]
    with pytest.raises(ValueError, match="meta_batch=2 .* 3 processes"):
        Shard(0, 3).tasks(2)
