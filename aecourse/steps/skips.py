"""Lesson 05's graded steps: the seed's skip-connection autoencoder for any size, the two ends
of colour in Lab, the gain over the gray copy photo by photo, and the predictions' chroma.

The two ends of Lab: the model's input and target from a photo, and the photo back from them.

Visible cases use 64x64 crops; the hidden ones the seed's 150x150, a*b* output and crops of
other, non-square sizes.
"""

from __future__ import annotations

from typing import Any

import torch

from aecourse.steps import Case, Step, close, first_problem, package, seeded
from aecourse.steps.cases import backward_case, forward_case, parameters_case, raises_case

LAB = {"out_channels": 2}
SKIP_SHAPES = (
    "down1 = Conv2d(1, 64, 3, stride=2) (no padding, as the seed), down2 to down4 with "
    "padding=1 to 128, 256, 512 channels; up1 ConvTranspose2d(512, 256), up2 (512, 128), up3 "
    "(256, 64), up4 (128, out_channels), each 3x3, stride 2, padding 1 but up4 (no padding)"
)
SKIP_VALUES = (
    "a ReLU after every layer but the last (a sigmoid, for colours in [0, 1]); each up layer "
    "after the first also takes the encoder's map of the same size, stacked on its channels, "
    "and gives back that map's size (the input's, for the last)"
)


# --- functions of images: tensors in, tensors (or numbers) out -------------------------------


def _images(**shapes: tuple[int, ...]):
    """A case's inputs: a seeded random tensor in [0, 1] per argument, of the shapes given."""

    def inputs(reference: Any) -> dict:
        g = seeded(sum(map(sum, shapes.values())))
        return {name: torch.rand(shape, generator=g) for name, shape in shapes.items()}

    return inputs


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, int | float):
        return torch.tensor(float(value))
    return repr(type(value))


def _run(fn: Any, inputs: dict) -> dict:
    """Call ``fn`` on (copies of) the inputs, in their order; what it returns, as data."""
    out = fn(*(t.clone() for t in inputs.values()))
    outs = out if isinstance(out, tuple) else (out,)
    return {"out": [_plain(o) for o in outs], "number": isinstance(out, int | float)}


def _judge(names: tuple[str, ...], hint: str, number: bool = False):
    def judge(got: dict, exp: dict) -> str | None:
        if number and not got["number"]:
            return "it should return a Python number, not a tensor"
        if len(got["out"]) != len(exp["out"]):
            return f"it returns {len(got['out'])} values; it should return {' and '.join(names)}"
        found = (
            close(g, e, n, hint) for g, e, n in zip(got["out"], exp["out"], names, strict=True)
        )
        return first_problem(*found)

    return judge


def _case(what: str, shapes: dict, names, hint, number=False, hidden=False) -> Case:
    said = ", ".join(f"{k} {v}" for k, v in shapes.items())
    return Case(f"{what}: {said}", _images(**shapes), _run, _judge(names, hint, number), hidden)


SPLIT = (
    "the input is L* scaled from [0, 100] to [0, 1], the target a*b* scaled from "
    "[-AB_RANGE, AB_RANGE] to [0, 1]"
)
JOIN = "it should undo lab_split's two scalings exactly, then convert Lab back to RGB"
CHROMA = (
    "it should be the mean, over every pixel, of the distance from the gray axis in the a*b* plane"
)


def _gray(shape: tuple[int, ...]):
    def inputs(reference: Any) -> dict:
        return {"rgb": torch.full(shape, 0.5)}

    return inputs


# --- the gain over the gray copy, photo by photo ---------------------------------------------


def _photos_inputs(sources: tuple[str, ...], seed: int):
    def inputs(reference: Any) -> dict:
        g = seeded(seed)
        n = len(sources)
        return {
            "predicted": torch.rand(n, 3, 8, 8, generator=g),
            "rgb": torch.rand(n, 3, 8, 8, generator=g),
            "sources": list(sources),
        }

    return inputs


def _run_photos(gain_by_photo: Any, inputs: dict) -> dict:
    gains = gain_by_photo(inputs["predicted"], inputs["rgb"], list(inputs["sources"]))
    if not isinstance(gains, dict):
        return {"type": type(gains).__name__}
    return {"type": "dict", "names": [str(k) for k in gains],
            "gains": torch.tensor([float(v) for v in gains.values()])}  # fmt: skip


