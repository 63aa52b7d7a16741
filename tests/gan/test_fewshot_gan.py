"""Reptile GAN: the inner loop against a hand-written D-then-G SGD step (float64), Reptile's outer
step, K validation, Fréchet distance against a scipy reference, and a tiny end-to-end evaluation."""

import dataclasses

import pytest
import scipy.linalg
import torch
from torch import nn

from metagan_lab.checks import TrainingDiverged
from metagan_lab.gan.fewshot import (
    FewShotGANConfig,
    GANClassTask,
    adapt_gan,
    adapt_gan_task,
    check_k_shot,
    gan_inner_loop,
    generate,
    make_gan,
    meta_train_gan,
    reptile_gan_step,
)
from metagan_lab.gan.fewshot_eval import evaluate_fewshot
from metagan_lab.gan.losses import discriminator_loss_minimax, generator_loss_nonsaturating
from metagan_lab.gan.metrics import FeatureNet, frechet_distance, sample_grid
from metagan_lab.models import params_of

CFG = FewShotGANConfig(z_dim=3, width=4, inner_lr=0.1, inner_steps=2, meta_batch=2, task_batch=3)


def tiny_gan():
    G, D = make_gan(CFG)
    return G.double(), D.double()


def images(n=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, dtype=torch.float64, generator=gen)


def test_one_inner_step_is_a_d_step_then_a_g_step():
    G, D = tiny_gan()
    tg, td = params_of(G), params_of(D)
    x = images()
    phi_g, phi_d = gan_inner_loop(G, D, tg, td, x, 1, 0.1, "nonsaturating",
                                  rng=torch.Generator().manual_seed(7))
    rng = torch.Generator().manual_seed(7)                               # the same noise by hand
    z1 = torch.randn(5, 3, generator=rng, dtype=torch.float64)
    fake = G(z1).detach()
    d_loss = discriminator_loss_minimax(D(x), D(fake))
    grads = torch.autograd.grad(d_loss, list(D.parameters()))
    with torch.no_grad():
        for p, g in zip(D.parameters(), grads):
            p -= 0.1 * g
    z2 = torch.randn(5, 3, generator=rng, dtype=torch.float64)
    g_loss = generator_loss_nonsaturating(D(G(z2)))
    grads = torch.autograd.grad(g_loss, list(G.parameters()))
    with torch.no_grad():
        for p, g in zip(G.parameters(), grads):
            p -= 0.1 * g
    for (name, p) in D.named_parameters():
        assert torch.allclose(phi_d[name], p, atol=1e-12), name
    for (name, p) in G.named_parameters():
        assert torch.allclose(phi_g[name], p, atol=1e-12), name


def test_reptile_step_with_epsilon_one_and_one_task_lands_on_the_adapted_weights():
    G, D = tiny_gan()
    tg, td = params_of(G, False), params_of(D, False)
    classes = torch.rand(4, 6, 1, 28, 28, dtype=torch.float64)
    cfg = FewShotGANConfig(**{**CFG.__dict__, "epsilon": 1.0, "meta_batch": 1})
    new_g, new_d = reptile_gan_step(G, D, tg, td, classes, cfg, torch.Generator().manual_seed(1))
    rng = torch.Generator().manual_seed(1)
    c = torch.randperm(4, generator=rng)[0].item()
    phi_g, phi_d = gan_inner_loop(G, D, tg, td, classes[c], cfg.inner_steps, cfg.inner_lr,
                                  cfg.loss, cfg.task_batch, rng)
    assert all(torch.allclose(new_g[k], phi_g[k]) for k in tg)
    assert all(torch.allclose(new_d[k], phi_d[k]) for k in td)
    assert not torch.allclose(new_g["fc.weight"], tg["fc.weight"])


def test_zero_adaptation_steps_return_the_initialisation():
    G, D = tiny_gan()
    tg, td = params_of(G, False), params_of(D, False)
    phi_g, _ = adapt_gan(G, D, tg, td, images(4), 0, 0.1)
    assert all(torch.equal(phi_g[k], tg[k]) for k in tg)


@pytest.mark.parametrize("k", [0, 11, 2.5])
def test_invalid_k_shot_raises_naming_it(k):
    with pytest.raises(ValueError, match=f"k_shot.*{k}"):
        check_k_shot(k, 10)


def test_invalid_inner_lr_raises():
    G, D = tiny_gan()
    with pytest.raises(ValueError, match="inner_lr"):
        adapt_gan(G, D, params_of(G), params_of(D), images(2), 1, -0.5)


class Project(nn.Module):
    """A fixed linear feature map φ(x) = W·vec(x) to 3 dimensions."""

    num_features = 3

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(3, 784, generator=torch.Generator().manual_seed(0)) / 28)

    def forward(self, x):
        return x.flatten(1).double() @ self.w.double().T


