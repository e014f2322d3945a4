"""The course's models. Each checks its input shape, so a wrong tensor fails with advice."""

from __future__ import annotations

import itertools

import torch
from torch import nn

MNIST_SHAPE = (1, 28, 28)


def check_image_batch(x: torch.Tensor, shape: tuple[int, ...], model: str) -> None:
    """Raise a ValueError that says what was expected when ``x`` is not (B, *shape)."""
    if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape):
        expected = "(B, " + ", ".join(map(str, shape)) + ")"
        hint = f"reshape with x.view(-1, {', '.join(map(str, shape))})"
        if x.dim() == len(shape):
            hint = "add the batch dimension with x.unsqueeze(0)"
        raise ValueError(
            f"{model} expects a batch of images of shape {expected}, got {tuple(x.shape)}; {hint}."
        )


class LinearEncoder(nn.Module):
    """Lesson 01's encoder: a 1x28x28 image to a code of ``latent_dim`` numbers, one linear map.

    The lesson builds it in its cells; this copy (the same code, tested so) is what the
    lesson's checks compare with, and what a learner stuck on that step can import.
    """

    def __init__(self, latent_dim: int):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(28 * 28, latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.flatten(x))


class LinearDecoder(nn.Module):
    """Lesson 01's decoder: a code of ``latent_dim`` numbers back to a 1x28x28 image."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.linear = nn.Linear(latent_dim, 28 * 28)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.linear(z).view(-1, 1, 28, 28)


class LinearAutoencoder(nn.Module):
    """Lesson 01's model: encoder and decoder are single linear maps, nothing in between.

    With a mean-squared-error loss the best such model spans the same subspace as PCA with
    ``latent_dim`` components, which Lesson 01 uses as a yardstick. A tensor of the wrong
    shape fails with advice (:func:`check_image_batch`).
    """

    def __init__(self, latent_dim: int):
        super().__init__()
        self.encoder = LinearEncoder(latent_dim)
        self.decoder = LinearDecoder(latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x, (1, 28, 28), "LinearAutoencoder")
        return self.decoder(self.encoder(x))


def init_from_pca(model: nn.Module, mean: torch.Tensor, components: torch.Tensor) -> None:
    """Lesson 01: make ``model``, a :class:`LinearAutoencoder`, PCA itself (encode
    z = C (x - mean), decode C^T z + mean, with ``components`` C of shape (k, 784)): the
    optimum that Baldi and Hornik's result promises, reached without training."""
    with torch.no_grad():
        model.encoder.linear.weight.copy_(components)
        model.encoder.linear.bias.copy_(-(components @ mean))
        model.decoder.linear.weight.copy_(components.T)
        model.decoder.linear.bias.copy_(mean)


class TiedLinearAutoencoder(nn.Module):
    """Lesson 01's last step: PCA's shape, one weight matrix for both directions.

    The encoder uses ``weight`` (latent_dim x 784) as it is, the decoder its transpose; each
    has its own bias. Half the parameters of :class:`LinearAutoencoder`.
    """

    def __init__(self, latent_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(latent_dim, 28 * 28) / 28)
        self.encoder_bias = nn.Parameter(torch.zeros(latent_dim))
        self.decoder_bias = nn.Parameter(torch.zeros(28 * 28))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.flatten(1) @ self.weight.T + self.encoder_bias
        return (z @ self.weight + self.decoder_bias).view(-1, 1, 28, 28)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class DenoisingEncoder(nn.Module):
    """Lesson 02's encoder: two 3x3 stride-2 convolutions, each followed by BatchNorm and ReLU,
    take a 1x28x28 image to 64 feature maps of 7x7 (the code)."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=2, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class DenoisingDecoder(nn.Module):
    """Lesson 02's decoder: two transposed convolutions double 7x7 to 14x14 to 28x28; a sigmoid
    keeps the pixels in [0, 1]."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 3, stride=2, padding=1, output_padding=1),
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z)


