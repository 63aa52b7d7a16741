"""Meta-learned VAE: the −ELBO on explicit weights against ``gan.vae.elbo``, one Reptile step
against a hand-written update (the ELBO and its SGD steps written out with plain tensor algebra,
float64), sampling against ``gan.vae.vae_samples``, and the CLI / checkpoint round trip."""

import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F

from metagan_lab import runs
from metagan_lab.cli import main
from metagan_lab.gan.meta_vae import (
    MetaVAEConfig,
    VAEClassTask,
    adapt_vae,
    check_meta_vae_config,
    meta_train_vae,
    negative_elbo,
    reptile_vae_step,
    vae_adapter,
    vae_generate,
)
from metagan_lab.gan.vae import VAE, elbo, vae_samples
from metagan_lab.meta.functional import InnerLoop
from metagan_lab.models import params_of

S, Z, H = 2, 2, 3                      # image side, z_dim, hidden units of the tiny VAE


def tiny_vae():
    torch.manual_seed(0)
    return VAE(z_dim=Z, hidden=H, image_size=S).double()


def hand_negative_elbo(p, x, noise):
    """−ELBO written out: h = relu(W1 x + b1); [μ, log σ²] = W2 h + b2; z = μ + e^{log σ²/2} ε;
    logits = V2 relu(V1 z + c1) + c2; Σ_pixels BCE + ½ Σ_j (μ² + σ² − 1 − log σ²), batch mean."""
    flat = x.flatten(1)                                                        # [b, S²]
    h = torch.relu(flat @ p["encoder.1.weight"].T + p["encoder.1.bias"])
    mu, logvar = (h @ p["encoder.3.weight"].T + p["encoder.3.bias"]).chunk(2, dim=1)
    z = mu + torch.exp(0.5 * logvar) * noise
    logits = torch.relu(z @ p["decoder.0.weight"].T + p["decoder.0.bias"]) @ \
        p["decoder.2.weight"].T + p["decoder.2.bias"]
    rec = -(flat * F.logsigmoid(logits) + (1 - flat) * F.logsigmoid(-logits)).sum(1).mean()
    kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1).mean()
    return rec + kl


