"""The course's models. Each checks its input shape, so a wrong tensor fails with advice."""

from __future__ import annotations

import math

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


class LinearAutoencoder(nn.Module):
    """Encoder and decoder are single linear maps, with no non-linearity in between.

    With a mean-squared-error loss the best such model spans the same subspace as PCA with
    ``latent_dim`` components, which Lesson 01 uses as a yardstick.
    """

    def __init__(self, latent_dim: int = 32, input_shape: tuple[int, ...] = MNIST_SHAPE):
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim}.")
        self.input_shape = tuple(input_shape)
        self.latent_dim = latent_dim
        n_pixels = math.prod(self.input_shape)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(n_pixels, latent_dim))
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, n_pixels), nn.Unflatten(1, self.input_shape)
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x, self.input_shape, type(self).__name__)
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(x))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
