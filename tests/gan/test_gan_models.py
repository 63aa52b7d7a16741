"""DCGAN shapes, class conditioning (projection D), and a conditional training step."""

import pytest
import torch

from metagan_lab.gan.models import DCDiscriminator, DCGenerator
from metagan_lab.gan.train import GANConfig, image_sampler, make_gan_state, train_steps


def test_shapes_and_range():
    G, D = DCGenerator(z_dim=8, width=4), DCDiscriminator(width=4)
    x = G(torch.randn(5, 8))
    assert x.shape == (5, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    assert D(x).shape == (5,)


def test_projection_discriminator_depends_on_the_label():
    torch.manual_seed(0)
    D = DCDiscriminator(width=4, n_classes=3)
    x = torch.rand(2, 1, 28, 28)
    a, b = D(x, torch.tensor([0, 0])), D(x, torch.tensor([1, 1]))
    h = D.features(x)
    assert torch.allclose(a - b, ((D.embed.weight[0] - D.embed.weight[1]) * h).sum(1), atol=1e-5)


def test_conditioning_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="pass labels y"):
        DCGenerator(z_dim=4, width=4, n_classes=3)(torch.randn(2, 4))
    with pytest.raises(ValueError, match="unconditional"):
        DCDiscriminator(width=4)(torch.rand(2, 1, 28, 28), torch.tensor([0, 1]))


def test_conditional_gan_trains_on_labelled_images():
    images = (torch.rand(3, 4, 28, 28) * 255).to(torch.uint8)
    sampler = image_sampler(images, conditional=True)
    x, y = sampler(6, torch.Generator().manual_seed(0))
    assert x.shape == (6, 1, 28, 28) and y.shape == (6,) and int(y.max()) < 3
    state = make_gan_state(DCGenerator(8, 4, n_classes=3), DCDiscriminator(4, n_classes=3),
                           sampler, GANConfig(batch_size=4, loss="hinge", r1_gamma=1.0))
    train_steps(state, 2)
    assert state.step == 2 and all(v == v for v in state.history["g_loss"])
