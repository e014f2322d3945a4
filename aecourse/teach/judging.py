"""Judging a lesson's build steps where the student's code cannot reach the verdict.

For the steps of one notebook (:mod:`aecourse.steps`), the grader's own process builds each
case's inputs and computes what the reference (the package's copy) returns. A **fresh
sandboxed process**, never the kernel that ran the student's notebook, runs the lesson's
parameter and import cells as the instructor wrote them, then the cells that define the
student's answers (read as the kernel reads them, magics included), takes the objects bound
to the steps' names at that moment, and runs each case's ``run`` on them. It sees a view of
the package without the lesson's step copies (:mod:`aecourse.teach.views`): there is no
reference there to call, subclass, read or delegate to.

What comes back travels on the process's standard output, which the grader opened before any
student code ran, in reports marked with a random per-run secret that the harness read from
its standard input first; the first report per case counts, it is read as data
(``torch.load(weights_only=True)``, size-capped), and judged here against the reference's
result. Nothing is read from files the process could write ahead, leave behind or lock.
Whatever the student's code does in its own process (replacing a check, ``importlib``,
builtins, printing fake reports) changes nothing but its own outputs, which pass only if they
are right: computing them is the step.

Statically (:mod:`aecourse.teach.review`), an answer that names the package's copy of a step,
or whose code is the package's copy with other names, is named for the instructor's review
(the run already gives the first nothing: the copy is not there).
"""

from __future__ import annotations

import ast
import io
import json
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from aecourse.profiles import GRADING_THREADS
from aecourse.steps import TAKEN, UNWRITTEN, Step, failure, find_step, verdict
from aecourse.steps.notebook import parse
from aecourse.teach.answers import find_answer
from aecourse.teach.markup import Exercise, student_source, without_markers
from aecourse.teach.review import matches_package_copy, review_flags, taken_from_package
from aecourse.teach.sandbox import Sandbox, reported

MAX_OUTPUT_BYTES = 20 * 2**20  # what one case may send back

# The harness: it reads its job (secret first) before any student code runs, keeps its own
# handles on what it needs, runs the setup and the answer cells, takes the answers, then runs
# each case and reports its result: a line with the secret and the size, then the case's key
# and torch.save's bytes.
HARNESS = r"""
def main():
    import io, json, os, sys
    import torch
    from aecourse.steps import TAKEN, failure, find_step, run_case
    from aecourse.steps.notebook import run_cell
    from aecourse.steps.withheld import Withheld
    out, save = sys.stdout.buffer, torch.save
    secret = sys.stdin.readline().strip()
    job = json.loads(sys.stdin.read())
    inputs = torch.load("inputs.pt", weights_only=True)  # the grader's, read before any answer
    cases = [(key, find_step(step_id), index) for key, step_id, index in job["cases"]]
    sys.stdout = sys.stderr = open(os.devnull, "w")
    namespace = {"__name__": "__main__"}
    run_cell(job["setup"], namespace, "<setup>")
    out.write((secret + " 5\nsetup").encode())
    out.flush()
    raised = ""
    for number, code in job["answers"]:
        try:
            run_cell(code, namespace, "<cell " + str(number) + ">")
        except BaseException as err:  # the step's cases say that its name is not defined
            raised = "; cell " + str(number) + " " + failure(err)
    for code in job["stand_ins"]:  # the lesson's copies of unwritten steps, judged elsewhere
        run_cell(code, namespace, "<the lesson's copy>")
    answers = {step.name: namespace.get(step.name) for _, step, _ in cases}
    torch.set_num_threads(job["threads"])  # as the grader computes the expected results
    for key, step, index in cases:
        torch.set_grad_enabled(True)  # whatever an answer set
        answer = answers[step.name]
        if answer is None:
            found = {"error": step.name + " is not defined" + (raised or " (no cell defines it)")}
        elif isinstance(answer, Withheld):
            found = {"error": TAKEN}
        else:
            found = run_case(step.cases[index], answer, inputs[key])
        buffer = io.BytesIO()
        try:
            save(found, buffer)
        except Exception:
            buffer = io.BytesIO()
            save({"error": "returned something that is not data"}, buffer)
        data = key.encode() + b" " + buffer.getvalue()
        out.write((secret + " " + str(len(data)) + "\n").encode() + data)
        out.flush()
main()
"""


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
        tree = parse(test_source)
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


def case_keys(steps: list[Step]) -> list[tuple[str, str, int]]:
    """A key per case of ``steps``: (key, step id, case index)."""
    keys = []
    for step in steps:
        keys += [(f"case{len(keys) + i}", step.id, i) for i in range(len(step.cases))]
    return keys


def write_inputs(keys: list[tuple[str, str, int]], path: Path) -> None:
    """The cases' inputs (never their expected values) to ``path`` (``torch.save``)."""
    torch.save({key: reference_case(find_step(s), i)[0] for key, s, i in keys}, path)


