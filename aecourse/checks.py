"""Checks in the style of an instructor's own exercise: they explain what is wrong instead of a
bare assert, against an independent reference.

The lessons' graded work is their build steps (:mod:`aecourse.steps`); a check here serves an
exercise written in plain nbgrader markup, whose hidden tests call it again with another
``seed`` (other inputs the student has not seen), and Lesson 04 uses ``check_luma`` to
show that :func:`aecourse.color.to_gray` is what PIL calls grayscale. Each check returns None
on success (after printing a short confirmation) and raises :class:`ExerciseError` with a
hint otherwise.
"""

from __future__ import annotations

import torch


class ExerciseError(AssertionError):
    """The exercise is not solved yet; the message says what to look at."""


def _fail(message: str) -> None:
    """Raise the hint alone: ``from None`` drops the error it replaces (a student's
    ``NotImplementedError``), so the hint is not buried under two chained tracebacks."""
    raise ExerciseError(message) from None


def _call(fn, *args):
    try:
        return fn(*args)
    except NotImplementedError:
        _fail(f"{fn.__name__} still raises NotImplementedError: replace it with your code.")


def check_luma(luma, seed: int = 0) -> None:
    """Lesson 04: ``luma(rgb)`` turns (B, 3, H, W) colour into (B, 1, H, W) gray the way
    PIL's ``convert("L")`` (ITU-R BT.601) does."""
    import numpy as np
    from PIL import Image

    g = torch.Generator().manual_seed(seed)
    rgb = torch.rand(2, 3, 8, 8, generator=g)
    out = _call(luma, rgb)
    if not isinstance(out, torch.Tensor) or out.shape != (2, 1, 8, 8):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        _fail(f"Return one channel per image, shape (2, 1, 8, 8) here; got {shape}. "
              "Keep the channel axis: sum over dim=1 with keepdim=True.")  # fmt: skip
    if torch.allclose(out, rgb.mean(dim=1, keepdim=True), atol=1e-4):
        _fail("That is the plain average of R, G and B. The eye is most sensitive to green and "
              "least to blue: weigh the channels 0.299, 0.587 and 0.114.")  # fmt: skip
    # The independent reference: PIL's own conversion of the same 8-bit pixels.
    pixels = (rgb * 255).round().byte()
    pil = [np.asarray(Image.fromarray(p.permute(1, 2, 0).numpy()).convert("L")) for p in pixels]
    reference = torch.from_numpy(np.stack(pil)).unsqueeze(1).float()
    got = luma(pixels.float() / 255) * 255
    worst = (got - reference).abs().max().item()
    if worst > 1.0:  # PIL rounds to whole 8-bit levels
        _fail(f"Differs from PIL's convert('L') by up to {worst:.1f} gray levels of 255: check "
              "which weight goes with which channel (R 0.299, G 0.587, B 0.114).")  # fmt: skip
    print(f"Correct: matches PIL's convert('L') within {worst:.2f} of 255 gray levels.")
