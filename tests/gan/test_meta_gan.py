"""MAML / FOMAML GAN and the WGAN-GP inner loss, in float64 on tiny smooth players.

References, each independent of ``gan.fewshot``:
- MAML's meta-gradient of one class (k = 1, 2) against central finite differences of the query
  loss of a hand-written D-then-G SGD step (plain tensor algebra, no functional_call);
- FOMAML's against finite differences of the query loss at the adapted weights φ;
- one outer Adam step against its first-step closed form θ − β g / (|g| + ε_Adam);
- the WGAN-GP inner loss of a linear critic against (w·(mean G(z) − mean x)) + λ(‖w‖ − 1)².
"""

import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from metagan_lab.cli import main
from metagan_lab.gan.fewshot import (
    META_STEPS,
    FewShotGANConfig,
    GANClassTask,
    adapt_gan_task,
    check_fewshot_config,
    gan_adapter,
    maml_gan_gradients,
    maml_gan_step,
    meta_train_gan,
)
from metagan_lab.gan.losses import gradient_penalty
from metagan_lab.meta.functional import InnerLoop
from metagan_lab.models import params_of

ALPHA, N, Z, X = 0.3, 5, 2, 4          # inner α, images per class, z and data sizes


class TinyG(nn.Module):
    """G(z) = W2 tanh(W1 z + b1) + b2: z [b, 2] → x [b, 4]."""

    z_dim = Z

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(Z, 3), nn.Tanh(), nn.Linear(3, X))

    def forward(self, z):
        return self.net(z)


class TinyD(nn.Module):
    """D(x) = v tanh(V x + c) + d: x [b, 4] → logits [b]."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(X, 3), nn.Tanh(), nn.Linear(3, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)


class LinearCritic(nn.Module):
    """D(x) = w·x + b: x [b, 4] → scores [b]; ∇_x D(x) = w everywhere."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(X, 1)

    def forward(self, x):
        return self.lin(x).squeeze(-1)


def players():
    torch.manual_seed(0)
    return TinyG().double(), TinyD().double()


def mlp(p, x):
    """The same two-layer tanh MLP, written out: W2 tanh(W1 x + b1) + b2."""
    h = torch.tanh(x @ p["net.0.weight"].T + p["net.0.bias"])
    return h @ p["net.2.weight"].T + p["net.2.bias"]


def l_d(pd, x, fake):
    """Non-saturating GAN: L_D = softplus(−D(x)) + softplus(D(G(z))), batch means."""
    return F.softplus(-mlp(pd, x)).mean() + F.softplus(mlp(pd, fake)).mean()


def l_g(pg, pd, z):
    """L_G = softplus(−D(G(z))), batch mean."""
    return F.softplus(-mlp(pd, mlp(pg, z))).mean()


def sgd(p, loss):
    grads = torch.autograd.grad(loss, list(p.values()))
    return {k: (v - ALPHA * g).detach().requires_grad_() for (k, v), g in zip(p.items(), grads)}


def reference_query_losses(tg, td, x, seed, k):
    """(L_G^q, L_D^q) after k hand-written (D step, G step) pairs, with the noise the task draws
    (batch_size None: z_D, z_G per sample(), from a generator seeded ``seed``)."""
    rng = torch.Generator().manual_seed(seed)
    noise = lambda: torch.randn(N, Z, generator=rng, dtype=torch.float64)  # noqa: E731
    pg = {n: v.detach().requires_grad_() for n, v in tg.items()}
    pd = {n: v.detach().requires_grad_() for n, v in td.items()}
    for _ in range(k):
        z_d, z_g = noise(), noise()
        pd = sgd(pd, l_d(pd, x, mlp(pg, z_d).detach()))
        pg = sgd(pg, l_g(pg, pd, z_g))
    z_d, z_g = noise(), noise()
    return l_g(pg, pd, z_g).item(), l_d(pd, x, mlp(pg, z_d)).item(), pg, pd, (z_d, z_g)


def central_difference(f, params, h=1e-6):
    """∂f/∂p for every entry of every tensor of ``params``, (f(p + h) − f(p − h)) / 2h."""
    out = {}
    for name, value in params.items():
        grad = torch.zeros_like(value)
        for i in range(value.numel()):
            e = torch.zeros_like(value).view(-1)
            e[i] = h
            plus = f({**params, name: value + e.view_as(value)})
            minus = f({**params, name: value - e.view_as(value)})
            grad.view(-1)[i] = (plus - minus) / (2 * h)
        out[name] = grad
    return out


