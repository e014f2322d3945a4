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
