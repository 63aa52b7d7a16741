"""meta/task.py: the algorithms written on the Task protocol give the episode functions' numbers."""

import pytest
import torch
import torch.nn.functional as F
from meta_helpers import rel_err, tiny_conv4, tiny_episode

from metagan_lab.meta.anil import head_names
from metagan_lab.meta.functional import InnerLoop, adapt
from metagan_lab.meta.maml import maml_outer_loss, meta_gradient
from metagan_lab.meta.reptile import reptile_step
from metagan_lab.meta.task import SupervisedTask, adapt_task, maml_task_loss, reptile_task_step


def tasks_of(model, episode, loss=F.cross_entropy):
    return [SupervisedTask(model, sx, sy, qx, qy, loss) for sx, sy, qx, qy in zip(*episode)]


@pytest.mark.parametrize("inner", [InnerLoop(0.4, 1), InnerLoop(0.3, 2),
                                   InnerLoop(0.3, 2, first_order=True)],
                         ids=["maml-1", "maml-2", "fomaml-2"])
def test_maml_task_loss_equals_maml_outer_loss_on_the_same_episode(inner):
    episode = tiny_episode()
    model, params = tiny_conv4()
    ours = maml_task_loss(tasks_of(model, episode), params, inner)
    reference = maml_outer_loss(model, params, episode, inner)
    assert ours.dtype == torch.float64
    assert abs(ours.item() - reference.item()) <= 1e-12 * abs(reference.item())
    assert rel_err(meta_gradient(ours, params), meta_gradient(reference, params)) <= 1e-12


def test_maml_task_loss_for_anil_and_meta_sgd():
    episode = tiny_episode()
    model, params = tiny_conv4()
    alphas = {n: torch.full_like(p, 0.2).requires_grad_() for n, p in params.items()}
    for inner in (InnerLoop(0.4, 2, adapted=head_names(params)), InnerLoop(alphas, 1)):
        ours = maml_task_loss(tasks_of(model, episode), params, inner)
        reference = maml_outer_loss(model, params, episode, inner)
        assert abs(ours.item() - reference.item()) <= 1e-12 * abs(reference.item())
        leaves = {**params, **({f"α:{n}": a for n, a in alphas.items()}
                               if isinstance(inner.lr, dict) else {})}
        assert rel_err(meta_gradient(ours, leaves), meta_gradient(reference, leaves)) <= 1e-12


def test_adapt_task_and_reptile_task_step_equal_the_episode_versions():
    episode = tiny_episode()
    model, params = tiny_conv4()
    tasks = tasks_of(model, episode)
    inner = InnerLoop(0.3, 3, first_order=True)
    ours = adapt_task(tasks[1], params, inner)
    reference = adapt(model, params, episode.support_x[1], episode.support_y[1], inner)
    assert rel_err(ours, reference) <= 1e-12
    new = reptile_task_step(tasks, params, InnerLoop(0.3, 3), 0.5)
    assert rel_err(new, reptile_step(model, params, episode, InnerLoop(0.3, 3), 0.5)) <= 1e-12
    assert all(not p.requires_grad for p in new.values())
    with pytest.raises(ValueError, match="epsilon"):
        reptile_task_step(tasks, params, inner, 0.0)
