"""The lessons' epochs and measurements, the package's copies: what the learner writes.

Lesson 01 writes one epoch of training and the reconstruction error in its cells (graded
steps) and trains with them; Lesson 02 the epoch of a denoiser and its PSNR; Lesson 03 the
anomaly score of a VAE; Lesson 04 a colorizer's predictions and its gain over the gray copy;
Lesson 05 that gain photo by photo, and how colourful predictions are. These copies are the
same code (tested so), which the lessons' checks compare with; the lessons train with
:func:`aecourse.train.fit`, the same loop with progress bars, checkpoints and NaN checks.
"""

from __future__ import annotations

import torch
from torch import nn

from aecourse.color import rgb_to_lab, to_gray
from aecourse.data import batches
from aecourse.losses import bernoulli_nll, kl_divergence
from aecourse.metrics import psnr
from aecourse.noise import gaussian_noise


def train_epoch(
    model: nn.Module,
    x: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    """One epoch: every image of ``x`` once, in mini-batches in a random order drawn with
    ``generator``; for each, reconstruct, MSE, backward, step. Returns the epoch's mean loss."""
    model.train()
    total = 0.0
    for idx in batches(len(x), batch_size, shuffle=True, generator=generator, device=x.device):
        batch = x[idx]
        loss = nn.functional.mse_loss(model(batch), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    return total / len(x)


def reconstruction_mse(model: nn.Module, x: torch.Tensor) -> float:
    """The mean squared reconstruction error of ``model`` on ``x`` (validation or test images),
    in eval mode, without gradients: how Lesson 01 measures a model."""
    model.eval()
    with torch.no_grad():
        return nn.functional.mse_loss(model(x), x).item()


def denoising_epoch(
    model: nn.Module,
    x: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    batch_size: int,
    std: float,
    generator: torch.Generator,
) -> float:
    """Lesson 02's epoch: as :func:`train_epoch`, but the model sees each batch with fresh
    Gaussian noise (torch's global generator) and is scored against the clean batch."""
    model.train()
    total = 0.0
    for idx in batches(len(x), batch_size, shuffle=True, generator=generator, device=x.device):
        clean = x[idx]
        loss = nn.functional.mse_loss(model(gaussian_noise(clean, std)), clean)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    return total / len(x)


def denoised_psnr(model: nn.Module, noisy: torch.Tensor, clean: torch.Tensor) -> float:
    """The mean PSNR (dB) of ``model``'s output for ``noisy`` against ``clean``, in eval mode,
    without gradients: how Lesson 02 scores a denoiser."""
    model.eval()
    with torch.no_grad():
        return psnr(model(noisy), clean).mean().item()


def anomaly_scores(vae: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Lesson 03's anomaly score: each image's negative ELBO in nats (shape (B,)), a bound on
    -log p(x) that is high for images unlike the training data. One sample of z per image:
    seed torch's generator first for repeatable scores."""
    with torch.no_grad():
        logits, mu, logvar = vae(x)
        return bernoulli_nll(logits, x) + kl_divergence(mu, logvar)


def predict_colors(model: nn.Module, gray: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Lesson 04: the colours ``model`` gives the gray images ``gray``, in eval mode without
    gradients, ``batch_size`` images at a time, so that a test split of large photos need not
    pass through the model at once."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(gray[i : i + batch_size]) for i in range(0, len(gray), batch_size)])


def psnr_gain(predicted: torch.Tensor, gray: torch.Tensor, rgb: torch.Tensor) -> float:
    """Lesson 04's measure: the mean PSNR (dB) of the colours ``predicted`` for ``gray``
    against the true colours ``rgb``, minus that of the gray copy (the gray in all three
    channels, the colorizer that does nothing). Below 0, colour does more harm than good."""
    gray_copy = gray.expand(-1, 3, -1, -1)
    return psnr(predicted, rgb).mean().item() - psnr(gray_copy, rgb).mean().item()


def gain_by_photo(
    predicted: torch.Tensor, rgb: torch.Tensor, sources: list[str]
) -> dict[str, float]:
    """Lesson 05: :func:`psnr_gain` for the images of each source photo apart (``sources``
    names each image's photo), in the order the photos first appear. One test split of a few
    photos is a noisy judge; the gain photo by photo says how noisy."""
    gains = {}
    for name in dict.fromkeys(sources):
        mask = torch.tensor([s == name for s in sources], device=rgb.device)
        gains[name] = psnr_gain(predicted[mask], to_gray(rgb[mask]), rgb[mask])
    return gains


def mean_chroma(rgb: torch.Tensor) -> float:
    """Lesson 05: the mean chroma sqrt(a*^2 + b*^2) over every pixel of colour images in
    [0, 1]: 0 for gray, larger for more vivid colours. MSE makes a colorizer's colours duller
    than the photos'; this says by how much."""
    lab = rgb_to_lab(rgb)
    return torch.sqrt(lab[:, 1] ** 2 + lab[:, 2] ** 2).mean().item()
