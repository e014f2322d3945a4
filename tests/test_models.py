import math
from functools import partial

import pytest
import torch

from aecourse.models import (
    VAE,
    ColorAutoEncoder,
    ConvColorizer,
    DenoisingAutoencoder,
    LinearAutoencoder,
    LinearDecoder,
    LinearEncoder,
    TiedLinearAutoencoder,
    count_parameters,
    reparameterize,
)
from aecourse.noise import gaussian_noise
from aecourse.train import fit, seed_everything


def test_shapes_and_parameter_count():
    model = LinearAutoencoder(latent_dim=16)
    x = torch.rand(3, 1, 28, 28)
    assert model.encoder(x).shape == (3, 16)
    assert model(x).shape == x.shape
    assert count_parameters(model) == 784 * 16 + 16 + 16 * 784 + 784


def test_encoder_and_decoder_are_the_autoencoders_halves():
    torch.manual_seed(0)
    model = LinearAutoencoder(latent_dim=5)
    x = torch.rand(4, 1, 28, 28)
    z = model.encoder(x)
    assert isinstance(model.encoder, LinearEncoder) and isinstance(model.decoder, LinearDecoder)
    linear = model.encoder.linear
    assert torch.allclose(z, x.flatten(1) @ linear.weight.T + linear.bias)
    assert torch.equal(model(x), model.decoder(z))


def test_tied_autoencoder_shares_one_weight():
    torch.manual_seed(0)
    model = TiedLinearAutoencoder(latent_dim=6)
    x = torch.rand(2, 1, 28, 28)
    assert model(x).shape == x.shape
    assert [tuple(p.shape) for p in model.parameters()] == [(6, 784), (6,), (784,)]
    w = model.weight.detach()
    expected = (x.flatten(1) @ w.T + model.encoder_bias) @ w + model.decoder_bias
    assert torch.allclose(model(x), expected.view(2, 1, 28, 28))


@pytest.mark.parametrize(
    ("shape", "hint"),
    [((1, 28, 28), "unsqueeze"), ((4, 784), "reshape"), ((4, 3, 28, 28), "reshape")],
)
def test_wrong_input_shape_says_what_to_do(shape, hint):
    with pytest.raises(ValueError, match=rf"expects .*\(B, 1, 28, 28\).*{hint}"):
        LinearAutoencoder(8)(torch.rand(*shape))


def test_denoising_autoencoder_shapes():
    model = DenoisingAutoencoder()
    x = torch.rand(4, 1, 28, 28)
    assert model.encoder(x).shape == (4, 64, 7, 7)
    out = model(x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match=r"DenoisingAutoencoder expects .*\(B, 1, 28, 28\)"):
        model(torch.rand(4, 784))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_denoising_autoencoder_trains_whatever_the_seed(mnist, seed):
    """The trap: without BatchNorm this model can collapse to a constant image (MSE 0.112 in
    one of six runs of benchmarks/denoising_batchnorm.py)."""
    x_train, x_val = mnist.train.x[:1500], mnist.val.x
    seed_everything(seed)
    model = DenoisingAutoencoder()
    corrupt = partial(gaussian_noise, std=0.5)
    fit(model, x_train, x_val, epochs=3, corrupt=corrupt, seed=seed, progress=False, print_every=0)
    noisy = gaussian_noise(x_val, 0.5, torch.Generator().manual_seed(0))
    model.eval()
    with torch.no_grad():
        out = model(noisy)
    assert torch.mean((out - x_val) ** 2).item() < 0.04  # a constant image scores about 0.1
    assert out.std(dim=0).mean().item() > 0.1  # outputs differ from image to image


def test_vae_shapes_and_sampling():
    torch.manual_seed(0)
    model = VAE(latent_dim=5, hidden=(32,))
    x = torch.rand(3, 1, 28, 28)
    logits, mu, logvar = model(x)
    assert logits.shape == x.shape and mu.shape == logvar.shape == (3, 5)
    assert not torch.equal(model(x)[0], logits)  # z is sampled, in eval mode too
    assert torch.equal(model.reconstruct(x), model.reconstruct(x))  # the mean is not
    assert [tuple(p.shape) for p in model.parameters()] == [
        (32, 784), (32,), (5, 32), (5,), (5, 32), (5,), (32, 5), (32,), (784, 32), (784,)
    ]  # fmt: skip
    images = model.decode(torch.randn(7, 5))
    assert images.shape == (7, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    with pytest.raises(ValueError, match="VAE expects"):
        model(torch.rand(3, 28, 28))


def test_reparameterisation_has_the_right_moments_and_gradients():
    mu = torch.full((200_000, 1), 2.0, requires_grad=True)
    logvar = torch.full((200_000, 1), math.log(0.25), requires_grad=True)
    torch.manual_seed(0)
    z = reparameterize(mu, logvar)
    assert z.mean().item() == pytest.approx(2.0, abs=0.01)
    assert z.std().item() == pytest.approx(0.5, abs=0.01)
    z.sum().backward()
    assert mu.grad is not None and logvar.grad is not None


@pytest.mark.parametrize("model_class", [ConvColorizer, ColorAutoEncoder])
@pytest.mark.parametrize("size", [64, 150])
def test_colorizer_shapes_and_range(model_class, size):
    model = model_class()
    out = model(torch.rand(2, 1, size, size))
    assert out.shape == (2, 3, size, size)
    assert out.min() >= 0 and out.max() <= 1
    assert model_class(out_channels=2)(torch.rand(1, 1, size, size)).shape == (1, 2, size, size)


def test_skip_model_keeps_the_seed_shapes_at_150():
    model, x = ColorAutoEncoder(), torch.rand(1, 1, 150, 150)
    d1 = model.down1(x)
    d2 = model.down2(d1)
    d3 = model.down3(d2)
    d4 = model.down4(d3)
    assert [t.shape[-1] for t in (d1, d2, d3, d4)] == [74, 37, 19, 10]


@pytest.mark.parametrize("model_class", [ConvColorizer, ColorAutoEncoder])
def test_colorizers_refuse_color_or_tiny_input(model_class):
    with pytest.raises(ValueError, match=r"grayscale images of shape \(B, 1, H, W\)"):
        model_class()(torch.rand(2, 3, 64, 64))
    with pytest.raises(ValueError, match="H, W >= 16"):
        model_class()(torch.rand(2, 1, 8, 8))
