"""Noise models for denoising: each takes a batch in [0, 1] and returns a noisy copy in [0, 1].

They run on the batch's own device and draw from ``generator`` when given (for a fixed,
repeatable test set) or from torch's global generator otherwise (fresh noise every batch,
seeded by :func:`aecourse.train.fit`). The input is never modified in place.
"""

from __future__ import annotations

import torch


def _check_level(name: str, value: float, low: float = 0.0, high: float = 1.0) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}.")


def gaussian_noise(
    x: torch.Tensor, std: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Add N(0, std^2) to every pixel and clip back to [0, 1] (Lesson 02's first step)."""
    if not 0.0 <= std <= 1.0:
        raise ValueError(f"Gaussian noise std must be between 0.0 and 1.0, got {std}.")
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (x + std * noise).clamp(0.0, 1.0)


def salt_and_pepper(
    x: torch.Tensor, amount: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Set a fraction ``amount`` of the pixels to 0 or 1 (half each, on average)."""
    _check_level("salt-and-pepper amount", amount)
    u = torch.rand(x.shape, generator=generator, device=x.device)
    # torch.where, not out[mask] = 0: mask indexing makes the CPU wait for the GPU.
    salted = torch.where(u < amount, torch.ones_like(x), x)
    return torch.where(u < amount / 2, torch.zeros_like(x), salted)


def masking_noise(
    x: torch.Tensor, fraction: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Set a random fraction of the pixels to 0 (Vincent et al.'s masking noise; Lesson 02's
    last step)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"masking fraction must be between 0.0 and 1.0, got {fraction}.")
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= fraction
    return x * keep


def mixed_corruption(
    x: torch.Tensor, std: float, fraction: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Lesson 02's decision step, as the lesson answers it: each image gets Gaussian noise of
    ``std`` or masking noise of ``fraction``, half of them each, so that one model trained on
    it learns both jobs: smoothing every pixel a little, and filling in the ones that are gone.

    Both are drawn for every image and one is kept: simpler than splitting the batch, and the
    random numbers cost little next to a training step."""
    gaussian = torch.rand(len(x), generator=generator, device=x.device) < 0.5
    noisy, masked = gaussian_noise(x, std, generator), masking_noise(x, fraction, generator)
    return torch.where(gaussian.view(-1, *[1] * (x.dim() - 1)), noisy, masked)
