"""Graded build steps: each piece a lesson builds, checked case by case against the package's copy.

A **step** is one thing the learner writes in a lesson (a class or a function, found by its
name): Lesson 01's encoder, its decoder, the epoch of training, ... Each step has **cases**;
each case builds inputs from the reference (the package's copy of the lesson's code), runs the
learner's answer and the reference on those same inputs, and compares what comes back. A
step's points are split evenly over its cases (partial credit). The *visible* cases run in the
lesson (:func:`check_step`); the *hidden* ones run only at grading, on other inputs.

A case is three plain functions, so that grading can keep the learner's code away from the
verdict: ``inputs(reference)`` and ``judge(got, expected)`` run in the grader's own process,
``run(answer, inputs)`` runs the learner's code in a sandboxed process, and only its returned
data (tensors, numbers, strings) comes back to be judged. What the learner's code does to its
own process cannot change the verdict; to pass, it must compute what the reference computes.
Messages say what to look at, never the expected values themselves.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

# Lesson number -> the module that declares that lesson's steps (imported when asked for).
LESSON_MODULES = {
    "01": "aecourse.steps.linear",
    "02": "aecourse.steps.denoising",
    "03": "aecourse.steps.variational",
    "04": "aecourse.steps.colorization",
    "05": "aecourse.steps.skips",
}
MORE_TESTS = "visible checks pass; more tests run at grading"
TAKEN = "it is the package's own copy of this step, not yours (0 points)"
STILL_BLANK = "still raises NotImplementedError"
STANDS_IN = "not written: the lesson's copy stands in for it (0 points)"
UNWRITTEN = "not written (0 points)"  # the grader's word for it
STAND_IN = "_aecourse_stand_in"  # the attribute that marks a stand-in (its step's id)
_announced: set[tuple] = set()  # where a stand-in has said so (cell run, place, step)
_checking: list[str] = []  # the step being checked: its stand-ins' use goes unannounced
# Set by the grader for the feedback run of a graded notebook: the verdicts it reached out of
# the notebook's reach, which the lesson's checks then show instead of computing their own.
GRADED_STEPS_ENV = "AECOURSE_GRADED_STEPS"


class StepError(AssertionError):
    """A step does not pass its visible checks yet; the message says what to look at."""


@dataclass(frozen=True)
class Case:
    """One test case of a step: what it feeds the step, what it reads back, how it judges."""

    name: str  # what it checks, e.g. "output shape for a batch of 5"
    inputs: Callable[[Any], dict]  # reference -> inputs (seeded: the same every run)
    run: Callable[[Any, dict], dict]  # (answer, inputs) -> plain data: tensors, numbers, str
    judge: Callable[[dict, dict], str | None]  # (got, expected) -> None, or a one-line hint
    hidden: bool = False


@dataclass(frozen=True)
class Step:
    """A piece of a lesson's model, training or evaluation that the learner writes."""

    id: str  # the step's id, also its graded cell's id: e.g. "linear_encoder"
    name: str  # what the learner's cell defines: e.g. "LinearEncoder"
    title: str  # one line for tables: what it is
    points: float
    reference: Callable[[], Any]  # the package's copy (looked up when needed)
    cases: tuple[Case, ...]

    def visible(self) -> tuple[Case, ...]:
        return tuple(c for c in self.cases if not c.hidden)

    def share(self) -> float:
        """The points one case is worth."""
        return self.points / len(self.cases)


def package(module: str) -> Any:
    """The package's module ``aecourse.<module>``, imported when a step first needs its
    reference (the steps' declarations import nothing of the lessons' code)."""
    return importlib.import_module(f"aecourse.{module}")


def lesson_steps(lesson: str) -> tuple[Step, ...]:
    """The graded steps of a lesson ("01"), in the order the lesson builds them."""
    if lesson not in LESSON_MODULES:
        return ()
    return importlib.import_module(LESSON_MODULES[lesson]).STEPS


