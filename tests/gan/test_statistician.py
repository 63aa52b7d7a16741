"""Neural-Statistician-style one-shot generator (gan.statistician): the Gaussian KL against hand
values and torch.distributions, −ELBO against a hand computation on a 1-pixel stub (float64),
the context's permutation invariance and any K, a short training run, the checkpoint round trip,
the CLI, and the refusals."""

import dataclasses
import json
import math
from types import SimpleNamespace

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from metagan_lab import runs
from metagan_lab.cli import main
from metagan_lab.data import MetaSplit, make_glyphs
from metagan_lab.gan.statistician import (
    StatisticianConfig,
    check_statistician_config,
    context,
    copy_shot_adapter,
    displacement_scale,
    gaussian_kl,
    generate,
    make_statistician,
    negative_elbo,
    random_displacement,
    random_warp_adapter,
    sample_class_episode,
    statistician_adapter,
    templates,
    train_statistician,
    warp,
)
from metagan_lab.gan.vae import kl_divergence as kl_to_standard_normal

TINY = StatisticianConfig(meta_batch=3, n_target=2, z_dim=3, c_channels=2, width=4, hidden=8)
F64 = torch.float64


def test_gaussian_kl_matches_a_hand_value():
    # dim 1: ½[log 2 − 0 + (1 + 1²)/2 − 1] = ½ log 2;  dim 2: ½[0 − log 4 + (4 + 1²)/1 − 1]
    # = 2 − log 2;  sum: 2 − ½ log 2
    mu_q, logvar_q = torch.tensor([[1.0, 0.0]], dtype=F64), torch.tensor([[0.0, math.log(4)]],
                                                                            dtype=F64)
    mu_p, logvar_p = torch.tensor([[0.0, 1.0]], dtype=F64), torch.tensor([[math.log(2), 0.0]],
                                                                            dtype=F64)
    assert gaussian_kl(mu_q, logvar_q, mu_p, logvar_p).item() == pytest.approx(
        2 - 0.5 * math.log(2), abs=1e-14)


def test_gaussian_kl_matches_torch_distributions_and_the_standard_normal_case():
    g = torch.Generator().manual_seed(0)
    mu_q, lv_q, mu_p, lv_p = (torch.randn(5, 3, generator=g, dtype=F64) for _ in range(4))
    reference = kl_divergence(Normal(mu_q, (0.5 * lv_q).exp()),
                              Normal(mu_p, (0.5 * lv_p).exp())).sum(1).mean()
    assert gaussian_kl(mu_q, lv_q, mu_p, lv_p).item() == pytest.approx(reference.item(), abs=1e-12)
    zeros = torch.zeros_like(mu_q)
    assert gaussian_kl(mu_q, lv_q, zeros, zeros).item() == pytest.approx(
        kl_to_standard_normal(mu_q, lv_q).item(), abs=1e-12)
    assert gaussian_kl(mu_q, lv_q, mu_q, lv_q).item() == 0.0


def stub_model():
    """1-pixel images; f(x) = x, h = identity, q(z|x,c) = N(x + c, 1), p(z|c) = N(0, 1),
    logits = z + c."""
    ident = lambda t: t.flatten(1)  # noqa: E731
    return SimpleNamespace(
        features=lambda t, template=None: ident(t), context_map=ident, observe=lambda t: t,
        posterior=lambda f, c: (f + c, torch.zeros_like(f)),
        prior=lambda c: (torch.zeros_like(c), torch.zeros_like(c)),
        decode=lambda z, c, template=None: (z + c).view(-1, 1, 1, 1))


