"""The restoration objective L(F) + λ R(F) and the restorer, in float64 against hand values."""

import pytest
import torch
from torch.func import functional_call

from metagan_lab.models import params_of
from metagan_lab.restore.metrics import psnr, ssim
from metagan_lab.restore.models import Restorer
from metagan_lab.restore.objectives import (
    data_fidelity,
    restoration_loss,
    restoration_loss_fn,
    total_variation,
)


def test_total_variation_matches_a_hand_computation():
    f = torch.tensor([[[[1.0, 3.0, 2.0],
                        [0.0, 0.5, 4.0]]]], dtype=torch.float64)      # [1, 1, 2, 3]
    # horizontal |3−1| + |2−3| + |0.5−0| + |4−0.5| = 2 + 1 + 0.5 + 3.5 = 7
    # vertical   |0−1| + |0.5−3| + |4−2|           = 1 + 2.5 + 2     = 5.5
    assert total_variation(f).item() == pytest.approx(12.5 / 6, rel=1e-15)
    assert total_variation(torch.full((2, 1, 5, 5), 0.7, dtype=torch.float64)).item() == 0


def test_restoration_loss_is_fidelity_plus_lambda_tv():
    f = torch.tensor([[[[1.0, 3.0], [0.0, 0.5]]]], dtype=torch.float64)
    x = torch.tensor([[[[1.0, 2.0], [1.0, 0.0]]]], dtype=torch.float64)
    mse = (0 + 1 + 1 + 0.25) / 4
    tv = (2 + 0.5 + 1 + 2.5) / 4
    assert data_fidelity(f, x).item() == pytest.approx(mse, rel=1e-15)
    assert restoration_loss(f, x, 0.3).item() == pytest.approx(mse + 0.3 * tv, rel=1e-15)
    assert restoration_loss_fn(0.3)(f, x).item() == pytest.approx(mse + 0.3 * tv, rel=1e-15)
    known = torch.tensor([[[[True, False], [True, True]]]])
    assert data_fidelity(f, x, known).item() == pytest.approx((0 + 1 + 0.25) / 3, rel=1e-15)
    with pytest.raises(ValueError, match=r"tv_weight \(λ\) must be a finite number >= 0, got -1"):
        restoration_loss(f, x, -1.0)


def test_restorer_starts_as_identity_and_matches_functional_call():
    torch.manual_seed(0)
    model = Restorer(hidden=8, depth=3).double()
    y = torch.rand(2, 1, 9, 7, dtype=torch.float64)
    assert torch.equal(model(y), y)
    params = {n: p + 0.01 * torch.randn_like(p) for n, p in params_of(model).items()}
    out = functional_call(model, params, (y,))
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(params[n])
    assert torch.allclose(out, model(y), atol=1e-14) and not torch.equal(out, y)


def test_psnr_and_ssim_come_from_the_library_per_image():
    x = torch.rand(3, 1, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = (x + 0.05).clamp(0, 1)
    mse = (y - x).square().flatten(1).mean(1)
    assert torch.allclose(psnr(y, x), 10 * torch.log10(1 / mse), atol=1e-10)
    assert torch.allclose(ssim(x, x), torch.ones(3, dtype=torch.float64), atol=1e-10)
    assert (ssim(y, x) < 1).all()


def test_relative_scale_makes_doing_nothing_cost_one():
    from metagan_lab.restore.objectives import relative_scale

    x = torch.zeros(1, 1, 2, 2, dtype=torch.float64)
    y = torch.tensor([[[[0.1, -0.1], [0.2, 0.0]]]], dtype=torch.float64)   # L(y, x) = 0.06 / 4
    assert relative_scale(y, x) == pytest.approx(4 / 0.06, rel=1e-12)
    assert relative_scale(x, x) == 1e6                                       # floor 1e-6


def test_normalized_tasks_and_pooled_loss_start_at_one_for_the_identity():
    from metagan_lab.models import params_of
    from metagan_lab.restore.baselines import pretrain_on_all
    from metagan_lab.restore.data import sample_task
    from metagan_lab.restore.degradations import Setting, TaskFamily
    from metagan_lab.restore.meta import RestoreMetaConfig, restorer_task
    from metagan_lab.restore.models import Restorer

    model = Restorer(hidden=2, depth=2).double()                    # identity: F(y) = y
    theta = params_of(model)
    images = torch.rand(8, 1, 8, 8, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(0))
    for s in (Setting("noise", 0.1), Setting("inpaint", 0.6), Setting("blur", 1.0)):
        task = sample_task(images, s, 2, 2, torch.Generator().manual_seed(1))
        problem = restorer_task(model, task, normalize=True)
        assert problem.support_loss(theta).item() == pytest.approx(1.0, rel=1e-12)
        assert problem.query_loss(theta).item() == pytest.approx(1.0, rel=1e-12)
    cfg = RestoreMetaConfig(meta_batch=3, k_shot=2, n_query=2, tv_weight=0.0, normalize=True)
    start = {n: p.detach().clone().requires_grad_() for n, p in theta.items()}
    history = pretrain_on_all(model, start, images, TaskFamily(), cfg, 1, progress=False)
    assert history[0] == pytest.approx(1.0, rel=1e-12)