def lesson_of(step: Step) -> str:
    """The lesson ("01") whose steps include ``step``."""
    return next(lesson for lesson in LESSON_MODULES if step in lesson_steps(lesson))


def find_step(step_id: str) -> Step:
    """The step with id ``step_id``, in any lesson; KeyError naming the known ones."""
    steps = {s.id: s for lesson in LESSON_MODULES for s in lesson_steps(lesson)}
    if step_id not in steps:
        raise KeyError(f"No step {step_id!r}; the steps are: {', '.join(steps)}.")
    return steps[step_id]


def failure(err: BaseException) -> str:
    """An error raised by the learner's code, as the one line a check reports."""
    if isinstance(err, NotImplementedError):
        return f"{STILL_BLANK}: write this step (or see 'Stuck?' above it)"
    first = str(err).splitlines()[0][:200] if str(err) else ""
    return f"raised {type(err).__name__}" + (f": {first}" if first else "")


def run_case(case: Case, answer: Any, inputs: dict) -> dict:
    """``case.run`` with the learner's errors caught: ``{"error": one line}`` when it raises."""
    try:
        return dict(case.run(answer, inputs))
    except Exception as err:  # the learner's code may raise anything; it is the finding
        return {"error": failure(err)}


def verdict(case: Case, got: Mapping, expected: Mapping) -> str | None:
    """None when ``got`` passes ``case``, else what to look at (one line)."""
    if not isinstance(got, Mapping):
        return "returned nothing the check can read"
    if "error" in got:
        return str(got["error"])
    try:
        return case.judge(dict(got), dict(expected))
    except Exception as err:  # got is the learner's data: missing keys, wrong types
        return f"returned something the check cannot compare ({type(err).__name__})"


def from_here_on(step: Step) -> tuple[Step, ...]:
    """``step`` and the steps its lesson builds after it: the package copies an answer to
    ``step`` must not reach (a later one may hold it, as an autoencoder holds its encoder).
    The copies of earlier steps stay: they stand in for the learner's unwritten ones."""
    steps = lesson_steps(lesson_of(step))
    return steps[steps.index(step) :]


def check_case(step: Step, case: Case, answer: Any) -> str | None:
    """Run one case on the learner's answer and on the reference, in this process, as grading
    would: the answer runs while the package's copies of this step and the lesson's later
    ones are withheld (:mod:`aecourse.steps.withheld`), so one that uses them fails here as it
    fails there. Cases seed torch's global generator; its state is put back after, so that a
    check in a lesson does not change the random numbers of the cells after it."""
    from aecourse.steps.withheld import answer_globals, is_taken, withholding

    reference = step.reference()
    if is_taken(answer, reference):
        return TAKEN
    lesson = lesson_of(step)
    with torch.random.fork_rng(devices=[]):
        inputs = case.inputs(reference)
        expected = case.run(reference, inputs)
        with withholding(from_here_on(step), lesson, answer_globals(answer)):
            _checking.append(step.id)  # a check's own use of a stand-in goes unannounced
            try:
                got = run_case(case, answer, inputs)
            finally:
                _checking.pop()
        return verdict(case, got, expected)


def graded_steps() -> dict | None:
    """The grader's verdicts of a graded notebook's steps (:data:`GRADED_STEPS_ENV`), by step
    id, or None outside the grader's feedback run."""
    text = os.environ.get(GRADED_STEPS_ENV)
    if not text:
        return None
    return {row["step"]: row for row in json.loads(text)}


def is_blank(messages: list[str]) -> bool:
    """Whether a step's case results say it is not written: every case found the stub
    (NotImplementedError), no definition, or the package's copy in place of the learner's."""

    def blank(message: str) -> bool:
        unwritten = message.startswith((STILL_BLANK, "no cell")) or TAKEN in message
        # the grader's "X is not defined (...)", not the learner's own NameError ("raised ...")
        return unwritten or ("is not defined" in message and not message.startswith("raised"))

    return bool(messages) and all(blank(m) for m in messages)


