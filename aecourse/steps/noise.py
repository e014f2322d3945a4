"""Lesson 02's noise steps, judged by what the noise does, not by which numbers it draws.

Gaussian and masking noise by their distributions on simple batches, the mixed corruption of
the learner's design by what training one model for both kinds needs; every one must repeat
itself for generators seeded alike and leave its input as it was.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from aecourse.steps import Case, Step, first_problem, package, seeded
from aecourse.steps.cases import raised, refusal_problem

IMAGES = (5, 1, 28, 28)  # a batch of the lesson's shape

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


# The mixed corruption is the learner's design: how to combine the two kinds of noise (per
# image or per batch, in which shares, at which levels) is theirs. What training one model for
# both test corruptions needs is judged, over many calls with one generator (as training calls
# it, batch after batch): on grey images, a good share of the images come out masked (holes
# of exact zeros, every other pixel kept) and a good share noisy (most pixels moved, by about
# the Gaussian noise's spread); the values stay in [0, 1]; a seed repeats the corruption.

MIXED_CALLS, MIXED_BATCH = 8, 32  # 256 images per case
MIN_SHARE = 0.2  # of the images, for each kind of corruption


def _mixed_inputs(std: float, fraction: float, grey: float, seed: int):
    def inputs(reference: Any) -> dict:
        x = torch.full((MIXED_BATCH, 1, 28, 28), grey)
        return {"x": x, "std": std, "fraction": fraction, "seed": seed}

    return inputs


def _run_mixed(corrupt: Any, inputs: dict) -> dict:
    x, std, fraction, seed = (inputs[k] for k in ("x", "std", "fraction", "seed"))

    def calls(offset: int) -> Any:
        generator, found = seeded(seed + offset), []
        for _ in range(MIXED_CALLS):
            out = corrupt(x.clone(), std, fraction, generator)
            if not isinstance(out, torch.Tensor):
                return repr(out)
            found.append(out.detach().clone())
        return torch.cat(found) if all(o.shape == x.shape for o in found) else found[0]

    given = x.clone()
    out = calls(0)
    found = {"out": out, "again": calls(0), "other": calls(1)}
    return found | {"unchanged": torch.equal(given, x), **inputs}  # the judge reads the inputs


def _mixed_problem(got: dict, exp: dict) -> str | None:
    x, std, fraction = exp["x"], exp["std"], exp["fraction"]
    out = got["out"]
    if not got["unchanged"]:
        return "it changed its input: return a new tensor, leave x as it was"
    if not isinstance(out, torch.Tensor):
        return f"it returned {out[:60]}, not a tensor"
    if tuple(out.shape[1:]) != tuple(x.shape[1:]) or len(out) != MIXED_CALLS * len(x):
        return f"a batch {tuple(x.shape)} came back as {tuple(out.shape)}"
    if out.min() < 0 or out.max() > 1:
        return "some pixels are outside [0, 1]"
    grey = x.flatten()[0].item()
    problem = _seeds_problem(got, torch.full_like(out, grey))
    if problem:
        return problem
    flat = out.flatten(1)
    zeros, moved = (flat == 0).double().mean(1), ((flat != 0) & (flat != grey)).double().mean(1)
    spread = (flat - grey).double().pow(2).mean(1).sqrt()
    masked = (moved == 0) & (zeros >= fraction / 2)
    noisy = (moved >= 0.5) & (spread >= std / 3)
    said = f"{len(flat)} grey images ({MIXED_CALLS} calls of {len(x)})"
    if masked.double().mean() < MIN_SHARE:
        return (
            f"of {said}, {int(masked.sum())} came out masked (holes of exact zeros, at least "
            f"{fraction / 2:.0%} of the pixels, every other pixel as it was): at least "
            f"{MIN_SHARE:.0%} should, for the model to learn to fill in holes"
        )
    if noisy.double().mean() < MIN_SHARE:
        return (
            f"of {said}, {int(noisy.sum())} came out noisy (most pixels moved, spread at least "
            f"{std / 3:.2f}): at least {MIN_SHARE:.0%} should, for the model to learn to remove "
            "Gaussian noise"
        )
    return None


def _mixed_case(std: float, fraction: float, grey: float, seed: int, hidden=False) -> Case:
    name = f"std {std} and fraction {fraction}, {MIXED_CALLS} calls on grey {grey}: both kinds"
    return Case(name, _mixed_inputs(std, fraction, grey, seed), _run_mixed, _mixed_problem, hidden)


GAUSSIAN_NOISE = Step(
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
)


MASKING_NOISE = Step(
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
)


MIXED_CORRUPTION = Step(
    "mixed_corruption",
    "mixed_corruption",
    "a corruption of your design: one model for both kinds of noise",
    2,
    lambda: package("noise").mixed_corruption,
    (
        _mixed_case(0.5, 0.5, 0.5, 8),
        _mixed_case(0.3, 0.7, 0.6, 9, hidden=True),
    ),
)