def _reports(lines: list[bytes]) -> tuple[bool, dict[str, Any]]:
    """(whether the setup ran, each case's result) from the harness's reports: the first
    line per key counts; a result that is not plain data is None."""
    setup, found = False, {}
    for line in lines:
        key, _, data = line.partition(b" ")
        name = key.decode(errors="replace")
        if name == "setup":
            setup = True
        elif name not in found and len(data) < MAX_OUTPUT_BYTES:
            try:
                found[name] = torch.load(io.BytesIO(data), weights_only=True)
            except Exception:  # not plain data: what a hostile process could send
                found[name] = None
    return setup, found


def judge_steps(
    sandbox: Sandbox,
    work: Path,
    setup: str,
    answers: list[tuple[int, str]],
    steps: list[Step],
    env: dict[str, str],
    timeout: int,
    package: Path | None = None,
    stand_ins: list[str] = (),
) -> dict[str, list[str]]:
    """Judge ``steps`` on the student's ``answers`` ((cell number, code), in notebook order),
    in a fresh sandboxed process after the lesson's ``setup``, with ``package`` (a view
    without the lesson's step copies) in place of the installed one, and with ``stand_ins``
    (the lesson's solution code of unwritten steps, none of them in ``steps``) run after the
    answers. Returns, per step id, each case's outcome: ``"passed"`` or what to look at."""
    if not steps:
        return {}
    keys = case_keys(steps)
    job = json.dumps({"setup": setup, "answers": answers, "cases": keys,
                      "stand_ins": list(stand_ins), "threads": GRADING_THREADS})  # fmt: skip
    work.mkdir(parents=True, exist_ok=True)
    write_inputs(keys, work / "inputs.pt")
    argv = [sys.executable, "-c", HARNESS]
    lines, timed_out = reported(sandbox, argv, work, env, job, timeout, package)
    ran_setup, found = _reports(lines)
    if not ran_setup and not timed_out:
        raise RuntimeError("the lesson's own parameter and import cells failed in the check")
    missing = f"longer than {timeout} s" if timed_out else "its process ended"
    outcomes: dict[str, list[str]] = {}
    for key, step_id, index in keys:
        step = find_step(step_id)
        if key not in found:
            message = f"did not finish ({missing})"
        elif found[key] is None:
            message = "returned something the check cannot read"
        else:
            message = verdict(step.cases[index], found[key], reference_case(step, index)[1])
        outcomes.setdefault(step_id, []).append("passed" if message is None else message)
    return outcomes


MATCHES = "matches the package's copy of the step (with other names): read it"


@dataclass
class StepsPlan:
    """The build steps of one submission, read statically before anything runs: for each, its
    exercise, step and the cells that define its answer; and the answer cells to run, by
    cell number."""

    rows: list[tuple[Exercise, Step, list[int]]]
    answers: dict[int, str]

    @property
    def judged(self) -> list[Step]:
        return [step for _, step, cells in self.rows if cells]

    def as_released(self) -> set[str]:
        """The ids of the steps whose answer is still the released stub, as it came: not
        written, and known so without running it."""
        return {step.id for exercise, step, cells in self.rows if cells and
                "\n".join(self.answers[n] for n in cells).strip()
                == student_source(exercise.solution).strip()}  # fmt: skip

    def unwritten(self, outcomes: dict[str, list[str]]) -> list[tuple[Exercise, Step]]:
        """The steps the student has not written, in lesson order: no cell defines them, their
        answer still holds the stub (``NotImplementedError``), or every case found the
        package's copy in its place. Read from the answer itself, not from its failures: a
        step that fails only because an earlier one is unwritten is written."""
        found = []
        for exercise, step, cells in self.rows:
            code = "\n".join(self.answers[n] for n in cells)
            taken = cells and all(TAKEN in o for o in outcomes.get(step.id, [""]))
            if not cells or "NotImplementedError" in code or taken:
                found.append((exercise, step))
        return found


def stood_in_steps(plan: StepsPlan, outcomes: dict[str, list[str]]) -> tuple[list[Step], list[str]]:
    """With some steps unwritten: the written steps after the first of them, to judge again
    with the lesson's copies of the unwritten ones standing in (so that one blank step costs
    only its own points), and those copies' code. ``([], [])`` when every step is written.
    The copy of a step is never in the process that judges that step."""
    unwritten = plan.unwritten(outcomes)
    if not unwritten:
        return [], []
    blank = {step.id for _, step in unwritten}
    first = [step for _, step, _ in plan.rows].index(unwritten[0][1])
    again = [step for _, step, cells in plan.rows[first:] if cells and step.id not in blank]
    copies = [without_markers(exercise.solution) for exercise, _ in unwritten]
    return again, copies


