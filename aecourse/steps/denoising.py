"""Lesson 02's graded steps: the noise models, the convolutional denoising autoencoder, one
epoch, the denoiser's PSNR, and a training corruption of the learner's design.

Visible cases use the lesson's sizes and small batches; the hidden ones other noise levels,
image sizes, batch sizes and seeds.
"""

from __future__ import annotations

from typing import Any

import torch

from aecourse.steps import Case, Step, close, package, seeded
from aecourse.steps.cases import (
    backward_case,
    forward_case,
    load_weights,
    parameters_case,
    stand_in_conv,
)
from aecourse.steps.cases import raises_case as module_raises_case
from aecourse.steps.epochs import epoch_case
from aecourse.steps.noise import GAUSSIAN_NOISE, MASKING_NOISE, MIXED_CORRUPTION

# --- the model: modules without arguments ---------------------------------------------------

ENCODER_SHAPES = (
    "two 3x3 stride-2 convolutions, 1 to 32 to 64 channels, each followed by BatchNorm and a ReLU"
)
DECODER_SHAPES = (
    "ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), BatchNorm2d(32), ReLU, "
    "a transposed convolution to 1 channel and a Sigmoid"
)
AUTOENCODER_SHAPES = "an encoder and a decoder as in steps 2 and 3, and nothing else"


def _module_cases(x_shape, hidden_x, shape_hint: str, value_hint: str) -> tuple[Case, ...]:
    return (
        parameters_case({}, x_shape, 1, shape_hint),
        forward_case({}, x_shape, 2, shape_hint, value_hint),
        backward_case({}, x_shape, 3, shape_hint),
        forward_case({}, hidden_x, 12, shape_hint, value_hint, hidden=True),
        backward_case({}, hidden_x, 13, shape_hint, hidden=True),
    )


# --- training and measuring: a stand-in denoiser (cases.stand_in_conv) ---------------------


def _model_inputs(n: int, seed: int, **extra):
    def inputs(reference: Any) -> dict:
        torch.manual_seed(seed)
        model = stand_in_conv(1, 1)
        clean = torch.rand(n, 1, 28, 28, generator=seeded(seed + 1))
        return {
            "weights": [p.detach().clone() for p in model.parameters()],
            "x": clean,
            "seed": seed,
            **extra,
        }

    return inputs


def _model_with(inputs: dict) -> torch.nn.Module:
    model = stand_in_conv(1, 1)
    load_weights(model, inputs["weights"])
    return model


def _epoch_case(n: int, batch_size: int, std: float, seed: int, hidden: bool = False) -> Case:
    return epoch_case(
        f"one epoch over {n} images in batches of {batch_size}, noise {std}",
        lambda: stand_in_conv(1, 1),
        lambda epoch, model, x, optimizer, inputs, generator: epoch(
            model, x, optimizer, inputs["batch_size"], inputs["std"], generator
        ),
        n,
        batch_size,
        seed,
        std,
        hidden,
    )


def _run_psnr(denoised_psnr: Any, inputs: dict) -> dict:
    model = _model_with(inputs)
    model.train()
    graphs = []  # whether each forward pass built a graph for gradients
    model.register_forward_pre_hook(lambda *_: graphs.append(torch.is_grad_enabled()))
    value = denoised_psnr(model, inputs["noisy"], inputs["x"])
    number = value.detach() if isinstance(value, torch.Tensor) else value
    return {
        "psnr": torch.tensor(float(number)),
        "number": isinstance(value, int | float),
        "grads": any(graphs),
        "eval": not model.training,
    }


def _judge_psnr(got: dict, exp: dict) -> str | None:
    if not got["number"]:
        return "it should return a Python number, the mean of the PSNR per image"
    if got["grads"]:
        return "its forward pass built a graph for gradients, which measuring does not need"
    if not got["eval"]:
        return "switch the model to evaluation mode first (BatchNorm then uses its averages)"
    return close(
        got["psnr"], exp["psnr"], "the PSNR", "psnr(model(noisy), clean) per image, then its mean"
    )


def _psnr_inputs(n: int, seed: int):
    """The model's inputs, and the noisy copies the grader makes (the package's
    gaussian_noise stays here: it is one of the lesson's steps)."""
    model_inputs = _model_inputs(n, seed)

    def inputs(reference: Any) -> dict:
        found = model_inputs(reference)
        noise = package("noise").gaussian_noise
        return found | {"noisy": noise(found["x"], 0.5, seeded(seed + 3))}

    return inputs


def _psnr_case(n: int, seed: int, hidden: bool = False) -> Case:
    return Case(
        f"PSNR of {n} denoised images", _psnr_inputs(n, seed), _run_psnr, _judge_psnr, hidden
    )


IMAGES = (5, 1, 28, 28)
CODES = (5, 64, 7, 7)

STEPS = (
    GAUSSIAN_NOISE,
    Step(
        "denoising_encoder",
        "DenoisingEncoder",
        "the encoder: two stride-2 convolutions",
        3,
        lambda: package("models").DenoisingEncoder,
        _module_cases(
            IMAGES,
            (3, 1, 28, 28),
            ENCODER_SHAPES,
            "convolution, BatchNorm, ReLU, twice, in that order",
        ),
    ),
    Step(
        "denoising_decoder",
        "DenoisingDecoder",
        "the decoder: two transposed convolutions",
        3,
        lambda: package("models").DenoisingDecoder,
        _module_cases(
            CODES,
            (3, 64, 7, 7),
            DECODER_SHAPES,
            "transposed convolution, BatchNorm, ReLU, transposed convolution, sigmoid",
        ),
    ),
    Step(
        "denoising_autoencoder",
        "DenoisingAutoencoder",
        "encoder and decoder in one model",
        2,
        lambda: package("models").DenoisingAutoencoder,
        (
            *_module_cases(
                IMAGES, (3, 1, 28, 28), AUTOENCODER_SHAPES, "decode what the encoder returns"
            ),
            module_raises_case(
                {},
                (1, 28, 28),
                "ValueError",
                "a single image without its batch dimension must be refused",
            ),
            module_raises_case(
                {}, (4, 784), "ValueError", "check the shape of x first", hidden=True
            ),
        ),
    ),
    Step(
        "denoising_epoch",
        "denoising_epoch",
        "one epoch: noisy input, clean target",
        3,
        lambda: package("loop").denoising_epoch,
        (
            _epoch_case(24, 8, 0.5, 21),
            _epoch_case(30, 16, 0.3, 31, hidden=True),
            _epoch_case(17, 32, 0.7, 32, hidden=True),
        ),
    ),
    Step(
        "denoised_psnr",
        "denoised_psnr",
        "the denoiser's PSNR: how it is scored",
        2,
        lambda: package("loop").denoised_psnr,
        (_psnr_case(12, 41), _psnr_case(20, 51, hidden=True)),
    ),
    MASKING_NOISE,
    MIXED_CORRUPTION,
)
