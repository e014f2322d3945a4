"""Lesson 04's graded steps: the colorizer's encoder, decoder and model, the loss it trains
with (the learner's choice), its predictions and its gain in dB over the gray copy.

Visible cases use the lesson's width (32) on 64x64 crops; the hidden ones a narrower model,
a*b* output (two channels, as Lesson 05's Lab model) and crops of other, non-square sizes.
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
    raises_case,
    stand_in_conv,
)

NARROW = {"out_channels": 2, "width": 8}
CROPS, ODD_CROPS = (2, 1, 64, 64), (3, 1, 40, 56)

ENCODER_SHAPES = (
    "three 3x3 stride-2 convolutions that double the channels from width (1 to width, to "
    "2 * width, to 4 * width), then one 3x3 convolution to 8 * width that keeps the size"
)
ENCODER_VALUES = (
    "every convolution is followed by a ReLU; the sizes it returns are the heights and widths "
    "that the three halving stages took in, in order"
)
DECODER_SHAPES = (
    "three 3x3 stride-2 transposed convolutions that mirror the encoder: 8 * width channels "
    "to 2 * width, to width, to out_channels"
)
DECODER_VALUES = (
    "each stage must give back the size the matching encoder stage took in (the deepest "
    "first), and the colours must lie in [0, 1]"
)
COLORIZER_SHAPES = "an encoder and a decoder of the given width, and nothing else"


def _sizes(x_shape: tuple[int, ...]) -> list[tuple[int, int]]:
    """What the encoder's stride-2 stages take in, for images of ``x_shape``."""
    h, w = x_shape[-2:]
    sizes = []
    for _ in range(3):
        sizes.append((h, w))
        h, w = (h + 1) // 2, (w + 1) // 2
    return sizes