def judge_plan(
    sandbox: Sandbox,
    work: Path,
    setup: str,
    plan: StepsPlan,
    env: dict[str, str],
    timeout: int,
    package: Path | None = None,
) -> dict[str, list[str]]:
    """Every planned step's outcomes, in as few sandboxed processes as the plan allows. A step
    whose answer is the released stub as it came is not run: each of its cases says it is not
    written. A first process judges the other steps up to the first unwritten one (the
    unwritten ones among them: a stub the student edited may work); then, while steps are
    unwritten, one more judges the written steps after the first of them, the lesson's copies
    of the unwritten ones standing in (:func:`stood_in_steps`), and again if that process
    finds a step taken from the package. A notebook with every step written takes one
    process; one with blank stubs takes one; an untouched release none."""
    stubs = plan.as_released()
    outcomes = {step.id: [failure(NotImplementedError())] * len(step.cases)
                for step in plan.judged if step.id in stubs}  # fmt: skip
    answers = sorted(plan.answers.items())
    blank = {step.id for _, step in plan.unwritten({})}
    first = next((i for i, (_, s, _) in enumerate(plan.rows) if s.id in blank), len(plan.rows))
    now = [s for i, (_, s, cells) in enumerate(plan.rows) if cells and s.id not in stubs
           and (i < first or s.id in blank)]  # fmt: skip
    outcomes |= judge_steps(sandbox, work / "steps", setup, answers, now, env, timeout, package)
    stood_in: list[str] = []
    while True:
        again, copies = stood_in_steps(plan, outcomes)
        if not again or copies == stood_in:
            return outcomes
        stood_in = copies
        outcomes |= judge_steps(sandbox, work / f"steps-stood-in-{len(copies)}", setup, answers,
                                again, env, timeout, package, copies)  # fmt: skip


def plan_steps(
    submitted: Any, found: list[Exercise], flags: list[str], withheld: set[str]
) -> StepsPlan:
    """Find each step's answer in ``submitted``. Named in ``flags`` for a person to read: an
    answer that reaches for one of the package's copies ``withheld`` (it scores 0 there: the
    copy is not in its sandbox), one that is the package's copy renamed, and any line that
    reaches outside its step."""
    rows, answers = [], {}
    for exercise in found:
        step = find_step(step_calls(exercise.visible)[0][0])
        code, cells = find_answer(submitted, exercise)
        if cells:
            taken = taken_from_package(code, step.name, withheld)
            if taken:
                flags.append(f"{exercise.test_id}: {taken}")
            elif matches_package_copy(code, step):
                flags.append(f"{exercise.test_id}: {MATCHES}")
            flags += [f"{exercise.test_id} {flag}" for flag in review_flags(code)]
        answers |= {n: submitted.cells[n - 1].source for n in cells}
        rows.append((exercise, step, cells))
    return StepsPlan(rows, answers)


def step_results(plan: StepsPlan, outcomes: dict[str, list[str]], flags: list[str]) -> list[dict]:
    """The grade's rows for the planned steps: each case with its share of the step's points."""
    results, unwritten = [], {step.id for _, step in plan.unwritten(outcomes)}
    for exercise, step, cells in plan.rows:
        if not cells:
            why = [f"no cell of the notebook defines {step.name}"] * len(step.cases)
        else:
            why = outcomes[step.id]
            used = next((w for w in why if "WithheldError" in w or TAKEN in w), None)
            note = f"{exercise.test_id}: {step.name} used the package's copy, withheld (0 points)"
            if used and note not in flags:
                flags.append(note)
        share = exercise.points / len(step.cases)
        cases = [{"name": case.name, "hidden": case.hidden, "result": result,
                  "points": [share if result == "passed" else 0.0, share]}
                 for case, result in zip(step.cases, why, strict=True)]  # fmt: skip
        results.append({"grade_id": exercise.test_id, "step": step.id, "cases": cases,
                        "points": round(sum(c["points"][0] for c in cases), 6),
                        "max_points": exercise.points, "unwritten": step.id in unwritten,
                        "found": ", ".join(f"cell {n}" for n in cells)})  # fmt: skip
    return results


def graded_steps(lesson: str, results: list[dict]) -> str:
    """The verdicts that the feedback run's checks show (``aecourse.steps.GRADED_STEPS_ENV``):
    per step, its visible cases' results and its row of the lesson's step table."""
    rows = []
    for result in results:
        if "step" not in result:
            continue
        step = find_step(result["step"])
        visible = [c for c in result["cases"] if not c["hidden"]]
        failed = [[c["name"], c["result"]] for c in visible if c["result"] != "passed"]
        if result.get("unwritten") or not result["found"]:
            status = UNWRITTEN
        else:
            status = "passes" if not failed else f"fails: {failed[0][1]}"
        table = {"step": step.id, "name": step.name, "title": step.title,
                 "points": step.points, "status": status}  # fmt: skip
        rows.append({"step": step.id, "lesson": lesson, "name": step.name,
                     "visible": len(visible), "failed": failed, "table": table})  # fmt: skip
    return json.dumps(rows)
