"""Lesson 02's graded steps: Gaussian noise, the convolutional encoder and decoder, the
denoising autoencoder, one epoch of denoising, the denoiser's PSNR, and masking noise.

Visible cases use the lesson's sizes and small batches; the hidden ones other noise levels,
image sizes, batch sizes and seeds.
"""

from __future__ import annotations

from typing import Any

import torch

from aecourse.steps import Case, Step, close, first_problem, package, seeded
from aecourse.steps.cases import (
    backward_case,
    forward_case,
    load_weights,
    parameters_case,
    raised,
    refusal_problem,
    stand_in_conv,
)
from aecourse.steps.cases import raises_case as module_raises_case

# --- the noise models: functions of (x, level, generator) -----------------------------------


def _noise_inputs(shape: tuple[int, ...], level: float, seed: int):
    def inputs(reference: Any) -> dict:
        return {"x": torch.rand(shape, generator=seeded(seed)), "level": level, "seed": seed}

    return inputs


def _run_noise(noise: Any, inputs: dict) -> dict:
    x = inputs["x"].clone()
    out = noise(x, inputs["level"], generator=seeded(inputs["seed"] + 100))
    unchanged = torch.equal(x, inputs["x"])
    return {
        "out": out.detach().clone() if isinstance(out, torch.Tensor) else repr(out),
        "unchanged": unchanged,
    }


def _noise_judge(draw: str):
    def judge(got: dict, exp: dict) -> str | None:
        if not got["unchanged"]:
            return "it changed its input: return a new tensor, leave x as it was"
        return close(got["out"], exp["out"], "the noisy batch", draw)

    return judge


def _noise_case(shape, level, seed, draw, hidden=False) -> Case:
    return Case(
        f"level {level} on a batch {shape}",
        _noise_inputs(shape, level, seed),
        _run_noise,
        _noise_judge(draw),
        hidden,
    )


def _level_case(level: float, error_hint: str, hidden: bool = False) -> Case:
    def run(noise: Any, inputs: dict) -> dict:
        return raised(lambda: noise(torch.rand(2, 1, 4, 4), inputs["level"]))

    def judge(got: dict, exp: dict) -> str | None:
        return refusal_problem(got, exp, f"for level {level}", "ValueError", error_hint)

    return Case(f"level {level} refused", lambda reference: {"level": level}, run, judge, hidden)


GAUSSIAN_DRAW = (
    "draw torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype), "
    "add std times it to x, then clamp to [0, 1]"
)
LEVEL_HINT = "check that the level is between 0 and 1 first"


# Masking noise is judged by what it must do, not by which random numbers it draws: every pixel
# kept or set to 0, about the fraction asked for set to 0, the same mask from generators seeded
# alike and another one from another seed, and x left as it was.


def _mask_inputs(shape: tuple[int, ...], fraction: float, seed: int):
    def inputs(reference: Any) -> dict:
        x = 0.1 + 0.9 * torch.rand(shape, generator=seeded(seed))  # no pixel is 0 to begin with
        return {"x": x, "level": fraction, "seed": seed}

    return inputs


def _run_mask(noise: Any, inputs: dict) -> dict:
    x, level, seed = inputs["x"], inputs["level"], inputs["seed"]

    def draw(given: torch.Tensor, offset: int) -> Any:
        out = noise(given, level, generator=seeded(seed + offset))
        return out.detach().clone() if isinstance(out, torch.Tensor) else repr(out)

    given = x.clone()
    return {
        "x": x,  # the judge reads x and the level from the reference's run, not the answer's
        "level": level,
        "out": draw(given, 100),
        "again": draw(x.clone(), 100),
        "other": draw(x.clone(), 200),
        "unchanged": torch.equal(given, x),
    }


def _mask_problem(got: dict, exp: dict) -> str | None:
    x, level = exp["x"], exp["level"]
    if not got["unchanged"]:
        return "it changed its input: return a new tensor, leave x as it was"
    out = got["out"]
    if not isinstance(out, torch.Tensor):
        return f"it returned {out[:60]}, not a tensor"
    if tuple(out.shape) != tuple(x.shape):
        return f"the noisy batch has shape {tuple(out.shape)}, expected {tuple(x.shape)}"
    zeroed, kept = out == 0, out == x
    odd = int((~(zeroed | kept)).sum())
    if odd:
        return (
            f"{odd} of {x.numel()} pixels are neither kept as they were nor set to 0: masking "
            "noise only removes pixels"
        )
    share = zeroed.float().mean().item()
    allowed = 5 * (level * (1 - level) / x.numel()) ** 0.5 + 1 / x.numel()
    if abs(share - level) > allowed:
        return f"{share:.0%} of the pixels were set to 0 for fraction {level}, not {level:.0%}"
    if not isinstance(got["again"], torch.Tensor) or not torch.equal(got["again"], out):
        return (
            "two generators seeded alike gave two different masks: draw the mask's random "
            "numbers from the generator it is given"
        )
    if 0 < level < 1 and isinstance(got["other"], torch.Tensor) and torch.equal(got["other"], out):
        return "generators seeded differently gave the same mask: the mask must be random"
    return None


