"""Lesson 01's graded steps: the linear encoder, decoder and autoencoder, one epoch of
training, the reconstruction error, and the tied autoencoder.

Visible cases use a latent size of 8 and small batches; the hidden ones other sizes, batch
sizes and seeds, so an answer fitted to what the lesson shows does not pass by accident.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from aecourse.steps import Case, Step, close, package, seeded
from aecourse.steps.cases import (
    backward_case,
    forward_case,
    load_weights,
    parameters_case,
    raises_case,
    stand_in_autoencoder,
)
from aecourse.steps.epochs import epoch_case

IMAGES = (5, 1, 28, 28)
ENCODER_SHAPES = "one affine map from the 28 * 28 = 784 pixels to latent_dim numbers"
DECODER_SHAPES = "one affine map from latent_dim numbers to the 784 pixels"
AUTOENCODER_SHAPES = "the encoder and the decoder of steps 1 and 2, and nothing else"
TIED_SHAPES = (
    "one weight (latent_dim, 784), then the encoder's bias (latent_dim), then the decoder's (784)"
)


def _module_cases(args, hidden_args, x_shape, hidden_x, shape_hint, value_hint) -> tuple:
    return (
        parameters_case(args, x_shape, 1, shape_hint),
        forward_case(args, x_shape, 2, shape_hint, value_hint),
        backward_case(args, x_shape, 3, shape_hint),
        parameters_case(hidden_args, hidden_x, 11, shape_hint, hidden=True),
        forward_case(hidden_args, hidden_x, 12, shape_hint, value_hint, hidden=True),
        backward_case(hidden_args, hidden_x, 13, shape_hint, hidden=True),
    )


# --- training and measuring: a stand-in autoencoder (cases.stand_in_autoencoder) ---------


def _loop_inputs(latent_dim: int, n: int, batch_size: int, seed: int):
    def inputs(reference: Any) -> dict:
        torch.manual_seed(seed)
        model = stand_in_autoencoder(latent_dim)
        return {
            "latent_dim": latent_dim,
            "batch_size": batch_size,
            "seed": seed,
            "weights": [p.detach().clone() for p in model.parameters()],
            "x": torch.rand(n, 1, 28, 28, generator=seeded(seed + 1)),
        }

    return inputs


def _model_with(inputs: dict) -> torch.nn.Module:
    model = stand_in_autoencoder(inputs["latent_dim"])
    load_weights(model, inputs["weights"])
    return model


def _epoch_case(n: int, batch_size: int, seed: int, hidden: bool = False) -> Case:
    latent_dim = 8 if not hidden else 3
    return epoch_case(
        f"one epoch over {n} images in batches of {batch_size}",
        lambda: stand_in_autoencoder(latent_dim),
        lambda epoch, model, x, optimizer, inputs, generator: epoch(
            model, x, optimizer, inputs["batch_size"], generator
        ),
        n,
        batch_size,
        seed,
        hidden=hidden,
    )


def _run_error(reconstruction_mse: Any, inputs: dict) -> dict:
    model = _model_with(inputs)
    model.train()
    graphs = []  # whether each forward pass built a graph for gradients
    model.register_forward_pre_hook(lambda *_: graphs.append(torch.is_grad_enabled()))
    value = reconstruction_mse(model, inputs["x"])
    number = value.detach() if isinstance(value, torch.Tensor) else value
    return {"mse": torch.tensor(float(number)), "number": isinstance(value, int | float),
            "grads": any(graphs), "eval": not model.training}  # fmt: skip


def _judge_error(got: dict, exp: dict) -> str | None:
    if not got["number"]:
        return "it should return a Python number, not a tensor"
    if got["grads"]:
        return "its forward pass built a graph for gradients, which measuring does not need"
    if not got["eval"]:
        return "the model was left in training mode: measurements are made in evaluation mode"
    return close(
        got["mse"],
        exp["mse"],
        "the MSE",
        "it should be the mean squared error over every pixel of every image",
    )


def _error_case(n: int, seed: int, hidden: bool = False) -> Case:
    return Case(
        f"MSE of {n} images",
        _loop_inputs(8 if not hidden else 3, n, 16, seed),
        _run_error,
        _judge_error,
        hidden,
    )


# --- PCA's solution in the learner's own autoencoder: judged by what the model then does ------


def _pca_inputs(k: int, seed: int):
    def inputs(reference: Any) -> dict:
        g = seeded(seed)
        components = torch.linalg.qr(torch.randn(784, k, generator=g)).Q.T.contiguous()
        mean = 0.3 * torch.rand(784, generator=g)
        return {"k": k, "mean": mean, "components": components,
                "x": torch.rand(6, 1, 28, 28, generator=g)}  # fmt: skip

    return inputs


def _run_pca(init_from_pca: Any, inputs: dict) -> dict:
    """Build the autoencoder the answer is written for (``LinearAutoencoder`` where the answer
    is defined: the learner's own, or the lesson's copy standing in), set it to PCA with the
    answer, and send back its reconstructions and whether its parameters still train."""
    space = getattr(inspect.unwrap(init_from_pca), "__globals__", {})  # through decorators
    make = space.get("LinearAutoencoder")
    if make is None:
        raise NameError("there is no LinearAutoencoder where init_from_pca is defined")
    torch.manual_seed(0)
    model = make(inputs["k"])
    init_from_pca(model, inputs["mean"].clone(), inputs["components"].clone())
    with torch.no_grad():
        out = model(inputs["x"])
    trainable = all(p.requires_grad for p in model.parameters())
    return {"out": out.clone(), "trainable": trainable, "x": inputs["x"],
            "mean": inputs["mean"], "components": inputs["components"]}  # fmt: skip


def _judge_pca(got: dict, exp: dict) -> str | None:
    flat = exp["x"].flatten(1)
    pca = (flat - exp["mean"]) @ exp["components"].T @ exp["components"] + exp["mean"]
    if not got["trainable"]:
        return "some of its parameters no longer train (requires_grad is off)"
    return close(got["out"], pca.view_as(exp["x"]), "its reconstructions",
                 "the model must reconstruct every image exactly as PCA does")  # fmt: skip


def _pca_case(k: int, seed: int, hidden: bool = False) -> Case:
    name = f"PCA with {k} components: the model then reconstructs as PCA does"
    return Case(name, _pca_inputs(k, seed), _run_pca, _judge_pca, hidden)


STEPS = (
    Step(
        "linear_encoder",
        "LinearEncoder",
        "the encoder: an image to a latent code",
        2,
        lambda: package("models").LinearEncoder,
        _module_cases(
            {"latent_dim": 8},
            {"latent_dim": 3},
            IMAGES,
            (7, 1, 28, 28),
            ENCODER_SHAPES,
            "flatten each image to 784 numbers, then the linear map",
        ),
    ),
    Step(
        "linear_decoder",
        "LinearDecoder",
        "the decoder: a latent code back to an image",
        2,
        lambda: package("models").LinearDecoder,
        _module_cases(
            {"latent_dim": 8},
            {"latent_dim": 3},
            (5, 8),
            (7, 3),
            DECODER_SHAPES,
            "the affine map, its 784 numbers put back in image shape",
        ),
    ),
    Step(
        "linear_autoencoder",
        "LinearAutoencoder",
        "encoder and decoder in one model",
        3,
        lambda: package("models").LinearAutoencoder,
        (
            *_module_cases(
                {"latent_dim": 8},
                {"latent_dim": 3},
                IMAGES,
                (7, 1, 28, 28),
                AUTOENCODER_SHAPES,
                "decode what the encoder returns",
            ),
            raises_case(
                {"latent_dim": 8},
                (1, 28, 28),
                "ValueError",
                "a single image without its batch dimension must be refused",
            ),
            raises_case(
                {"latent_dim": 3},
                (4, 784),
                "ValueError",
                "check the shape of x before encoding it",
                hidden=True,
            ),
        ),
    ),
    Step(
        "train_epoch",
        "train_epoch",
        "one epoch of training, the loop written out",
        3,
        lambda: package("loop").train_epoch,
        (
            _epoch_case(40, 16, 21),
            _epoch_case(50, 8, 31, hidden=True),
            _epoch_case(33, 32, 32, hidden=True),
        ),
    ),
    Step(
        "reconstruction_mse",
        "reconstruction_mse",
        "the reconstruction error: how the model is measured",
        2,
        lambda: package("loop").reconstruction_mse,
        (_error_case(30, 41), _error_case(45, 51, hidden=True)),
    ),
    Step(
        "init_from_pca",
        "init_from_pca",
        "your autoencoder set to PCA's solution, no training",
        2,
        lambda: package("models").init_from_pca,
        (_pca_case(8, 81), _pca_case(3, 82, hidden=True)),
    ),
    Step(
        "tied_autoencoder",
        "TiedLinearAutoencoder",
        "one weight matrix for both directions",
        2,
        lambda: package("models").TiedLinearAutoencoder,
        _module_cases(
            {"latent_dim": 8},
            {"latent_dim": 3},
            IMAGES,
            (7, 1, 28, 28),
            TIED_SHAPES,
            "the code is W x plus the encoder's bias, the image W transposed times the code "
            "plus the decoder's bias",
        ),
    ),
)