def test_negative_elbo_matches_a_hand_computation():
    # shots 0.2, 0.6 → c = 0.4; target x = 1: μ_q = 1.4, σ_q = 1; z = 1.4 + 0.5 = 1.9;
    # logit 2.3; −log p(x=1|z,c) = log(1 + e^{−2.3}); KL(N(1.4, 1) ‖ N(0, 1)) = ½ 1.4² = 0.98
    shots = torch.tensor([0.2, 0.6], dtype=F64).view(1, 2, 1, 1, 1)            # [B, K, 1, 1, 1]
    targets = torch.tensor([1.0], dtype=F64).view(1, 1, 1, 1, 1)                # [B, T, 1, 1, 1]
    loss, rec, kl = negative_elbo(stub_model(), targets, shots, torch.tensor([[0.5]], dtype=F64))
    assert rec.item() == pytest.approx(math.log1p(math.exp(-2.3)), abs=1e-14)
    assert kl.item() == pytest.approx(0.98, abs=1e-14)
    assert loss.item() == pytest.approx(math.log1p(math.exp(-2.3)) + 0.98, abs=1e-14)


def test_negative_elbo_of_two_classes_is_the_mean_of_per_class_values():
    model = make_statistician(TINY).double()
    g = torch.Generator().manual_seed(1)
    shots, targets = torch.rand(2, 3, 1, 28, 28, generator=g, dtype=F64), \
        torch.rand(2, 2, 1, 28, 28, generator=g, dtype=F64)
    noise = torch.randn(4, TINY.z_dim, generator=g, dtype=F64)
    both = negative_elbo(model, targets, shots, noise)[0]
    each = [negative_elbo(model, targets[b:b + 1], shots[b:b + 1], noise[2 * b:2 * b + 2])[0]
            for b in range(2)]
    assert both.item() == pytest.approx((each[0] + each[1]).item() / 2, abs=1e-10)


def test_context_is_permutation_invariant_and_takes_any_k():
    model = make_statistician(TINY).double()
    shots = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(2), dtype=F64)
    c = context(model, shots)                                          # [1, c_channels, 14, 14]
    assert c.shape == (1, TINY.c_channels, 14, 14)
    assert torch.allclose(context(model, shots[torch.tensor([3, 0, 4, 2, 1])]), c, atol=1e-12)
    for k in (1, 2, 5):
        assert context(model, shots[:k]).shape == (1, TINY.c_channels, 14, 14)
    by_hand = torch.stack([model.context_map(s[None])[0] for s in shots]).mean(0)
    assert torch.allclose(c[0], by_hand, atol=1e-12)
    batched = context(model, torch.stack([shots[:2], shots[3:]]))               # [2, cc, 14, 14]
    assert torch.allclose(batched[1], context(model, shots[3:])[0], atol=1e-12)


def test_generate_and_adapters():
    model = make_statistician(TINY)
    shot = torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    samples = statistician_adapter(model)(shot, 6, 7)
    assert samples.shape == (6, 1, 28, 28) and 0 <= samples.min() and samples.max() <= 1
    assert torch.equal(samples, generate(model, shot, 6, seed=7))
    assert not torch.equal(samples, generate(model, shot, 6, seed=8))       # z ~ p(z|c) varies
    mode = generate(model, shot, 3, seed=1, temperature=0.0)                 # z = μ_p(c)
    assert torch.equal(mode, generate(model, shot, 3, seed=2, temperature=0.0))
    c = context(model, shot).expand(3, -1, -1, -1)
    assert torch.allclose(mode, torch.sigmoid(model.decode(model.prior(c)[0], c)), atol=1e-6)
    copies = copy_shot_adapter()(shot, 4, 0)
    assert copies.shape == (4, 1, 28, 28) and all(torch.equal(x, shot[0]) for x in copies)


