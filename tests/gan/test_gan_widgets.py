"""The widgets are thin views: drive them headless through their methods."""

import time

import pytest
import torch

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")


def test_gan_lab_step_settings_play_pause(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    from metagan_lab.widgets.gan import GANLab

    lab = GANLab(chunk=3, max_steps=9)
    lab.step()
    assert lab.state.step == 3 and lab.image.value[:4] == b"\x89PNG"
    lab.lr_d.value = 0.01                                       # a slider reaches the optimiser
    assert lab.state.opt_d.param_groups[0]["lr"] == pytest.approx(0.01)
    lab.play()
    for _ in range(200):                                        # stops by itself at max_steps
        if lab.state.step >= 9:
            break
        time.sleep(0.05)
    lab.pause()
    assert lab.state.step >= 9
    lab.distribution.value = "line"                             # a new target resets
    assert lab.state.step == 0


def test_fewshot_adapter_and_cycle_explorer_rows():
    from metagan_lab.gan.cyclegan import stroke_domains
    from metagan_lab.gan.fewshot import FewShotGANConfig, make_gan
    from metagan_lab.models import params_of
    from metagan_lab.widgets.gan import CycleExplorer, FewShotAdapter

    G, D = make_gan(FewShotGANConfig(z_dim=4, width=4))
    theta = (params_of(G, False), params_of(D, False))
    test_images = (torch.rand(3, 10, 28, 28) * 255).to(torch.uint8)
    adapter = FewShotAdapter(G, D, {"reptile_adapted": theta, "meta_init": theta}, test_images,
                             n_samples=3)
    adapter.k_shot.value, adapter.steps.value = 2, 1
    rows = adapter.rows()
    assert list(rows) == ["2 shots", "reptile_adapted", "meta_init"]
    assert rows["2 shots"].shape == (2, 1, 28, 28) and rows["meta_init"].shape == (3, 1, 28, 28)
    a, b = stroke_domains(test_images)
    cyc = CycleExplorer(a, b, steps=10, n_show=2, width=4)
    cyc.steps.value = 10
    rows, history = cyc.rows()
    assert list(rows) == ["x (thin)", "G(x)", "F(G(x))"] and len(history) == 10


def test_fewshot_adapter_adapts_every_meta_method_by_default():
    """A MAML / FOMAML init ("maml_adapted") is adapted like Reptile's; "meta_init" is shown as
    it is. Reference: ``gan.fewshot.adapt_gan`` + ``generate`` called by hand."""
    from metagan_lab.gan.fewshot import FewShotGANConfig, adapt_gan, generate, make_gan
    from metagan_lab.models import params_of
    from metagan_lab.widgets.gan import FewShotAdapter

    torch.manual_seed(0)
    G, D = make_gan(FewShotGANConfig(z_dim=4, width=4))
    theta = (params_of(G, False), params_of(D, False))
    test_images = (torch.rand(2, 6, 28, 28) * 255).to(torch.uint8)
    adapter = FewShotAdapter(G, D, {m: theta for m in ("maml_adapted", "fomaml_adapted",
                                                       "meta_init")}, test_images, n_samples=2)
    adapter.k_shot.value, adapter.steps.value, adapter.inner_lr.value = 2, 2, 0.1
    rows = adapter.rows()
    shots = test_images[0, :2].unsqueeze(1).float() / 255.0
    phi_g, _ = adapt_gan(G, D, *theta, shots, 2, 0.1)
    for name in ("maml_adapted", "fomaml_adapted"):
        torch.testing.assert_close(rows[name], generate(G, phi_g, 2, seed=1))
    torch.testing.assert_close(rows["meta_init"], generate(G, theta[0], 2, seed=1))
    assert not torch.allclose(rows["maml_adapted"], rows["meta_init"])


def test_fewshot_adapter_adapts_with_the_inits_own_loss():
    """A WGAN-GP init adapts with WGAN-GP (reference: ``adapt_gan(..., "wgan_gp")`` by hand),
    which differs from the non-saturating default."""
    from metagan_lab.gan.fewshot import FewShotGANConfig, adapt_gan, generate, make_gan
    from metagan_lab.models import params_of
    from metagan_lab.widgets.gan import FewShotAdapter

    torch.manual_seed(0)
    G, D = make_gan(FewShotGANConfig(z_dim=4, width=4))
    theta = (params_of(G, False), params_of(D, False))
    test_images = (torch.rand(2, 6, 28, 28) * 255).to(torch.uint8)
    adapter = FewShotAdapter(G, D, {"reptile_adapted": theta}, test_images, n_samples=2,
                             loss="wgan_gp", gp_lambda=5.0)
    adapter.k_shot.value, adapter.steps.value, adapter.inner_lr.value = 2, 2, 0.1
    shots = test_images[0, :2].unsqueeze(1).float() / 255.0
    wgan = generate(G, adapt_gan(G, D, *theta, shots, 2, 0.1, "wgan_gp", gp_lambda=5.0)[0], 2, 1)
    plain = generate(G, adapt_gan(G, D, *theta, shots, 2, 0.1)[0], 2, 1)
    torch.testing.assert_close(adapter.rows()["reptile_adapted"], wgan)
    assert not torch.allclose(wgan, plain)