def _mask_case(shape, fraction, seed, hidden=False) -> Case:
    name = f"fraction {fraction} on a batch {shape}: pixels kept or 0, about that share 0"
    return Case(name, _mask_inputs(shape, fraction, seed), _run_mask, _mask_problem, hidden)


# --- the model: modules without arguments ---------------------------------------------------

ENCODER_SHAPES = (
    "Conv2d(1, 32, 3, stride=2, padding=1), BatchNorm2d(32), ReLU, then the same from 32 to 64 "
    "channels, in self.layers = nn.Sequential(...)"
)
DECODER_SHAPES = (
    "ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), BatchNorm2d(32), ReLU, "
    "ConvTranspose2d(32, 1, ...) and a Sigmoid, in self.layers"
)
AUTOENCODER_SHAPES = "self.encoder = DenoisingEncoder(), then self.decoder = DenoisingDecoder()"


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


def _run_epoch(denoising_epoch: Any, inputs: dict) -> dict:
    model = _model_with(inputs)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    torch.manual_seed(inputs["seed"])  # the noise: torch's global generator
    loss = denoising_epoch(
        model,
        inputs["x"],
        optimizer,
        inputs["batch_size"],
        inputs["std"],
        seeded(inputs["seed"] + 2),
    )
    return {
        "loss": torch.tensor(float(loss)),
        "weights": [p.detach().clone() for p in model.parameters()],
    }


EPOCH_HINT = (
    "for each batch of batches(len(x), batch_size, shuffle=True, generator=generator, "
    "device=x.device): the model sees gaussian_noise(clean, std) (no generator: fresh noise), "
    "the MSE is against the clean batch; zero the gradients, backward, step"
)


def _judge_epoch(got: dict, exp: dict) -> str | None:
    weights = [
        close(g, e, f"parameter {i} after the epoch", EPOCH_HINT, tol=1e-3)
        for i, (g, e) in enumerate(zip(got["weights"], exp["weights"], strict=True))
    ]
    loss = close(
        got["loss"],
        exp["loss"],
        "the returned loss",
        "return the mean over all images: sum loss.item() * len(idx), divide by len(x)",
    )
    return first_problem(*weights, loss)


def _epoch_case(n: int, batch_size: int, std: float, seed: int, hidden: bool = False) -> Case:
    return Case(
        f"one epoch over {n} images in batches of {batch_size}, noise {std}",
        _model_inputs(n, seed, batch_size=batch_size, std=std),
        _run_epoch,
        _judge_epoch,
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
        return "return a Python number: .mean().item() of the PSNR per image"
    if got["grads"]:
        return "its forward pass built a graph for gradients: measure under torch.no_grad()"
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
    Step(
        "gaussian_noise",
        "gaussian_noise",
        "Gaussian noise: the corruption it learns to undo",
        2,
        lambda: package("noise").gaussian_noise,
        (
            _noise_case(IMAGES, 0.5, 1, GAUSSIAN_DRAW),
            _level_case(1.5, LEVEL_HINT),
            _noise_case((3, 1, 9, 9), 0.8, 2, GAUSSIAN_DRAW, hidden=True),
            _noise_case((2, 1, 28, 28), 0.1, 3, GAUSSIAN_DRAW, hidden=True),
            _level_case(-0.1, LEVEL_HINT, hidden=True),
        ),
    ),
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
                "call check_image_batch(x, (1, 28, 28), 'DenoisingAutoencoder') first",
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
    Step(
        "masking_noise",
        "masking_noise",
        "masking noise: pixels set to 0",
        2,
        lambda: package("noise").masking_noise,
        (
            _mask_case(IMAGES, 0.3, 4),
            _level_case(2.0, LEVEL_HINT),
            _mask_case((3, 1, 9, 9), 0.2, 5, hidden=True),
            _mask_case((2, 1, 28, 28), 0.9, 6, hidden=True),
            _mask_case((2, 1, 28, 28), 0.0, 7, hidden=True),
            _level_case(-0.5, LEVEL_HINT, hidden=True),
        ),
    ),
)