def test_negative_elbo_on_explicit_weights_is_minus_the_elbo_and_the_hand_formula():
    model = tiny_vae()
    theta = params_of(model, False)
    x = torch.rand(4, 1, S, S, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    noise = torch.randn(4, Z, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    value = negative_elbo(model, theta, x, noise).item()
    logits, mu, logvar = model(x, noise)
    assert value == pytest.approx(-elbo(x, logits, mu, logvar).item(), abs=1e-12)
    assert value == pytest.approx(hand_negative_elbo(theta, x, noise).item(), abs=1e-12)


@pytest.mark.parametrize("k", [1, 2])
def test_reptile_vae_step_matches_a_hand_written_reptile_update(k):
    model, alpha, epsilon = tiny_vae(), 0.1, 0.5
    theta = params_of(model, False)
    classes = torch.rand(3, 4, 1, S, S, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(3))
    cfg = MetaVAEConfig(inner_lr=alpha, inner_steps=k, inner_optimizer="sgd", epsilon=epsilon,
                        meta_batch=2, task_batch=3, z_dim=Z, hidden=H)
    new = reptile_vae_step(model, theta, classes, cfg, torch.Generator().manual_seed(4))
    rng = torch.Generator().manual_seed(4)                     # the same draws, by hand
    chosen = torch.randperm(3, generator=rng)[:2].tolist()
    phis = []
    for c in chosen:
        phi = {n: v.clone().requires_grad_() for n, v in theta.items()}
        for _ in range(k):
            idx = torch.randint(0, 4, (3,), generator=rng)
            noise = torch.randn(3, Z, generator=rng, dtype=torch.float64)
            grads = torch.autograd.grad(hand_negative_elbo(phi, classes[c][idx], noise),
                                        list(phi.values()))
            phi = {n: (v - alpha * g).detach().requires_grad_()
                   for (n, v), g in zip(phi.items(), grads)}
        phis.append(phi)
    for n in theta:                                # θ + ε (mean φ − θ)
        expected = theta[n] + epsilon * ((phis[0][n] + phis[1][n]) / 2 - theta[n])
        assert torch.allclose(new[n], expected, atol=1e-12), n
    assert not torch.allclose(new["decoder.2.bias"], theta["decoder.2.bias"])


def test_adaptation_and_sampling():
    model = VAE(z_dim=4, hidden=8)
    theta = params_of(model, False)
    assert torch.allclose(vae_generate(model, theta, 5, seed=3), vae_samples(model, 5, seed=3))
    shots = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    same = adapt_vae(model, theta, shots, InnerLoop(lr=0.01, steps=0, first_order=True))
    assert all(torch.equal(same[n], theta[n]) for n in theta)
    inner = InnerLoop(lr=0.01, steps=2, first_order=True, optimizer="adam")
    phi = adapt_vae(model, theta, shots, inner, seed=1)
    task = VAEClassTask(model, shots, None, torch.Generator().manual_seed(1))
    assert task.support_loss(phi) < VAEClassTask(model, shots, None, torch.Generator()
                                                 .manual_seed(1)).support_loss(theta)
    samples = vae_adapter(model, theta, inner)(shots, 6, 1)
    assert torch.allclose(samples, vae_generate(model, phi, 6, seed=1))
    assert samples.shape == (6, 1, 28, 28) and 0 <= samples.min() and samples.max() <= 1


@pytest.mark.parametrize("field, value, match", [
    ("inner_optimizer", "rmsprop", r"inner_optimizer='rmsprop'; choose from \('sgd', 'adam'\)"),
    ("epsilon", 0.0, "epsilon"), ("inner_lr", -1.0, "inner_lr"), ("meta_batch", 0, "meta_batch")])
def test_bad_settings_are_refused_naming_them(field, value, match):
    with pytest.raises(ValueError, match=match):
        check_meta_vae_config(dataclasses.replace(MetaVAEConfig(), **{field: value}))


def test_meta_training_writes_a_finite_checkpoint(tmp_path):
    data = (torch.rand(4, 6, 28, 28, generator=torch.Generator().manual_seed(0)) * 255)
    cfg = MetaVAEConfig(z_dim=3, hidden=8, meta_batch=2, task_batch=2, inner_steps=2)
    ran: dict = {}
    model, theta = meta_train_vae(data.to(torch.uint8), cfg, 3, checkpoint=tmp_path / "v.pt",
                                  history=ran)
    saved = torch.load(tmp_path / "v.pt", weights_only=True)
    assert ran["iterations"] == 3 and saved["iteration"] == 3
    assert all(torch.equal(saved["theta"][n], theta[n]) for n in theta)


def test_cli_meta_vae_then_describe_and_sample(tmp_path, capsys, monkeypatch):
    import metagan_lab.cli.gan as cli_gan
    from metagan_lab.data import MetaSplit, make_glyphs

    data = make_glyphs(n_classes=12)
    split = MetaSplit(data.subset(list(range(6))), data.subset([6, 7, 8]),
                      data.subset([9, 10, 11]))
    monkeypatch.setattr(cli_gan, "_load", lambda args: (data, split))
    assert main(["train", "meta-vae", "--iterations", "2", "--meta-batch", "2", "--z-dim", "4",
                 "--pretrain-steps", "1", "--classifier-steps", "1", "--adapt-steps", "1",
                 "--k-shot", "2", "--eval-classes", "2", "--n-fake", "4", "--device", "cpu",
                 "--quiet", "--json", "--out", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["algorithm"] == "meta-vae" and out["method"] == "reptile"
    assert out["iterations"] == 2
    assert {"fd_meta_vae_adapted", "fd_meta_vae_init", "fd_scratch_vae",
            "fd_pooled_vae_finetuned"} <= out.keys()
    assert set(out["adapt_lr"]) == {"meta_vae_adapted", "scratch_vae", "pooled_vae_finetuned"}
    path = tmp_path / "meta_vae.pt"
    assert runs.describe(str(path))["algorithm"] == "meta-vae"
    import metagan_lab.runs.kinds.meta_vae as kind

    monkeypatch.setattr(kind, "load_split", lambda options: (data, split))   # no glyph rebuild
    info = runs.sample(str(path), tmp_path / "s.png", n=3)
    assert (tmp_path / "s.png").stat().st_size > 0 and "meta_vae_adapted" in info["shows"]


def test_cli_meta_vae_rejects_an_unknown_optimizer(capsys):
    with pytest.raises(SystemExit):
        main(["train", "meta-vae", "--inner-optimizer", "rmsprop", "--quiet"])
    assert "sgd" in capsys.readouterr().err