def test_frechet_distance_matches_scipy_sqrtm_reference():
    real, fake = images(40, 1), 0.8 * images(30, 2) + 0.1
    phi = Project()
    with torch.no_grad():
        a, b = phi(real).numpy(), phi(fake).numpy()
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = torch.tensor(a).T.cov().numpy(), torch.tensor(b).T.cov().numpy()
    ref = ((mu_a - mu_b) ** 2).sum() + (ca + cb - 2 * scipy.linalg.sqrtm(ca @ cb).real).trace()
    assert frechet_distance(real, fake, phi) == pytest.approx(float(ref), rel=1e-4)
    assert frechet_distance(real, real, phi) == pytest.approx(0.0, abs=1e-6)


def test_meta_training_and_evaluation_end_to_end():
    data = (torch.rand(6, 8, 28, 28) * 255).to(torch.uint8)
    cfg = FewShotGANConfig(z_dim=4, width=4, inner_steps=1, meta_batch=2, task_batch=2)
    G, D, tg, td = meta_train_gan(data[:4], cfg, iterations=2)
    feature = FeatureNet(nn.Sequential(nn.Flatten(), nn.Linear(784, 4)), 4)
    res = evaluate_fewshot(G, D, {"adapted": (tg, td), "init": (tg, td)}, data[4:], feature,
                           k_shot=2, inner_steps=1, inner_lr=0.05, n_classes=2, n_fake=5,
                           adapt_methods=("adapted",))
    assert set(res) == {"adapted", "init"} and all(len(v) == 2 for v in res.values())
    assert all(v == v and v >= 0 for vals in res.values() for v in vals)   # finite, non-negative
    grid = sample_grid(generate(G, tg, 6), nrow=3)
    assert grid.shape == (2 + 2 * 30, 2 + 3 * 30)


def test_reptile_moves_g_and_d_together_toward_the_mean_of_the_class_tasks():
    G, D = tiny_gan()
    tg, td = params_of(G, False), params_of(D, False)
    classes = torch.rand(4, 6, 1, 28, 28, dtype=torch.float64)
    cfg = dataclasses.replace(CFG, epsilon=0.5, meta_batch=2)
    new_g, new_d = reptile_gan_step(G, D, tg, td, classes, cfg, torch.Generator().manual_seed(3))
    rng = torch.Generator().manual_seed(3)                 # the same draws, task by task
    chosen = torch.randperm(4, generator=rng)[:2].tolist()
    phis = [adapt_gan_task(GANClassTask(G, D, classes[c], cfg.loss, cfg.task_batch, rng), tg, td,
                           cfg.inner()) for c in chosen]
    for new, theta, i in ((new_g, tg, 0), (new_d, td, 1)):
        for k in theta:
            mean = (phis[0][i][k] + phis[1][i][k]) / 2
            assert torch.allclose(new[k], theta[k] + 0.5 * (mean - theta[k]), atol=1e-14), k
    assert all(torch.equal(params_of(G, False)[k], tg[k]) for k in tg)   # θ is not mutated


def test_a_diverging_meta_training_raises_training_diverged(tmp_path):
    data = (torch.rand(4, 6, 28, 28, generator=torch.Generator().manual_seed(0)) * 255)
    cfg = FewShotGANConfig(z_dim=4, width=4, inner_steps=1, meta_batch=2, task_batch=2,
                           inner_lr=1e9)
    path = tmp_path / "gan.pt"
    with pytest.raises(TrainingDiverged, match=r"Reptile GAN, iteration 1: .*lower inner_lr "
                                               r"\(now 1e\+09\).*no checkpoint was written"):
        meta_train_gan(data.to(torch.uint8), cfg, iterations=3, checkpoint=path)
    assert not path.exists()


def test_meta_training_writes_a_finite_checkpoint(tmp_path):
    data = (torch.rand(4, 6, 28, 28, generator=torch.Generator().manual_seed(0)) * 255)
    cfg = FewShotGANConfig(z_dim=4, width=4, inner_steps=1, meta_batch=2, task_batch=2)
    path = tmp_path / "gan.pt"
    _, _, tg, td = meta_train_gan(data.to(torch.uint8), cfg, iterations=2, checkpoint=path)
    saved = torch.load(path, weights_only=True)
    assert saved["iteration"] == 2 and saved["config"]["z_dim"] == 4
    assert all(torch.equal(saved["theta_g"][k], tg[k]) for k in tg)
    assert all(torch.equal(saved["theta_d"][k], td[k]) for k in td)


@pytest.mark.parametrize("field, value", [("epsilon", 1.5), ("epsilon", 0.0), ("meta_batch", 0),
                                          ("inner_lr", float("nan"))])
def test_bad_meta_training_settings_are_refused_naming_them(field, value):
    data = torch.zeros(2, 3, 28, 28, dtype=torch.uint8)
    with pytest.raises(ValueError, match=field):
        meta_train_gan(data, dataclasses.replace(CFG, **{field: value}), iterations=1)