def _announce(step: Step, where: str) -> None:
    """Say on standard error (red in Jupyter), once per cell run and place, that the lesson's
    copy of ``step`` is what runs there."""
    shell = sys.modules.get("IPython") and getattr(sys.modules["IPython"], "get_ipython", None)
    count = getattr(shell(), "execution_count", None) if shell and shell() else None
    key = (count, where, step.id)
    if key in _announced or _checking:
        return
    _announced.add(key)
    print(
        f"⚠ {step.name} here is the lesson's copy, not yours: you have not written it yet "
        "(it scores 0). Write it and run its check again to use your own.",
        file=sys.stderr,
    )


def stand_in(step: Step) -> Any:
    """The package's copy of ``step``, for the lesson to run on where the learner left the step
    unwritten: it works as the copy does, says so where it is used (:func:`_announce`), and
    scores 0 (it is the package's copy: :data:`TAKEN`). A copy that returns nothing and acts
    on the learner's objects (``init_from_pca`` on their own autoencoder) leaves them as they
    were where it does not fit them, and says so: the lesson runs on either way."""
    reference = step.reference()

    def caller() -> str:
        frame = sys._getframe(2)
        return f"{frame.f_code.co_filename}:{frame.f_lineno}"

    if isinstance(reference, type):

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            _announce(step, caller())
            reference.__init__(self, *args, **kwargs)

        body = {"__init__": __init__, "__doc__": reference.__doc__, STAND_IN: step.id}
        return type(reference.__name__, (reference,), body)

    acts = inspect.signature(reference).return_annotation in (None, "None")

    @functools.wraps(reference)
    def copy(*args: Any, **kwargs: Any) -> Any:
        _announce(step, caller())
        try:
            return reference(*args, **kwargs)
        except Exception as err:
            if not acts or _checking:
                raise
            # A copy that acts on the learner's objects (returns nothing) may not fit their
            # own design (init_from_pca on parameters of their own): say so, and run on.
            print(
                f"⚠ The lesson's copy of {step.name} does not fit your objects ({failure(err)}):"
                " they are left as they were, and the lesson runs on.",
                file=sys.stderr,
            )
            return None

    setattr(copy, STAND_IN, step.id)
    return copy


def _check_line(name: str, visible: int, failed: list[tuple[str, str]]) -> None:
    """Print a step's passing line, or raise :class:`StepError` naming its first failure."""
    if failed:
        case, message = failed[0]
        raise StepError(
            f"{name}: {len(failed)} of {visible} visible checks fail. First, {case}: {message}."
        ) from None
    print(f"✓ {name}: {visible} of {visible} {MORE_TESTS}.")


def _blank_line(name: str, stood_in: bool) -> None:
    then = (
        "from here on the lesson's copy stands in for it, so the cells after this one run"
        if stood_in
        else "the grader does not hand out the lesson's copy, so cells that use it fail here"
    )
    print(f"⚠ {name} is not written yet: this step scores 0, and {then}.", file=sys.stderr)


def check_step(step_id: str, answer: Any) -> Any:
    """The visible check of a step, for the lesson's cell after the learner's: one line that
    says it passes, or a :class:`StepError` whose message says what to look at first. Returns
    what the lesson goes on with: the learner's answer, or, where the step is not written yet
    (the stub, or the package's copy taken), a :func:`stand_in` (a stuck learner still
    reaches the end of the lesson; the step scores 0). In the grader's feedback run it shows
    the grader's own verdict (:func:`graded_steps`)."""
    graded = graded_steps()
    if graded is not None and step_id in graded:
        row = graded[step_id]
        if row["table"]["status"] == UNWRITTEN:
            _blank_line(row["name"], stood_in=False)
            return answer
        _check_line(row["name"], row["visible"], [tuple(f) for f in row["failed"]])
        return answer
    step = find_step(step_id)
    cases = step.visible()
    failed = [(c.name, m) for c in cases if (m := check_case(step, c, answer)) is not None]
    if is_blank([m for _, m in failed]) and len(failed) == len(cases):
        _blank_line(step.name, stood_in=True)
        return answer if getattr(answer, STAND_IN, None) == step.id else stand_in(step)
    _check_line(step.name, len(cases), failed)
    return answer


