"""Lesson 02's graded steps: Gaussian noise, the convolutional encoder and decoder, the
denoising autoencoder, one epoch of denoising, the denoiser's PSNR, and masking noise.

Visible cases use the lesson's sizes and small batches; the hidden ones other noise levels,
image sizes, batch sizes and seeds.
"""

from __future__ import annotations

import math
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
from aecourse.steps.epochs import epoch_case

# --- the noise models: functions of (x, level, generator) -----------------------------------


# Gaussian noise is judged by its distribution, not by which random numbers it draws: on a
# batch of one grey level c, the share of pixels above each of a few levels t must be
# P(c + std * N(0, 1) > t), and the shares clipped to exactly 0 and 1 what clipping gives;
# the same noise from generators seeded alike, other noise from another seed, x untouched.


def _gaussian_inputs(shape: tuple[int, ...], level: float, grey: float, seed: int):
    def inputs(reference: Any) -> dict:
        return {"x": torch.full(shape, grey), "level": level, "seed": seed}

    return inputs


def _normal_above(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def _share_problem(share: float, expected: float, n: int, what: str) -> str | None:
    if abs(share - expected) > 5 * math.sqrt(expected * (1 - expected) / n) + 1 / n:
        clipped = "N(0, std^2) noise clipped to [0, 1]"
        return f"{share:.1%} of the pixels {what}; {clipped} puts {expected:.1%} there"
    return None


def _gaussian_problem(got: dict, exp: dict) -> str | None:
    x, std = exp["x"], exp["level"]
    grey = round(x.flatten()[0].item(), 6)
    problem = _draws_problem(got, x)
    if problem:
        return problem
    out = got["out"]
    if out.min() < 0 or out.max() > 1:
        return "some noisy pixels are outside [0, 1]: clip them back"
    problem = _seeds_problem(got, x)
    if problem:
        return problem
    if std == 0:
        return None if torch.equal(out, x) else "noise of std 0 changed the pixels"
    n, on = out.numel(), f"on a batch of grey {grey}, std {std},"
    levels = [grey + k * std for k in (-1, -0.5, 0, 0.5, 1) if 0.01 < grey + k * std < 0.99]

    def share(where: torch.Tensor) -> float:
        return where.double().mean().item()

    checks = [
        (share(out > t), _normal_above((t - grey) / std), f"{on} are above {t:.2f}") for t in levels
    ]
    checks.append((share(out == 0), 1 - _normal_above(-grey / std), f"{on} are exactly 0"))
    checks.append((share(out == 1), _normal_above((1 - grey) / std), f"{on} are exactly 1"))
    return first_problem(*(_share_problem(s, e, n, w) for s, e, w in checks))


def _gaussian_case(shape, level, grey, seed, hidden=False) -> Case:
    name = f"level {level} on a batch {shape} of grey {grey}: the noise's distribution"
    return Case(
        name, _gaussian_inputs(shape, level, grey, seed), _run_draws, _gaussian_problem, hidden
    )


def _level_case(level: float, error_hint: str, hidden: bool = False) -> Case:
    def run(noise: Any, inputs: dict) -> dict:
        return raised(lambda: noise(torch.rand(2, 1, 4, 4), inputs["level"]))

    def judge(got: dict, exp: dict) -> str | None:
        return refusal_problem(got, exp, f"for level {level}", "ValueError", error_hint)

    return Case(f"level {level} refused", lambda reference: {"level": level}, run, judge, hidden)


LEVEL_HINT = "check that the level is between 0 and 1 first"


# Masking noise is judged by what it must do, not by which random numbers it draws: every pixel
# kept or set to 0, about the fraction asked for set to 0, the same mask from generators seeded
# alike and another one from another seed, and x left as it was.


def _mask_inputs(shape: tuple[int, ...], fraction: float, seed: int):
    def inputs(reference: Any) -> dict:
        x = 0.1 + 0.9 * torch.rand(shape, generator=seeded(seed))  # no pixel is 0 to begin with
        return {"x": x, "level": fraction, "seed": seed}

    return inputs


def _run_draws(noise: Any, inputs: dict) -> dict:
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


def _draws_problem(got: dict, x: torch.Tensor) -> str | None:
    """What the draws of a noise step show first: x changed, not a tensor, another shape."""
    if not got["unchanged"]:
        return "it changed its input: return a new tensor, leave x as it was"
    out = got["out"]
    if not isinstance(out, torch.Tensor):
        return f"it returned {out[:60]}, not a tensor"
    if tuple(out.shape) != tuple(x.shape):
        return f"the noisy batch has shape {tuple(out.shape)}, expected {tuple(x.shape)}"
    return None


def _seeds_problem(got: dict, x: torch.Tensor) -> str | None:
    """What the draws from generators seeded alike and otherwise show: not the same draw, or
    the same draw for another seed (where the noise changed anything)."""
    out = got["out"]
    if not isinstance(got["again"], torch.Tensor) or not torch.equal(got["again"], out):
        return (
            "two generators seeded alike gave two different results: draw the random "
            "numbers from the generator it is given"
        )
    if isinstance(got["other"], torch.Tensor) and torch.equal(got["other"], out):
        if got["other"].ne(x).any():
            return "generators seeded differently gave the same result: the noise must be random"
    return None


def _mask_problem(got: dict, exp: dict) -> str | None:
    x, level = exp["x"], exp["level"]
    problem = _draws_problem(got, x)
    if problem:
        return problem
    out = got["out"]
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
    return _seeds_problem(got, x)


def _mask_case(shape, fraction, seed, hidden=False) -> Case:
    name = f"fraction {fraction} on a batch {shape}: pixels kept or 0, about that share 0"
    return Case(name, _mask_inputs(shape, fraction, seed), _run_draws, _mask_problem, hidden)


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
    Step(
        "gaussian_noise",
        "gaussian_noise",
        "Gaussian noise: the corruption it learns to undo",
        2,
        lambda: package("noise").gaussian_noise,
        (
            _gaussian_case(IMAGES, 0.5, 0.5, 1),
            _level_case(1.5, LEVEL_HINT),
            _gaussian_case((4, 1, 28, 28), 0.8, 0.3, 2, hidden=True),
            _gaussian_case((3, 1, 28, 28), 0.1, 0.9, 3, hidden=True),
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