def test_episode_targets_are_the_shots_then_other_images_of_the_same_class():
    data, _ = glyph_split()
    cfg = dataclasses.replace(TINY, k_shot=2, n_target=3)
    shots, targets = sample_class_episode(data, cfg, torch.Generator().manual_seed(0))
    assert shots.shape == (3, 2, 1, 28, 28) and targets.shape == (3, 5, 1, 28, 28)
    assert torch.equal(targets[:, :2], shots)
    pixels = data.images.flatten(2).float() / 255                                # [C, S, 784]
    for b in range(3):                # every image of row b is an image of one and the same class
        found = {int(((pixels - x.flatten()).abs().sum(2) == 0).nonzero()[0, 0])
                 for x in targets[b]}
        assert len(found) == 1
    others = sample_class_episode(data, dataclasses.replace(cfg, include_shots=False),
                                  torch.Generator().manual_seed(0))[1]
    assert torch.equal(others, targets[:, 2:])


def glyph_split():
    data = make_glyphs(n_classes=12)
    return data, MetaSplit(data.subset(list(range(6))), data.subset([6, 7, 8]),
                           data.subset([9, 10, 11]))


def test_a_short_training_run_lowers_the_loss_and_writes_a_checkpoint(tmp_path):
    data, split = glyph_split()
    ran: dict = {}
    model = train_statistician(split.train, dataclasses.replace(TINY, lr=3e-3, beta=2.0), 40,
                               checkpoint=tmp_path / "s.pt", val_every=20, history=ran)
    loss = ran["loss"]
    assert ran["iterations"] == 40 and sum(loss[-5:]) / 5 < 0.8 * sum(loss[:5]) / 5
    for total, rec, kl, neg in zip(loss, ran["reconstruction"], ran["kl"], ran["neg_elbo"]):
        assert total == pytest.approx(rec + 2 * kl, rel=1e-5)             # rec + β KL, β = 2
        assert neg == pytest.approx(rec + kl, rel=1e-5)
    saved = torch.load(tmp_path / "s.pt", weights_only=True)
    assert saved["kind"] == "statistician" and saved["iterations"] == 40
    rebuilt = runs.KINDS["statistician"].build(saved)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in rebuilt.state_dict().items())
    shot = split.test.images[0, :1].unsqueeze(1).float() / 255
    assert torch.equal(generate(rebuilt, shot, 3, 1), generate(model, shot, 3, 1))