def _code_shape(x_shape: tuple[int, ...], width: int) -> tuple[int, ...]:
    h, w = _sizes(x_shape)[-1]
    return (x_shape[0], 8 * width, (h + 1) // 2, (w + 1) // 2)


def _module_cases(make_args, outputs, shape_hint, value_hint, decoder=False) -> tuple:
    """Parameters, outputs and gradients, visible on the lesson's model and 64x64 crops,
    hidden on a narrow a*b* model and 40x56 crops; a decoder gets a code and the sizes."""
    cases = []
    for args, x_shape, seeds, hidden in (({}, CROPS, (1, 2, 3), False),
                                         (NARROW, ODD_CROPS, (11, 12, 13), True)):  # fmt: skip
        args = make_args(args)
        shape, extra = x_shape, ()
        if decoder:
            shape, extra = _code_shape(x_shape, args.get("width", 32)), (_sizes(x_shape),)
        cases += [
            parameters_case(args, shape, seeds[0], shape_hint, hidden=hidden),
            forward_case(args, shape, seeds[1], shape_hint, value_hint, hidden=hidden,
                         outputs=outputs, extra=extra),
            backward_case(args, shape, seeds[2], shape_hint, hidden=hidden, extra=extra),
        ]  # fmt: skip
    return tuple(cases)


# --- predictions: the model in eval mode, without gradients, batch by batch ------------------


def _predict_inputs(n: int, batch_size: int, seed: int):
    def inputs(reference: Any) -> dict:
        torch.manual_seed(seed)
        model = stand_in_conv(1, 3)
        return {
            "weights": [p.detach().clone() for p in model.parameters()],
            "gray": torch.rand(n, 1, 16, 16, generator=seeded(seed + 1)),
            "batch_size": batch_size,
        }

    return inputs


def _run_predict(predict_colors: Any, inputs: dict) -> dict:
    model = stand_in_conv(1, 3)
    load_weights(model, inputs["weights"])
    model.train()
    calls = []  # (batch size, whether a graph for gradients was built) of each forward pass
    model.register_forward_pre_hook(
        lambda _, args: calls.append((len(args[0]), torch.is_grad_enabled()))
    )
    out = predict_colors(model, inputs["gray"], inputs["batch_size"])
    return {
        "out": out.detach().clone() if isinstance(out, torch.Tensor) else repr(type(out)),
        "largest": max((size for size, _ in calls), default=0),
        "grads": any(grad for _, grad in calls),
        "eval": not model.training,
    }


def _judge_predict(got: dict, exp: dict) -> str | None:
    if not got["eval"]:
        return "the model was left in training mode: predictions are made in evaluation mode"
    if got["grads"]:
        return "its forward passes built graphs for gradients, which predicting does not need"
    if got["largest"] > exp["largest"]:
        return (
            f"it ran the model on {got['largest']} images at once: batches of at most "
            "batch_size, so that a large test split fits in memory"
        )
    return close(got["out"], exp["out"], "the colours", "one output per image, in the "
                 "images' order")  # fmt: skip


def _predict_case(n: int, batch_size: int, seed: int, hidden: bool = False) -> Case:
    return Case(
        f"{n} gray images in batches of {batch_size}",
        _predict_inputs(n, batch_size, seed),
        _run_predict,
        _judge_predict,
        hidden,
    )


# --- the gain over the gray copy, in dB -------------------------------------------------------


def _gain_inputs(shape: tuple[int, ...], seed: int, copy: bool = False):
    def inputs(reference: Any) -> dict:
        g = seeded(seed)
        rgb = torch.rand(shape, generator=g)
        gray = package("color").to_gray(rgb)
        predicted = gray.expand(-1, 3, -1, -1).clone() if copy else torch.rand(shape, generator=g)
        return {"predicted": predicted, "gray": gray, "rgb": rgb}

    return inputs


def _run_gain(psnr_gain: Any, inputs: dict) -> dict:
    value = psnr_gain(inputs["predicted"], inputs["gray"], inputs["rgb"])
    number = isinstance(value, int | float)
    return {"gain": torch.tensor(float(value) if number else float("nan")), "number": number}


def _judge_gain(got: dict, exp: dict) -> str | None:
    if not got["number"]:
        return "it should return a Python number (in dB), not a tensor"
    return close(
        got["gain"],
        exp["gain"],
        "the gain",
        "the mean PSNR of predicted against rgb, minus that of the gray copy "
        "(gray.expand(-1, 3, -1, -1)) against rgb",
    )


def _gain_case(name: str, shape, seed: int, copy: bool = False, hidden: bool = False) -> Case:
    return Case(
        f"{name}, images {shape}", _gain_inputs(shape, seed, copy), _run_gain, _judge_gain, hidden
    )


# --- the loss: a choice of the learner's, judged by the properties training needs -----------


def _loss_inputs(shape: tuple[int, ...], seed: int):
    def inputs(reference: Any) -> dict:
        g = seeded(seed)
        target = 0.3 + 0.4 * torch.rand(shape, generator=g)
        error = 0.1 * (2 * torch.rand(shape, generator=g) - 1)
        return {"target": target, "error": error}

    return inputs


def _value(loss: Any, predicted: torch.Tensor, target: torch.Tensor) -> float:
    value = loss(predicted, target)
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise TypeError(f"it returns a {type(value).__name__} that is not one number")
    return float(value.detach())


def _run_loss(loss: Any, inputs: dict) -> dict:
    t, e = inputs["target"], inputs["error"]
    predicted = (t + e).requires_grad_()
    value = loss(predicted, t)
    found: dict = {"scalar": isinstance(value, torch.Tensor) and value.numel() == 1}
    if not found["scalar"]:
        return found
    found["graph"] = value.requires_grad
    if found["graph"]:
        value.backward()
        step = t + e - 0.1 * predicted.grad / predicted.grad.abs().max().clamp_min(1e-12)
        found["downhill"] = _value(loss, step.detach(), t) < float(value.detach())
    found["perfect"] = _value(loss, t.clone(), t)
    found["small"], found["large"] = _value(loss, t + e, t), _value(loss, t + 2 * e, t)
    found["channels"] = [
        _value(loss, t + e * (torch.arange(t.shape[1]) == c).view(1, -1, 1, 1), t)
        for c in range(t.shape[1])
    ]
    found["twice"] = _value(loss, torch.cat([t + e, t + e]), torch.cat([t, t]))
    return found


def _judge_loss(got: dict, exp: dict) -> str | None:
    if not got["scalar"]:
        return "it does not return one number (a 0-dimensional tensor) for the batch"
    if not got["graph"]:
        return "no gradient flows from it to the prediction: training could not follow it"
    if abs(got["perfect"]) > 1e-6:
        return f"it is {got['perfect']:.3g}, not 0, for a perfect prediction"
    if not 0 < got["small"] < got["large"]:
        return "it does not grow with the error: twice the error should cost more"
    if min(got["channels"]) <= 0:
        return "an error in one colour channel alone costs nothing: every channel must count"
    if abs(got["twice"] - got["small"]) > 1e-5 * max(1.0, abs(got["small"])):
        return (
            "the same batch twice over costs another amount than once: make it a mean over the "
            "batch, so that the learning rate means the same for any batch size"
        )
    if not got["downhill"]:
        return "a small step against its gradient does not lower it"
    return None


def _loss_case(shape: tuple[int, ...], seed: int, hidden: bool = False) -> Case:
    name = f"predicted and true colours {shape}: 0 when right, growing with the error"
    return Case(name, _loss_inputs(shape, seed), _run_loss, _judge_loss, hidden)


STEPS = (
    Step(
        "color_encoder",
        "ColorEncoder",
        "the encoder: stride-2 convolutions down to a bottleneck",
        3,
        lambda: package("models").ColorEncoder,
        _module_cases(
            lambda args: {"width": args["width"]} if args else {},
            ("the code", "the sizes"),
            ENCODER_SHAPES,
            ENCODER_VALUES,
        ),
    ),
    Step(
        "color_decoder",
        "ColorDecoder",
        "the decoder: transposed convolutions told their output size",
        3,
        lambda: package("models").ColorDecoder,
        _module_cases(
            lambda args: args, ("the colours",), DECODER_SHAPES, DECODER_VALUES, decoder=True
        ),
    ),
    Step(
        "conv_colorizer",
        "ConvColorizer",
        "the colorizer: gray in, colour out",
        2,
        lambda: package("models").ConvColorizer,
        (
            *_module_cases(
                lambda args: args,
                ("the colours",),
                COLORIZER_SHAPES,
                "decode the code with the sizes the encoder returns",
            ),
            raises_case(
                {},
                (2, 3, 64, 64),
                "ValueError",
                "a colour batch or a crop too small for three halvings must be refused",
            ),
            raises_case(NARROW, (2, 1, 8, 8), "ValueError", "check x first", hidden=True),
        ),
    ),
    Step(
        "color_loss",
        "color_loss",
        "a loss of your choice to train the colorizer with",
        2,
        lambda: package("losses").color_loss,
        (_loss_case((4, 3, 8, 8), 71), _loss_case((2, 2, 5, 7), 72, hidden=True)),
    ),
    Step(
        "predict_colors",
        "predict_colors",
        "its colours for a set of photos, batch by batch",
        2,
        lambda: package("loop").predict_colors,
        (_predict_case(10, 4, 41), _predict_case(7, 3, 42, hidden=True)),
    ),
    Step(
        "psnr_gain",
        "psnr_gain",
        "how it is measured: dB above the gray copy",
        2,
        lambda: package("loop").psnr_gain,
        (
            _gain_case("random colours", (4, 3, 16, 16), 51),
            _gain_case("the gray copy itself", (3, 3, 8, 8), 52, copy=True),
            _gain_case("random colours", (5, 3, 9, 13), 53, hidden=True),
        ),
    ),
)
