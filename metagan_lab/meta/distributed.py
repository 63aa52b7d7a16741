"""Meta-training over several processes (``torchrun``): a meta-batch's tasks shared out.

Every rank samples the same meta-batch (same seed) and computes only its share of the T tasks;
the gradients of Σ_{i in share} L_query_i(θ'_i) / T are summed over ranks with one
``all_reduce`` per tensor, so every rank holds the full meta-gradient (1/T) Σ_i ∇L_query_i and
takes the same optimiser step. DistributedDataParallel is not used: it does not support the
double backward of second-order MAML. Reptile sums its share of the adapted weights φ̃_i / T.

    torchrun --nproc_per_node=2 -m metagan_lab train maml --device cpu …   (gloo)
    torchrun --nproc_per_node=8 -m metagan_lab train maml --device cuda …  (nccl, one GPU each)

Only rank 0 writes checkpoints and results. ``tests/meta/test_distributed.py`` checks that two
gloo processes give the single-process meta-gradient and parameters (1e-10 in float64).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

from ..types import Episode


@dataclass(frozen=True)
class Shard:
    """This process's place among ``world`` processes."""

    rank: int
    world: int

    def tasks(self, n_tasks: int) -> range:
        """The tasks of this rank: a contiguous share of 0 … T−1 (sizes differ by ≤ 1)."""
        if n_tasks < self.world:
            raise ValueError(f"meta_batch={n_tasks} tasks cannot be shared by {self.world} "
                             f"processes; use --meta-batch >= {self.world}")
        bounds = [n_tasks * r // self.world for r in range(self.world + 1)]
        return range(bounds[self.rank], bounds[self.rank + 1])

    def local(self, episode: Episode) -> Episode:
        share = self.tasks(episode.n_tasks)
        return Episode(*(t[share.start:share.stop] for t in episode))

    def all_reduce_sum(self, tensors: Mapping[str, Tensor]) -> None:
        """In place: each tensor becomes its sum over ranks."""
        for t in tensors.values():
            dist.all_reduce(t, op=dist.ReduceOp.SUM)

    def reduce(self, loss: Tensor, acc: Tensor,
               trainable: Mapping[str, Tensor] | None) -> tuple[Tensor, Tensor]:
        """Sum the ranks' gradients (into ``.grad``) and losses; gather the per-task accuracies
        (returned as their mean over all T tasks, one value)."""
        if trainable is not None:
            self.all_reduce_sum({n: p.grad for n, p in trainable.items() if p.grad is not None})
        stats = torch.stack([loss.detach().reshape(()).to(acc.dtype), acc.sum(),
                             torch.tensor(float(acc.numel()), dtype=acc.dtype,
                                          device=acc.device)])
        dist.all_reduce(stats, op=dist.ReduceOp.SUM)
        return stats[0], (stats[1] / stats[2]).reshape(1)


def from_environment(device: torch.device) -> Shard | None:
    """The shard torchrun describes (WORLD_SIZE > 1), with the process group started; None when
    this is a single process. gloo on CPUs, nccl on GPUs."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend)
    return Shard(dist.get_rank(), dist.get_world_size())


def local_device(device: torch.device) -> torch.device:
    """One GPU per process under torchrun: cuda:LOCAL_RANK."""
    if device.type == "cuda" and "LOCAL_RANK" in os.environ:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    return device


def finish(shard: Shard | None) -> None:
    if shard is not None and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
