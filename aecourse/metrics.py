"""Numbers that say how good a reconstruction is, and the yardsticks to compare against."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class PCA:
    """Principal component analysis fitted on flattened images: ``mean`` and ``components``.

    The best linear autoencoder with ``k`` latent units (under MSE) reconstructs exactly as well
    as PCA with ``k`` components, so PCA is the yardstick for Lesson 01.
    """

    mean: torch.Tensor  # (D,)
    components: torch.Tensor  # (k, D), orthonormal rows, by decreasing variance

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1) - self.mean) @ self.components.T

    def decode(self, z: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        return (z @ self.components + self.mean).view(-1, *shape)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x), tuple(x.shape[1:]))


def fit_pca(x: torch.Tensor, k: int) -> PCA:
    """Fit PCA with ``k`` components from the covariance of ``x`` (in float64 for accuracy)."""
    flat = x.flatten(1).double()
    if not 1 <= k <= flat.shape[1]:
        raise ValueError(f"k must be between 1 and {flat.shape[1]}, got {k}.")
    mean = flat.mean(0)
    centred = flat - mean
    cov = centred.T @ centred / (len(flat) - 1)
    _, vectors = torch.linalg.eigh(cov)  # ascending eigenvalues
    components = vectors[:, -k:].flip(1).T
    return PCA(mean.to(x.dtype), components.to(x.dtype).contiguous())


def mse(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean squared error over every pixel of every image."""
    if a.shape != b.shape:
        raise ValueError(f"Shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}.")
    return torch.mean((a.double() - b.double()) ** 2).item()


def pca_mse(train_x: torch.Tensor, eval_x: torch.Tensor, k: int) -> float:
    """Reconstruction MSE on ``eval_x`` of PCA with ``k`` components fitted on ``train_x``."""
    pca = fit_pca(train_x, k)
    return mse(pca.reconstruct(eval_x), eval_x)