def test_cli_train_statistician_then_describe_evaluate_and_sample(tmp_path, capsys, monkeypatch):
    import metagan_lab.cli.gan as cli_gan
    import metagan_lab.runs.kinds.statistician as kind

    data, split = glyph_split()
    monkeypatch.setattr(cli_gan, "_load", lambda args: (data, split))
    monkeypatch.setattr(kind, "load_split", lambda options: (data, split))
    assert main(["train", "statistician", "--iterations", "2", "--meta-batch", "2",
                 "--z-dim", "2", "--c-channels", "3", "--width", "4", "--hidden", "8",
                 "--threads", "1", "--device", "cpu", "--quiet", "--json",
                 "--out", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["algorithm"] == "statistician" and out["iterations"] == 2
    assert math.isfinite(out["neg_elbo"]) and out["neg_elbo"] == pytest.approx(
        out["reconstruction"] + out["kl"], rel=1e-6) == out["loss"]            # β = 1
    path = tmp_path / "statistician.pt"
    assert runs.describe(str(path))["config"]["c_channels"] == 3
    result = runs.evaluate(str(path), runs.EvalOptions(ways=2, episodes=2, samples=2))
    assert 0 <= result["recognisability"] <= 1 and result["real_recognisability"] >= 0
    info = runs.sample(str(path), tmp_path / "s.png", n=3)
    assert (tmp_path / "s.png").stat().st_size > 0 and "p(z | c)" in info["shows"]
    more = ["train", "statistician", "--iterations", "1", "--meta-batch", "2", "--z-dim", "2",
            "--c-channels", "3", "--width", "4", "--hidden", "8", "--device", "cpu", "--quiet",
            "--json", "--init-from", str(path), "--out", str(tmp_path / "more")]
    assert main(more) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["iterations"] == 3 and out["iterations_this_run"] == 1
    with pytest.raises(SystemExit):
        main(more[:7] + ["5"] + more[8:-1] + [str(tmp_path / "other")])      # --z-dim 5
    assert "init does not fit this configuration (size mismatch" in capsys.readouterr().err


@pytest.mark.parametrize("field, value", [("k_shot", 0), ("meta_batch", 0), ("z_dim", 1.5),
                                          ("lr", -1.0), ("beta", 0.0)])
def test_bad_settings_are_refused_naming_them(field, value):
    with pytest.raises(ValueError, match=field):
        check_statistician_config(dataclasses.replace(StatisticianConfig(), **{field: value}))


def test_bad_shapes_and_counts_are_refused():
    model = make_statistician(TINY)
    with pytest.raises(ValueError, match=r"shots must be \[K, 1, H, W\]"):
        context(model, torch.rand(28, 28))
    with pytest.raises(ValueError, match="n must be"):
        generate(model, torch.rand(1, 1, 28, 28), 0)
    with pytest.raises(ValueError, match="temperature"):
        generate(model, torch.rand(1, 1, 28, 28), 2, temperature=-1.0)
    with pytest.raises(ValueError, match="iterations"):
        train_statistician(torch.zeros(3, 5, 28, 28, dtype=torch.uint8), TINY, -1)


def test_cli_refuses_a_bad_value(capsys):
    with pytest.raises(SystemExit):
        main(["train", "statistician", "--meta-batch", "0", "--quiet"])
    assert "meta-batch" in capsys.readouterr().err


# --- the warp decoder: logits = logit(clamp(x_k ∘ (id + u(z, c)), ε, 1 − ε))

def test_warp_by_zero_is_the_template_and_by_one_pixel_a_hand_shift():
    x = torch.rand(2, 1, 6, 5, dtype=F64, generator=torch.Generator().manual_seed(0))
    u = torch.zeros(2, 2, 6, 5, dtype=F64)
    torch.testing.assert_close(warp(x, u), x, atol=1e-12, rtol=0)
    u[:, 0] = 2 / 5          # one pixel to the right in grid units (2 = the width W = 5)
    shifted = warp(x, u)     # x̃(p) = x(p + 1 px): column j shows column j + 1, the last is 0
    torch.testing.assert_close(shifted[..., :-1], x[..., 1:], atol=1e-12, rtol=0)
    assert shifted[..., -1].abs().max() < 1e-12


def test_warp_gradient_matches_finite_differences():
    # reference: torch.autograd.gradcheck (central differences), float64, off the pixel grid
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 1, 5, 5, dtype=F64, generator=g)
    u = (0.13 + 0.05 * torch.rand(1, 2, 5, 5, dtype=F64, generator=g)).requires_grad_()
    assert torch.autograd.gradcheck(lambda v: warp(x, v), (u,), eps=1e-6, atol=1e-6)


def test_untrained_warp_decoder_copies_its_shot():
    # the displacement's last layer starts at zero: u = 0, so the samples are the shot
    model = make_statistician(dataclasses.replace(TINY, decoder="warp")).double()
    shot = torch.rand(1, 1, 28, 28, dtype=F64, generator=torch.Generator().manual_seed(2))
    out = generate(model, shot, 3, seed=0)
    torch.testing.assert_close(out, shot.expand(3, -1, -1, -1), atol=1e-12, rtol=0)
    z, c = torch.zeros(1, TINY.z_dim, dtype=F64), context(model, shot)
    logits = model.decode(z, c, shot)            # the likelihood's: logit(clamp(x̃, ε, 1 − ε))
    torch.testing.assert_close(logits, torch.logit(shot.clamp(0.02, 0.98)), atol=1e-9, rtol=0)


def test_templates_cycle_the_shots_and_warp_elbo_trains():
    shots = torch.arange(2 * 3, dtype=F64).view(2, 3, 1, 1, 1)       # [B=2, K=3, 1, 1, 1]
    assert templates(shots, 5)[1, :, 0, 0, 0].tolist() == [3, 4, 5, 3, 4]   # i mod K
    cfg = dataclasses.replace(TINY, decoder="warp", include_shots=False)
    images = make_glyphs(n_classes=6, n_samples=6, seed=0).images
    hist: dict = {}
    train_statistician(images, cfg, 25, history=hist)
    assert sum(hist["loss"][-5:]) < sum(hist["loss"][:5])


def test_warp_likelihood_sees_blurred_images():
    # reference: torchvision's gaussian_blur applied by hand to the moved shot and the target
    from torchvision.transforms.functional import gaussian_blur

    cfg = dataclasses.replace(TINY, decoder="warp", blur=1.0)
    model = make_statistician(cfg).double()
    g = torch.Generator().manual_seed(3)
    shot, x = (torch.rand(1, 1, 28, 28, dtype=F64, generator=g) for _ in range(2))
    z, c = torch.zeros(1, TINY.z_dim, dtype=F64), context(model, shot)
    hand = torch.logit(gaussian_blur(shot, [7, 7], [1.0, 1.0]).clamp(0.02, 0.98))   # u = 0
    torch.testing.assert_close(model.decode(z, c, shot), hand, atol=1e-9, rtol=0)
    torch.testing.assert_close(model.observe(x), gaussian_blur(x, [7, 7], [1.0, 1.0]))
    assert model.mean(z, c, shot).sub(shot).abs().max() < 1e-12    # the sample shown: sharp


def test_warp_refusals():
    with pytest.raises(ValueError, match="needs decoder='warp'"):
        check_statistician_config(dataclasses.replace(TINY, blur=1.0))
    with pytest.raises(ValueError, match="decoder must be one of"):
        check_statistician_config(dataclasses.replace(TINY, decoder="flow"))
    model = make_statistician(dataclasses.replace(TINY, decoder="warp"))
    z, c = torch.zeros(1, TINY.z_dim), torch.zeros(1, TINY.c_channels, 14, 14)
    with pytest.raises(ValueError, match="needs the shot it moves"):
        model.decode(z, c)
    with pytest.raises(ValueError, match="draws one class"):
        generate(model, torch.rand(2, 1, 1, 28, 28), 3)


def test_random_warp_control_moves_by_the_asked_scale():
    u = random_displacement(400, 0.1, seed=0)                          # [400, 2, 28, 28]
    # each pixel is a convex combination of ≤ 4 iid N(0, 0.1²) grid values (bilinear weights),
    # so its variance lies in [0.1²/4, 0.1²]: std in [0.05, 0.1]
    assert 0.05 < u.std().item() < 0.1
    torch.testing.assert_close(random_displacement(5, 0.2, seed=3), 2 * random_displacement(
        5, 0.1, seed=3))                                               # linear in the scale
    shot = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(4))
    out = random_warp_adapter(0.0)(shot, 3, seed=1)                    # no move: the shots
    torch.testing.assert_close(out, shot[[0, 1, 0]], atol=1e-5, rtol=0)   # float32 grid
    moved = random_warp_adapter(0.1)(shot, 3, seed=1)
    torch.testing.assert_close(moved[0], warp(shot[:1], random_displacement(3, 0.1, 28, 1)[:1])[0])


def test_displacement_scale_is_the_std_of_u_and_zero_untrained():
    model = make_statistician(dataclasses.replace(TINY, decoder="warp"))
    shots = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    assert displacement_scale(model, shots) == 0.0                     # last layer at zero
    with torch.no_grad():
        model.displacement_head[-1].bias.copy_(torch.tensor([0.3, -0.3]))
    # u = upsample(avg_pool(b)) = b everywhere: std over both channels of ±0.3 = 0.3 (n − 1)
    m = 2 * 28 * 28 * 3 * 8
    assert displacement_scale(model, shots) == pytest.approx(0.3 * (m / (m - 1)) ** 0.5, rel=1e-4)
    with pytest.raises(ValueError, match="needs a warp decoder"):
        displacement_scale(make_statistician(TINY), shots)
