"""Lesson 05's graded steps: a skip-connection colorizer of the learner's design, the two
ends of colour in Lab, the gain over the gray copy photo by photo, the predictions' chroma.

The two ends of Lab: the model's input and target from a photo, and the photo back from them.

Visible cases use 64x64 crops; the hidden ones the seed's 150x150, a*b* output and crops of
other, non-square sizes.
"""

from __future__ import annotations

from typing import Any

import torch

from aecourse.steps import Case, Step, close, first_problem, package, seeded
from aecourse.steps.cases import args_text, build, raises_case

LAB = {"out_channels": 2}
# --- the skip-connection colorizer: a design of the learner's, judged by what it does --------
# No weights of the lesson's are handed over: the learner chooses the depth, the widths and how
# the skips join. The cases build the learner's model as it initialises itself (seeded) and
# measure what the interface and the idea require.

LOCAL = 2  # a 5x5 window around a pixel: the "short path" for detail
LOCAL_SHARE = 0.25  # skip designs put 0.8 or more of the gradient there, plain ones about 0.03
FAR = 8  # pixels: how far context must reach


def _design_inputs(args: dict, sizes: tuple[tuple[int, int, int, int], ...], seed: int):
    def inputs(reference: Any) -> dict:
        return {"args": args, "sizes": sizes, "seed": seed}

    return inputs


def _run_design(make: Any, inputs: dict) -> dict:
    """Shapes and ranges for each input size; which parameters a gradient reaches; for three
    output pixels of a 64x64 crop, the share of the gradient within a 5x5 window of the same
    pixel of the input (detail's short path) and whether any reaches 8 pixels away or more."""
    model = build(make, inputs["args"])
    found: dict = {"shapes": [], "low": 1.0, "high": 0.0, "finite": True}
    g = seeded(inputs["seed"])
    for size in inputs["sizes"]:
        out = model(torch.rand(size, generator=g))
        found["shapes"].append(tuple(out.shape))
        found["finite"] &= bool(torch.isfinite(out).all())
        found["low"] = min(found["low"], out.min().item())
        found["high"] = max(found["high"], out.max().item())
    x = torch.rand(1, 1, 64, 64, generator=g, requires_grad=True)
    out = model(x)
    out.sum().backward(retain_graph=True)
    found["unused"] = [
        tuple(p.shape) for p in model.parameters() if p.grad is None or not p.grad.abs().sum()
    ]
    shares, far = [], []
    for i, j in ((20, 20), (31, 40), (45, 13)):
        x.grad = None
        out[0, :, i, j].sum().backward(retain_graph=True)
        grad = x.grad[0, 0].abs()
        shares.append((grad[i - LOCAL : i + LOCAL + 1, j - LOCAL : j + LOCAL + 1].sum()
                       / grad.sum().clamp_min(1e-30)).item())  # fmt: skip
        rows, cols = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
        distant = ((rows - i).abs() >= FAR) | ((cols - j).abs() >= FAR)
        far.append(bool(grad[distant].max() > 1e-6 * grad.max()))
    found["local"], found["far"] = min(shares), all(far)
    return found


def _judge_design(got: dict, exp: dict) -> str | None:
    for want, shape in zip(exp["shapes"], got["shapes"], strict=True):
        if shape != want:
            return f"for gray images {want[:1] + (1,) + want[2:]} it returns {shape}, not {want}"
    if not got["finite"] or got["low"] < 0 or got["high"] > 1:
        return "its colours are not all within [0, 1]"
    if got["unused"]:
        return f"parameters shaped {got['unused'][0]} get no gradient: they play no role"
    if got["local"] < LOCAL_SHARE:
        return (
            f"only {got['local']:.0%} of an output pixel's gradient comes from the 5x5 input "
            "pixels around it: fine detail has no short path to the output"
        )
    if not got["far"]:
        return f"an output pixel depends on no input pixel {FAR} or more pixels away: no context"
    return None


def _design_case(args: dict, sizes: tuple, seed: int, hidden: bool = False) -> Case:
    shown = ", ".join("x".join(map(str, s[-2:])) for s in sizes)
    name = f"a design with {args_text(args)}: sizes {shown}, colours, a short path for detail"
    return Case(name, _design_inputs(args, sizes, seed), _run_design, _judge_design, hidden)


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
        "a skip-connection colorizer of your design, for any size",
        4,
        lambda: package("models").ColorAutoEncoder,
        (
            _design_case({}, ((2, 1, 64, 64), (1, 1, 150, 150)), 1),
            raises_case({}, (2, 3, 64, 64), "ValueError", "a colour batch must be refused"),
            _design_case(LAB, ((2, 1, 40, 56), (1, 1, 16, 16), (1, 1, 97, 33)), 11, hidden=True),
            raises_case(
                LAB, (1, 64, 64), "ValueError", "one image needs its batch dimension", hidden=True
            ),  # fmt: skip
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