def _judge_photos(got: dict, exp: dict) -> str | None:
    if got["type"] != "dict":
        return f"it returns a {got['type']}: return a dict, photo name -> gain in dB"
    if got["names"] != exp["names"]:
        return (
            f"its keys are {got['names']}: one per source photo, in the order the photos "
            "first appear in sources"
        )
    return close(
        got["gains"],
        exp["gains"],
        "the gains",
        "for each photo, psnr_gain(predicted[mask], to_gray(rgb[mask]), rgb[mask]) with mask "
        "the crops of that photo",
    )


def _photos_case(sources: tuple[str, ...], seed: int, hidden: bool = False) -> Case:
    return Case(
        f"{len(sources)} crops of {len(set(sources))} photos",
        _photos_inputs(sources, seed),
        _run_photos,
        _judge_photos,
        hidden,
    )


STEPS = (
    Step(
        "color_autoencoder",
        "ColorAutoEncoder",
        "the seed's skip-connection autoencoder, for any size",
        4,
        lambda: package("models").ColorAutoEncoder,
        (
            parameters_case({}, (2, 1, 64, 64), 1, SKIP_SHAPES),
            forward_case({}, (2, 1, 64, 64), 2, SKIP_SHAPES, SKIP_VALUES),
            backward_case({}, (2, 1, 64, 64), 3, SKIP_SHAPES),
            raises_case({}, (2, 3, 64, 64), "ValueError", "a colour batch must be refused"),
            parameters_case(LAB, (1, 1, 150, 150), 11, SKIP_SHAPES, hidden=True),
            forward_case(LAB, (1, 1, 150, 150), 12, SKIP_SHAPES, SKIP_VALUES, hidden=True),
            backward_case(LAB, (2, 1, 40, 56), 13, SKIP_SHAPES, hidden=True),
            raises_case(LAB, (1, 1, 12, 12), "ValueError", "check x first", hidden=True),
        ),
    ),
    Step(
        "lab_split",
        "lab_split",
        "colour in Lab: the model's input L and its target a*b*",
        2,
        lambda: package("color").lab_split,
        (
            _case("a batch", {"rgb": (3, 3, 16, 16)}, ("L / 100", "the scaled a*b*"), SPLIT),
            _case(
                "a batch",
                {"rgb": (2, 3, 9, 13)},
                ("L / 100", "the scaled a*b*"),
                SPLIT,
                hidden=True,
            ),
        ),  # fmt: skip
    ),
    Step(
        "lab_join",
        "lab_join",
        "from L and a*b* back to a colour photo",
        2,
        lambda: package("color").lab_join,
        (
            _case(
                "a batch",
                {"lightness": (3, 1, 16, 16), "ab_scaled": (3, 2, 16, 16)},
                ("the colours",),
                JOIN,
            ),
            _case(
                "a batch",
                {"lightness": (2, 1, 9, 13), "ab_scaled": (2, 2, 9, 13)},
                ("the colours",),
                JOIN,
                hidden=True,
            ),
        ),  # fmt: skip
    ),
    Step(
        "gain_by_photo",
        "gain_by_photo",
        "the gain over the gray copy, photo by photo",
        2,
        lambda: package("loop").gain_by_photo,
        (
            _photos_case(("flower", "flower", "astronaut", "flower", "astronaut"), 41),
            _photos_case(
                ("rocket", "cat", "rocket", "temple", "cat", "cat", "rocket"), 42, hidden=True
            ),
        ),  # fmt: skip
    ),
    Step(
        "mean_chroma",
        "mean_chroma",
        "how colourful predictions are: the mean chroma",
        2,
        lambda: package("loop").mean_chroma,
        (
            Case("gray images", _gray((2, 3, 4, 4)), _run, _judge(("the chroma",), CHROMA, True)),
            _case("random colours", {"rgb": (3, 3, 8, 8)}, ("the chroma",), CHROMA, True),
            _case(
                "random colours", {"rgb": (2, 3, 5, 7)}, ("the chroma",), CHROMA, True, hidden=True
            ),
        ),  # fmt: skip
    ),
)
