"""Checks for the lessons' exercises: they explain what is wrong instead of a bare assert.

Each check returns None on success (after printing a short confirmation) and raises
:class:`ExerciseError` with a hint otherwise.
"""

from __future__ import annotations

import torch
from torch import nn


class ExerciseError(AssertionError):
    """The exercise is not solved yet; the message says what to look at."""


def _fail(message: str) -> None:
    raise ExerciseError(message)


def check_tied_autoencoder(model_class: type[nn.Module], latent_dim: int = 8) -> None:
    """Lesson 01: a linear autoencoder whose decoder reuses the encoder's weight, transposed.

    Expected: ``model_class(latent_dim)`` maps (B, 1, 28, 28) to (B, 1, 28, 28) with one weight
    matrix of shape (latent_dim, 784) plus two biases (latent_dim and 784 values).
    """
    try:
        model = model_class(latent_dim)
    except NotImplementedError:
        _fail("The class still raises NotImplementedError: write __init__ and forward.")
    x = torch.rand(5, 1, 28, 28)
    try:
        out = model(x)
    except NotImplementedError:
        _fail("forward() still raises NotImplementedError.")
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        _fail(
            f"model(x) should return a tensor shaped like x, (5, 1, 28, 28); got {shape}. "
            "Did you reshape the decoder's output back to images?"
        )
    expected = latent_dim * 784 + latent_dim + 784
    n_params = sum(p.numel() for p in model.parameters())
    if n_params == 2 * latent_dim * 784 + latent_dim + 784:
        _fail(
            "The model has two weight matrices. Tie them: the decoder should use the "
            "encoder's weight transposed (e.g. x @ W, where W is the encoder's weight), "
            "not an nn.Linear of its own."
        )
    if n_params != expected:
        _fail(
            f"Expected {expected:,} parameters (one {latent_dim}x784 weight and two biases), "
            f"found {n_params:,}."
        )
    weights = [p for p in model.parameters() if p.dim() == 2]
    if len(weights) != 1:
        _fail("Expected exactly one 2-D weight matrix shared by encoder and decoder.")
    out.sum().backward()
    if weights[0].grad is None:
        _fail("The shared weight gets no gradient: is it used in forward()?")
    print(
        f"Correct: one shared {tuple(weights[0].shape)} weight, {n_params:,} parameters, "
        "output shaped like the input."
    )


def _call(fn, *args):
    try:
        return fn(*args)
    except NotImplementedError:
        _fail(f"{fn.__name__} still raises NotImplementedError: replace it with your code.")


def check_masking_noise(masking_noise) -> None:
    """Lesson 02: ``masking_noise(x, fraction, generator)`` zeroes a random fraction of pixels."""
    x = torch.rand(64, 1, 28, 28) * 0.9 + 0.1  # no zeros to start with
    original = x.clone()
    out = _call(masking_noise, x, 0.3, torch.Generator().manual_seed(0))
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        _fail("Return a tensor of the same shape as x.")
    if not torch.equal(x, original):
        _fail("x was changed in place; return a new tensor and leave x as it was.")
    kept = out != 0
    if not torch.equal(out[kept], x[kept]):
        _fail("Pixels that are not masked must keep their value (multiply by a 0/1 mask).")
    fraction = 1 - kept.float().mean().item()
    if abs(fraction - 0.3) > 0.02:
        _fail(f"About 30% of the pixels should be zero with fraction=0.3; {fraction:.1%} are.")
    again = masking_noise(x, 0.3, torch.Generator().manual_seed(0))
    if not torch.equal(out, again):
        _fail("The same generator seed should give the same mask: draw with generator=.")
    if not torch.equal(masking_noise(x, 0.0, torch.Generator().manual_seed(0)), x):
        _fail("fraction=0 should leave every pixel as it is.")
    print(f"Correct: {fraction:.1%} of pixels masked, the rest untouched, repeatable with a seed.")


def check_kl_divergence(kl_divergence) -> None:
    """Lesson 03: ``kl_divergence(mu, logvar)`` is KL(N(mu, sigma^2) || N(0, 1)) per image."""
    from aecourse.losses import kl_divergence as reference

    zeros = torch.zeros(3, 4)
    out = _call(kl_divergence, zeros, zeros)
    if not isinstance(out, torch.Tensor) or out.shape != (3,):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        _fail(f"Return one value per image, shape (3,) for 3 images; got {shape}. "
              "Sum over the latent dimension (dim=1), do not average over the batch.")  # fmt: skip
    if not torch.allclose(out, torch.zeros(3), atol=1e-6):
        _fail(f"KL(N(0, 1) || N(0, 1)) must be 0, got {out.tolist()}.")
    one = kl_divergence(torch.ones(1, 4), torch.zeros(1, 4))
    if torch.allclose(one, torch.tensor([-2.0])):
        _fail("KL came out negative: check the sign; KL divergence is never below zero.")
    if not torch.allclose(one, torch.tensor([2.0])):
        _fail(f"For mu=1, sigma=1 in 4 dimensions the KL is 4 * 0.5 = 2.0; got {one.item():.4f}. "
              "Is the factor 1/2 there?")  # fmt: skip
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(16, 8, generator=g), torch.randn(16, 8, generator=g)
    if not torch.allclose(kl_divergence(mu, logvar), reference(mu, logvar), atol=1e-5):
        _fail(
            "Right at mu=0 and mu=1 but wrong when the variance is not 1: check the "
            "sigma^2 - log(sigma^2) part (logvar is log sigma^2, so sigma^2 = exp(logvar))."
        )
    print("Correct: 0 for N(0, 1), 2.0 for mu=1 in 4 dimensions, and equal to the reference "
          "on random inputs.")  # fmt: skip