def class_images():
    return torch.rand(N, X, dtype=torch.float64, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("k", [1, 2])
def test_maml_meta_gradient_is_the_finite_difference_derivative_of_the_query_loss(k):
    G, D = players()
    tg, td, x = params_of(G, False), params_of(D, False), class_images()
    task = GANClassTask(G, D, x, rng=torch.Generator().manual_seed(3))
    g_g, g_d = maml_gan_gradients(task, tg, td, InnerLoop(lr=ALPHA, steps=k, first_order=False))
    ref_g = central_difference(lambda p: reference_query_losses(p, td, x, 3, k)[0], tg)
    ref_d = central_difference(lambda p: reference_query_losses(tg, p, x, 3, k)[1], td)
    for got, ref in ((g_g, ref_g), (g_d, ref_d)):
        for name in ref:
            assert torch.allclose(got[name], ref[name], atol=1e-8, rtol=1e-6), name
    fomaml, _ = maml_gan_gradients(GANClassTask(G, D, x, rng=torch.Generator().manual_seed(3)),
                                   tg, td, InnerLoop(lr=ALPHA, steps=k, first_order=True))
    assert not torch.allclose(fomaml["net.0.weight"], g_g["net.0.weight"], atol=1e-6)


def test_fomaml_meta_gradient_is_the_query_gradient_at_the_adapted_weights():
    G, D = players()
    tg, td, x = params_of(G, False), params_of(D, False), class_images()
    task = GANClassTask(G, D, x, rng=torch.Generator().manual_seed(4))
    g_g, g_d = maml_gan_gradients(task, tg, td, InnerLoop(lr=ALPHA, steps=1, first_order=True))
    _, _, pg, pd, (z_d, z_g) = reference_query_losses(tg, td, x, 4, 1)
    pg = {n: v.detach() for n, v in pg.items()}
    pd = {n: v.detach() for n, v in pd.items()}
    ref_g = central_difference(lambda p: l_g(p, pd, z_g).item(), pg)
    ref_d = central_difference(lambda p: l_d(p, x, mlp(pg, z_d)).item(), pd)
    for got, ref in ((g_g, ref_g), (g_d, ref_d)):
        for name in ref:
            assert torch.allclose(got[name], ref[name], atol=1e-8, rtol=1e-6), name


def test_maml_step_is_one_adam_step_on_the_class_meta_gradient():
    G, D = players()
    tg, td = params_of(G, False), params_of(D, False)
    classes = torch.rand(3, N, X, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    cfg = FewShotGANConfig(method="fomaml", inner_lr=ALPHA, inner_steps=1, meta_batch=1,
                           task_batch=3, meta_lr=0.01)
    state: dict = {}
    new_g, new_d = maml_gan_step(G, D, tg, td, classes, cfg, torch.Generator().manual_seed(5),
                                 state)
    rng = torch.Generator().manual_seed(5)                     # the same draws, by hand
    c = torch.randperm(3, generator=rng)[0].item()
    g_g, g_d = maml_gan_gradients(GANClassTask(G, D, classes[c], cfg.loss, 3, rng), tg, td,
                                  cfg.inner())
    for new, theta, g in ((new_g, tg, g_g), (new_d, td, g_d)):
        for name in theta:     # Adam's first step: m̂ = g, v̂ = g², θ − β g / (|g| + 1e-8)
            expected = theta[name] - 0.01 * g[name] / (g[name].abs() + 1e-8)
            assert torch.allclose(new[name], expected, atol=1e-12), name
    assert state["adam"]["t"] == 1


def test_wgan_gp_inner_loss_of_a_linear_critic_adds_lambda_times_norm_minus_one_squared():
    torch.manual_seed(0)
    G, D = TinyG().double(), LinearCritic().double()
    tg, td, x = params_of(G, False), params_of(D, False), class_images()
    task = GANClassTask(G, D, x, "wgan_gp", rng=torch.Generator().manual_seed(0), gp_lambda=7.0)
    _, z_d, _ = task.sample()
    fake = G(z_d).detach()
    w = td["lin.weight"]                                       # [1, 4]; ∇_x D(x) = w for all x
    hand = (w @ (fake.mean(0) - x.mean(0))).item() + 7.0 * (w.norm() - 1).item() ** 2
    value = task.discriminator_task(tg, x, z_d).support_loss(td)
    assert value.item() == pytest.approx(hand, abs=1e-12)
    ref = (D(fake).mean() - D(x).mean() + gradient_penalty(
        D, x, fake, 7.0, torch.Generator().manual_seed(0))).item()
    assert value.item() == pytest.approx(ref, abs=1e-12)
    # one inner D step: ∇_w = mean G(z) − mean x + 2λ(‖w‖ − 1) w/‖w‖, ∇_b = 0
    phi_g, phi_d = adapt_gan_task(GANClassTask(G, D, x, "wgan_gp", rng=torch.Generator()
                                               .manual_seed(0), gp_lambda=7.0), tg, td,
                                  InnerLoop(lr=ALPHA, steps=1, first_order=True))
    grad_w = fake.mean(0) - x.mean(0) + 2 * 7.0 * (w.norm() - 1) * w / w.norm()
    assert torch.allclose(phi_d["lin.weight"], w - ALPHA * grad_w, atol=1e-12)
    assert torch.allclose(phi_d["lin.bias"], td["lin.bias"], atol=1e-12)


def test_config_methods_losses_and_errors():
    assert FewShotGANConfig(loss="wgan-gp").loss == "wgan_gp"
    assert FewShotGANConfig(method="maml").inner().first_order is False
    assert FewShotGANConfig(method="fomaml").inner().first_order is True
    assert FewShotGANConfig().inner().first_order is True
    assert set(META_STEPS) == {"reptile", "maml", "fomaml"}
    with pytest.raises(ValueError, match=r"method='sgd'; choose from \('reptile', 'maml', "):
        check_fewshot_config(FewShotGANConfig(method="sgd"))
    with pytest.raises(ValueError, match="meta_lr"):
        check_fewshot_config(FewShotGANConfig(meta_lr=-1.0))
    with pytest.raises(ValueError, match="gp_lambda"):
        check_fewshot_config(FewShotGANConfig(gp_lambda=-1.0))


@pytest.mark.parametrize("method", ["maml", "fomaml"])
def test_meta_training_a_dcgan_runs_and_records_the_method(method, tmp_path):
    data = (torch.rand(4, 6, 28, 28, generator=torch.Generator().manual_seed(0)) * 255)
    cfg = FewShotGANConfig(z_dim=4, width=4, inner_steps=1, meta_batch=2, task_batch=2,
                           method=method, loss="wgan_gp")
    G, D, tg, td = meta_train_gan(data.to(torch.uint8), cfg, iterations=2,
                                  checkpoint=tmp_path / "m.pt")
    saved = torch.load(tmp_path / "m.pt", weights_only=True)
    assert saved["config"]["method"] == method
    assert not torch.equal(tg["fc.weight"], params_of(G, False)["fc.weight"])
    shots = data[0, :2].unsqueeze(1).float() / 255
    samples = gan_adapter(G, D, tg, td, 1, 0.05, "wgan_gp")(shots, 3, 0)
    assert samples.shape == (3, 1, 28, 28) and torch.isfinite(samples).all()


def _glyph_split(monkeypatch):
    import metagan_lab.cli.gan as cli_gan
    from metagan_lab.data import MetaSplit, make_glyphs

    data = make_glyphs(n_classes=12)
    split = MetaSplit(data.subset(list(range(6))), data.subset([6, 7, 8]),
                      data.subset([9, 10, 11]))
    monkeypatch.setattr(cli_gan, "_load", lambda args: (data, split))


def test_cli_fewshot_gan_method_and_wgan_gp(tmp_path, capsys, monkeypatch):
    _glyph_split(monkeypatch)
    assert main(["train", "fewshot-gan", "--method", "fomaml", "--loss", "wgan-gp",
                 "--iterations", "1", "--inner-steps", "1", "--meta-batch", "2",
                 "--pretrain-steps", "1", "--classifier-steps", "1", "--adapt-steps", "1",
                 "--k-shot", "2", "--eval-classes", "2", "--n-fake", "4", "--device", "cpu",
                 "--quiet", "--json", "--out", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["method"] == "fomaml" and out["loss"] == "wgan_gp" and "fd_fomaml_adapted" in out
    ckpt = torch.load(tmp_path / "fewshot_gan.pt", weights_only=True)
    assert ckpt["config"]["method"] == "fomaml"
    from metagan_lab import runs

    assert runs.describe(str(tmp_path / "fewshot_gan.pt"))["method"] == "fomaml"
    old = dataclasses.asdict(FewShotGANConfig())
    del old["method"], old["meta_lr"], old["gp_lambda"]                # a file from before
    _, _, inits = runs.build_model({**ckpt, "config": old})
    assert "reptile_adapted" in inits


def test_cli_unknown_method_names_the_choices(capsys):
    with pytest.raises(SystemExit):
        main(["train", "fewshot-gan", "--method", "sgd", "--quiet"])
    err = capsys.readouterr().err
    assert "--method" in err and "reptile" in err and "maml" in err and "fomaml" in err