class DenoisingAutoencoder(nn.Module):
    """Lesson 02's model, a small convolutional autoencoder: 1x28x28 -> 64x7x7 -> 1x28x28.

    BatchNorm after each convolution keeps it from collapsing to a constant image, which the
    same network without BatchNorm (ReLU, sigmoid output, MSE) did in 1 of 6 runs (3 seeds,
    noise 0.3 and 0.5: ``benchmarks/denoising_batchnorm.py``).
    """

    def __init__(self):
        super().__init__()
        self.encoder = DenoisingEncoder()
        self.decoder = DenoisingDecoder()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x, (1, 28, 28), "DenoisingAutoencoder")
        return self.decoder(self.encoder(x))


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Lesson 03: z = mu + sigma * eps with eps ~ N(0, I): random, yet differentiable in mu and
    sigma. ``logvar`` is log sigma^2, so sigma = exp(logvar / 2); eps comes from torch's global
    generator, so ``torch.manual_seed`` makes a draw repeatable."""
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


class VAEEncoder(nn.Module):
    """Lesson 03's encoder: a 1x28x28 image to the mean and log-variance of q(z|x).

    ``hidden`` lists the widths of the hidden layers (Linear + ReLU each): ``(400,)`` is
    pytorch/examples' MNIST model (Kingma & Welling used 500), ``(512, 256)`` the full
    profile's. Two linear heads read the last hidden layer: one gives mu, the other
    log sigma^2 (any real number, unlike sigma itself).
    """

    def __init__(self, latent_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        for n_in, n_out in itertools.pairwise((28 * 28, *hidden)):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.to_mu = nn.Linear(hidden[-1], latent_dim)
        self.to_logvar = nn.Linear(hidden[-1], latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.to_mu(h), self.to_logvar(h)


class VAEDecoder(nn.Module):
    """Lesson 03's decoder: a code back through the hidden layers in reverse to 784 *logits*,
    one Bernoulli distribution per pixel (a sigmoid gives pixel values)."""

    def __init__(self, latent_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        layers: list[nn.Module] = []
        for n_in, n_out in itertools.pairwise((latent_dim, *reversed(hidden))):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        self.layers = nn.Sequential(
            *layers, nn.Linear(hidden[0], 28 * 28), nn.Unflatten(1, (1, 28, 28))
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z)


class VAE(nn.Module):
    """Lesson 03's variational autoencoder (784-400-20 in the quick profile, as in pytorch/examples;
    Kingma & Welling's MNIST experiments used 500 hidden units).

    ``forward`` returns the decoder's *logits* with ``mu`` and ``logvar``, which the loss needs;
    it always samples z, in eval mode too, so that the loss is an honest estimate of the ELBO.
    ``decode`` gives pixel values; ``reconstruct`` decodes the mean code, the VAE's best single
    reconstruction, for pictures. A tensor of the wrong shape fails with advice.
    """

    def __init__(self, latent_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        self.encoder = VAEEncoder(latent_dim, hidden)
        self.decoder = VAEDecoder(latent_dim, hidden)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_image_batch(x, (1, 28, 28), "VAE")
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        return self.decoder(reparameterize(mu, logvar)), mu, logvar

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)[0])


class ColorEncoder(nn.Module):
    """Lesson 04's encoder: three 3x3 stride-2 convolutions (each halves H and W, doubling the
    channels from ``width``), then a bottleneck convolution at 1/8 of the size, ReLU after
    each. ``forward`` also returns the size each stride-2 stage took in, so that the decoder
    can give every stage back exactly that size: then any image of 16 pixels or more fits."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.down = nn.ModuleList([
            nn.Conv2d(1, width, 3, stride=2, padding=1),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1),
        ])  # fmt: skip
        self.bottleneck = nn.Conv2d(4 * width, 8 * width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[tuple[int, int]]]:
        sizes = []
        for conv in self.down:
            sizes.append(tuple(x.shape[-2:]))
            x = torch.relu(conv(x))
        return torch.relu(self.bottleneck(x)), sizes


