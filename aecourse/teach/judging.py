"""Judging a lesson's build steps where the student's code cannot reach the verdict.

For the steps of one notebook (:mod:`aecourse.steps`), the grader's own process builds each
case's inputs from the reference and computes what the reference returns. A new sandboxed
process runs the lesson's parameter and import cells, then the cells that define the
student's answers, then each case's ``run`` on the student's answer, and writes what came
back (tensors, numbers, strings) to a file per case. Only those files come back: they are
read as data (``torch.load(weights_only=True)``, size-capped) and judged here. Whatever the
student's code does inside its process (replacing a check, ``importlib``, builtins, printing
fake reports) changes nothing but its own outputs, which pass only if they are right.

Statically, before anything runs, an answer that takes its step from the package (imports
``aecourse.models``, assigns the package's class to the step's name) scores 0 for that step
and is named for the instructor's review.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from aecourse.profiles import GRADING_THREADS
from aecourse.steps import Step, find_step, verdict
from aecourse.steps.notebook import binds
from aecourse.teach.answers import find_answer
from aecourse.teach.markup import Exercise
from aecourse.teach.review import review_flags
from aecourse.teach.sandbox import Sandbox, stop

MAX_OUTPUT_BYTES = 20 * 2**20  # what one case may send back
# Where the references live: an answer bound to a name from these is the package's own code.
PACKAGE_COPIES = ("aecourse.models", "aecourse.loop", "aecourse.losses", "aecourse.noise",
                  "aecourse.steps")  # fmt: skip

TAKEN = "it is the package's own code, not yours (0 points; named for review)"

# The student's side: each case's ``run`` on the student's answer, each result saved on its
# own, so that a case that hangs loses only itself and those after it. It runs after the
# answers, at the end of the feedback run's kernel (:func:`kernel_cell`), or in a process of
# its own after only the setup and the answers (:func:`judge_steps`).
CASES_CODE = r"""
def _judge_cases(namespace, cases, taken, threads, save=None, load=None):
    import torch
    from aecourse.steps import find_step, run_case
    save, load = save or torch.save, load or torch.load
    torch.set_grad_enabled(True)  # whatever a cell of the notebook set
    torch.set_num_threads(threads)  # as the grader computes the expected results
    open("cases.started", "w").close()
    inputs = load("inputs.pt", weights_only=True)
    for key, step_id, index in cases:
        step = find_step(step_id)
        answer = namespace.get(step.name)
        reference = step.reference()
        if answer is None:
            found = {"error": step.name + " is not defined (its cell raised or is missing)"}
        elif answer is reference or (
            isinstance(answer, type) and isinstance(reference, type)
            and issubclass(answer, reference)
        ):
            found = {"error": taken}
        else:
            found = run_case(step.cases[index], answer, inputs[key])
        save(found, key + ".pt")
    open("cases.done", "w").close()
"""
_STUDENT = (
    CASES_CODE
    + r"""
def main():
    import json, sys, torch
    save, load = torch.save, torch.load  # taken before the student's code can replace them
    job = json.loads(sys.stdin.read())
    namespace = {"__name__": "__main__"}
    exec(compile(job["setup"], "<setup>", "exec"), namespace)
    open("setup.ok", "w").close()
    for number, code in job["answers"]:
        try:
            exec(compile(code, "<cell " + str(number) + ">", "exec"), namespace)
        except BaseException:
            pass  # the step's cases say that its name is not defined
    _judge_cases(namespace, job["cases"], job["taken"], job["threads"], save, load)