def step_table(lesson: str, namespace: Mapping[str, Any]) -> list[dict]:
    """Each step of ``lesson`` with its status in ``namespace`` (a notebook's ``globals()``):
    "passes" (its visible checks), "fails: ..." or :data:`STANDS_IN`. In the grader's
    feedback run, the grader's own verdicts (:func:`graded_steps`)."""
    graded = graded_steps()
    if graded is not None:
        return [row["table"] for row in graded.values() if row["lesson"] == lesson]
    rows = []
    for step in lesson_steps(lesson):
        answer = namespace.get(step.name)
        messages = [] if answer is None else [check_case(step, c, answer) for c in step.visible()]
        if answer is None or is_blank([m for m in messages if m]) and all(messages):
            status = STANDS_IN
        else:
            failing = [m for m in messages if m]
            status = "passes" if not failing else f"fails: {failing[0]}"
        rows.append(
            {
                "step": step.id,
                "name": step.name,
                "title": step.title,
                "points": step.points,
                "status": status,
            }
        )
    return rows


def steps_report(rows: list[dict]) -> str:
    """The lines :func:`show_steps` prints for the rows of :func:`step_table`."""
    passing = sum(r["points"] for r in rows if r["status"] == "passes")
    total = sum(r["points"] for r in rows)
    width = max(len(r["name"]) for r in rows)
    lines = [
        f"{'✓' if r['status'] == 'passes' else '✗'} {r['name']:<{width}}  "
        f"{r['points']:g} points  {r['status']}"
        for r in rows
    ]
    lines.append(
        f"Visible checks pass for steps worth {passing:g} of {total:g} points; more tests run "
        "at grading, so this is not your grade."
    )
    return "\n".join(lines)


def show_steps(lesson: str, namespace: Mapping[str, Any]) -> None:
    """Print the lesson's steps, each with its status and the points at stake: the last cell
    of a lesson, to see before handing in what the visible checks say."""
    print(steps_report(step_table(lesson, namespace)))


# --- helpers for declaring cases -------------------------------------------------------------


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def close(got: Any, expected: torch.Tensor, what: str, hint: str, tol: float = 1e-4) -> str | None:
    """None if tensor ``got`` has ``expected``'s shape and values (within ``tol``), else a
    hint that names what differs (shape, or how far off) without the expected values."""
    if not isinstance(got, torch.Tensor):
        return f"{what} is a {type(got).__name__}, not a tensor"
    if tuple(got.shape) != tuple(expected.shape):
        return f"{what} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
    if not torch.isfinite(got).all():
        return f"{what} holds NaN or inf values"
    worst = (got.double() - expected.double()).abs().max().item() if got.numel() else 0.0
    scale = max(1.0, expected.abs().max().item()) if expected.numel() else 1.0
    if worst > tol * scale:
        return f"{what} differs from the lesson's by up to {worst:.3g}: {hint}"
    return None


def first_problem(*found: str | None) -> str | None:
    return next((f for f in found if f), None)


def seed_problem(first: Any, again: Any, other: Any, what: str, anew: str) -> str | None:
    """What three results of a sampling answer (after ``torch.manual_seed`` s, s again and
    s + 1) show first: not repeatable with its seed, or not random at all (hint ``anew``)."""
    if not torch.equal(first, again):
        return (
            f"two {what} after the same torch.manual_seed differ: draw with torch's global "
            "generator, so that a seed makes a run repeatable"
        )
    if torch.equal(first, other):
        return f"the {what} are the same for another torch.manual_seed: {anew}"
    return None
