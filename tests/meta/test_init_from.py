"""--init-from: meta-training continues from a checkpoint's θ (and Meta-SGD's α)."""

from __future__ import annotations

import pytest
import torch

from metagan_lab.meta.registry import config_for
from metagan_lab.meta.train import init_from, new_learner


def test_init_from_copies_theta_and_alpha_and_refuses_other_shapes():
    source = new_learner(config_for("metasgd", hidden=4, seed=1))
    state = source.state(7)
    target = init_from(new_learner(config_for("metasgd", hidden=4, seed=2)), state)
    for n, p in source.params.items():
        assert torch.equal(target.params[n], p.detach()) and target.params[n].requires_grad
        assert target.params[n].data_ptr() != p.data_ptr()          # a copy, not shared
    for n, a in source.alphas.items():
        assert torch.equal(target.alphas[n], a.detach())
    with pytest.raises(ValueError, match="hidden=4"):
        init_from(new_learner(config_for("maml", hidden=8)), state)
    with pytest.raises(ValueError, match="metasgd checkpoint cannot start a maml run"):
        init_from(new_learner(config_for("maml", hidden=4)), state)
    fomaml = init_from(new_learner(config_for("fomaml", hidden=4)),
                       new_learner(config_for("maml", hidden=4, seed=3)).state(1))
    assert fomaml.config.algorithm == "fomaml"