main()
"""
)


def kernel_cell(keys: list[tuple[str, str, int]]) -> str:
    """The code that runs the cases ``keys`` in the kernel of the feedback run, as its last
    cell, on what the notebook defined (the feedback page does not show it)."""
    call = f"_judge_cases(globals(), {keys!r}, {TAKEN!r}, {GRADING_THREADS})"
    return CASES_CODE + call + "\ndel _judge_cases\n"


_expected: dict[tuple[str, int], tuple[dict, dict]] = {}
_lock = threading.Lock()


def reference_case(step: Step, index: int) -> tuple[dict, dict]:
    """(inputs, what the reference returns) of one case, computed once per grading process,
    on as many threads as the student's side runs the case: the number of threads changes
    the order of floating-point sums, and a gradient that is zero but for rounding (a
    convolution's bias before BatchNorm) would differ by more than a case's tolerance once
    Adam has scaled it up to full steps."""
    with _lock:
        if (step.id, index) not in _expected:
            case, reference = step.cases[index], step.reference()
            threads = torch.get_num_threads()
            torch.set_num_threads(GRADING_THREADS)
            try:
                with torch.random.fork_rng(devices=[]):
                    inputs = case.inputs(reference)
                    _expected[step.id, index] = inputs, dict(case.run(reference, inputs))
            finally:
                torch.set_num_threads(threads)
        return _expected[step.id, index]


def step_calls(test_source: str) -> list[tuple[str, str]]:
    """The ``check_step("step_id", Name)`` calls of a test cell: (step id, name checked)."""
    try:
        tree = ast.parse(test_source)
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "check_step"
            and len(node.args) == 2
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[1], ast.Name)
        ):
            calls.append((str(node.args[0].value), node.args[1].id))
    return calls


def _module_of(node: ast.AST) -> str | None:
    """``aecourse.models`` for ``aecourse.models.X`` (an attribute chain on a name)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def taken_from_package(code: str, name: str) -> str | None:
    """Why ``code`` does not write ``name`` itself, or None: the step must be a ``def`` or
    ``class`` of its own, and reach none of the package's copies of the lesson's code."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None  # it fails when it runs; that is its verdict
    binding = [node for node in tree.body if binds(node, name)]
    if binding and not isinstance(binding[-1], ast.FunctionDef | ast.ClassDef):
        return (
            f"{name} is not written here: the cell binds it with `{ast.unparse(binding[-1])[:80]}`"
        )
    for node in ast.walk(tree):
        modules = []
        if isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        elif isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.Attribute):
            modules = [_module_of(node) or ""]
        for module in modules:
            if module.startswith(PACKAGE_COPIES):
                return f"{name} takes the lesson's code from the package ({module})"
    return None


def write_inputs(work: Path, steps: list[Step]) -> list[tuple[str, str, int]]:
    """Write the inputs of every case of ``steps`` to ``work/inputs.pt`` (no expected values:
    those stay here); returns the cases' keys: (file stem, step id, case index)."""
    import torch

    keys, inputs = [], {}
    for step in steps:
        for index in range(len(step.cases)):
            key = f"case{len(keys)}"
            keys.append((key, step.id, index))
            inputs[key] = reference_case(step, index)[0]
    work.mkdir(parents=True, exist_ok=True)
    torch.save(inputs, work / "inputs.pt")
    return keys


def collect(work: Path, keys: list[tuple[str, str, int]], missing: str) -> dict[str, list[str]]:
    """Judge what the student's side wrote to ``work`` for each case: per step id, each case's
    outcome, ``"passed"`` or what to look at; a case with no result ``did not finish
    (missing)``."""
    outcomes: dict[str, list[str]] = {}
    for key, step_id, index in keys:
        step = find_step(step_id)
        got = _read(work / f"{key}.pt")
        if got is None:
            message = f"did not finish ({missing})"
        else:
            message = verdict(step.cases[index], got, reference_case(step, index)[1])
        outcomes.setdefault(step_id, []).append("passed" if message is None else message)
    return outcomes


def judge_steps(
    sandbox: Sandbox,
    work: Path,
    setup: str,
    answers: list[tuple[int, str]],
    steps: list[Step],
    env: dict[str, str],
    timeout: int,
) -> dict[str, list[str]]:
    """Judge ``steps`` on the student's ``answers`` ((cell number, code), in notebook order),
    in a sandboxed process of their own after the lesson's ``setup``. Returns, per step id,
    each case's outcome: ``"passed"`` or what to look at."""
    if not steps:
        return {}
    keys = write_inputs(work, steps)
    sandbox.prepare(work)
    job = json.dumps({"setup": setup, "answers": answers, "cases": keys, "taken": TAKEN,
                      "threads": GRADING_THREADS})  # fmt: skip
    command = sandbox.command([sys.executable, "-c", _STUDENT], work, env)
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    timed_out = False
    try:
        process.communicate(job.encode(), timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        stop(process)
    if not (work / "setup.ok").exists() and not timed_out:
        raise RuntimeError("the lesson's own parameter and import cells failed in the check")
    return collect(work, keys, f"longer than {timeout} s" if timed_out else "its process ended")


def _read(path: Path) -> Any:
    """What the student's side saved for one case: plain data, or None if it is not there,
    too large or not readable as data."""
    import torch

    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_OUTPUT_BYTES:
            return None
        return torch.load(path, weights_only=True)
    except Exception:  # anything the student's process wrote that is not plain data
        return None


@dataclass
class StepsPlan:
    """The build steps of one submission, read statically before anything runs: for each, its
    exercise, step, the cells that define its answer and why it was taken from the package
    (or None); and the answer cells to run, by cell number."""

    rows: list[tuple[Exercise, Step, list[int], str | None]]
    answers: dict[int, str]

    @property
    def judged(self) -> list[Step]:
        return [step for _, step, cells, taken in self.rows if cells and not taken]


def plan_steps(submitted: Any, found: list[Exercise], flags: list[str]) -> StepsPlan:
    """Find each step's answer in ``submitted``; an answer taken from the package is added to
    ``flags`` (it scores 0), as is any line of an answer that reaches outside its step."""
    rows, answers = [], {}
    for exercise in found:
        step = find_step(step_calls(exercise.visible)[0][0])
        code, cells = find_answer(submitted, exercise)
        taken = taken_from_package(code, step.name) if cells else None
        if taken:  # 0 points; it still runs, so that the steps built on it can be judged
            flags.append(f"{exercise.test_id}: {taken} (0 points for this step)")
        elif cells:
            flags += [f"{exercise.test_id} {flag}" for flag in review_flags(code)]
        answers |= {n: submitted.cells[n - 1].source for n in cells}
        rows.append((exercise, step, cells, taken))
    return StepsPlan(rows, answers)


def step_results(plan: StepsPlan, outcomes: dict[str, list[str]], flags: list[str]) -> list[dict]:
    """The grade's rows for the planned steps: each case with its share of the step's points."""
    results = []
    for exercise, step, cells, taken in plan.rows:
        if not cells:
            why = [f"no cell of the notebook defines {step.name}"] * len(step.cases)
        elif taken:
            why = [f"not your own code: {taken}"] * len(step.cases)
        else:
            why = outcomes[step.id]
            if TAKEN in why:
                flags.append(f"{exercise.test_id}: {step.name} {TAKEN}")
        share = exercise.points / len(step.cases)
        cases = [{"name": case.name, "hidden": case.hidden, "result": result,
                  "points": [share if result == "passed" else 0.0, share]}
                 for case, result in zip(step.cases, why, strict=True)]  # fmt: skip
        results.append({"grade_id": exercise.test_id, "step": step.id, "cases": cases,
                        "points": round(sum(c["points"][0] for c in cases), 6),
                        "max_points": exercise.points,
                        "found": ", ".join(f"cell {n}" for n in cells)})  # fmt: skip
    return results