class ColorDecoder(nn.Module):
    """Lesson 04's decoder: three 3x3 stride-2 transposed convolutions, each told the size it
    must produce (a stride-2 one could give two), ReLU between them and a sigmoid at the end
    for colours in [0, 1]."""

    def __init__(self, out_channels: int = 3, width: int = 32):
        super().__init__()
        self.up = nn.ModuleList([
            nn.ConvTranspose2d(8 * width, 2 * width, 3, stride=2, padding=1),
            nn.ConvTranspose2d(2 * width, width, 3, stride=2, padding=1),
            nn.ConvTranspose2d(width, out_channels, 3, stride=2, padding=1),
        ])  # fmt: skip

    def forward(self, code: torch.Tensor, sizes: list[tuple[int, int]]) -> torch.Tensor:
        x = torch.relu(self.up[0](code, output_size=sizes[2]))
        x = torch.relu(self.up[1](x, output_size=sizes[1]))
        return torch.sigmoid(self.up[2](x, output_size=sizes[0]))


class ConvColorizer(nn.Module):
    """Lesson 04: a plain convolutional autoencoder from grayscale to colour, 1/8 of the size
    at its bottleneck. A tensor that is not a batch of gray images of 16 pixels or more fails
    with advice. Lesson 05 trains it again, beside the skip-connection model."""

    def __init__(self, out_channels: int = 3, width: int = 32):
        super().__init__()
        self.encoder = ColorEncoder(width)
        self.decoder = ColorDecoder(out_channels, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_gray_batch(x, "ConvColorizer")
        code, sizes = self.encoder(x)
        return self.decoder(code, sizes)


class ColorAutoEncoder(nn.Module):
    """Lesson 05: the seed presentation's skip-connection autoencoder, made size-agnostic.

    Four stride-2 convolutions down (64, 128, 256, 512 channels); four transposed convolutions
    up, each fed the previous output concatenated with the encoder map of the same size (the
    skip connections). The seed's layers fit 150x150 only; passing ``output_size=`` to each
    transposed convolution makes every size of 16 pixels or more fit. ``out_channels`` is 3
    for RGB, 2 for the a*b* channels of Lab. Lesson 05 writes it in its cells (a graded step);
    this is the same code, tested so.
    """

    def __init__(self, out_channels: int = 3):
        super().__init__()
        self.down1 = nn.Conv2d(1, 64, 3, stride=2)  # 150 -> 74
        self.down2 = nn.Conv2d(64, 128, 3, stride=2, padding=1)  # 74 -> 37
        self.down3 = nn.Conv2d(128, 256, 3, stride=2, padding=1)  # 37 -> 19
        self.down4 = nn.Conv2d(256, 512, 3, stride=2, padding=1)  # 19 -> 10
        self.up1 = nn.ConvTranspose2d(512, 256, 3, stride=2, padding=1)  # 10 -> 19
        self.up2 = nn.ConvTranspose2d(512, 128, 3, stride=2, padding=1)  # 19 -> 37
        self.up3 = nn.ConvTranspose2d(256, 64, 3, stride=2, padding=1)  # 37 -> 74
        self.up4 = nn.ConvTranspose2d(128, out_channels, 3, stride=2)  # 74 -> 150

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_gray_batch(x, "ColorAutoEncoder")
        d1 = torch.relu(self.down1(x))
        d2 = torch.relu(self.down2(d1))
        d3 = torch.relu(self.down3(d2))
        d4 = torch.relu(self.down4(d3))
        u1 = torch.relu(self.up1(d4, output_size=d3.shape[-2:]))
        u2 = torch.relu(self.up2(torch.cat((u1, d3), dim=1), output_size=d2.shape[-2:]))
        u3 = torch.relu(self.up3(torch.cat((u2, d2), dim=1), output_size=d1.shape[-2:]))
        return torch.sigmoid(self.up4(torch.cat((u3, d1), dim=1), output_size=x.shape[-2:]))


def check_gray_batch(x: torch.Tensor, model: str, min_size: int = 16) -> None:
    """A colorizer takes (B, 1, H, W) grayscale batches of at least ``min_size`` pixels."""
    if x.dim() != 4 or x.shape[1] != 1 or min(x.shape[-2:]) < min_size:
        raise ValueError(
            f"{model} expects grayscale images of shape (B, 1, H, W) with H, W >= {min_size}; "
            f"got {tuple(x.shape)}. Convert colour photos with aecourse.color.to_gray."
        )
