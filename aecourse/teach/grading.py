"""Autograde a class: each notebook a learner worked in, graded by what its cells define.

For each submission ``SUBMISSIONS/<student>/<NN>_*.ipynb``, whichever edition it came from
(the ``make lab`` copy, the book's download, the released notebook): it is read as data, and
the grader never runs a student's code itself.

1. **The answers, by name.** Each exercise's answer is the cell of the submission that last
   defines what the instructor's solution cell defines (e.g. ``class TiedLinearAutoencoder``),
   wherever it sits, whatever its metadata: nbgrader's cell ids are not needed.
2. **Feedback run.** In a :class:`~aecourse.teach.sandbox.Sandbox`, a fresh kernel runs the
   notebook in the ``grading`` profile (training cut short) with its test cells put back as
   released (no hidden tests), every cell with a time limit, its output capped, and its
   figures drawn inline: what the student sees.
3. **The points.** A lesson's build steps (:mod:`aecourse.steps`) are judged case by case
   (:mod:`~aecourse.teach.judging`): the student's answers run in one new sandboxed process
   after only the lesson's own parameter and import cells, and what they return is judged
   here, out of their reach; each case earns its share of the step's points. Any other
   exercise gets a fresh check (:mod:`~aecourse.teach.checking`): its visible check and its
   hidden tests earn their points separately.
4. **Review flags** (:mod:`~aecourse.teach.review`) name answer code that reaches outside its
   exercise, for a person to read.

Grading **fails closed**: without working isolation no submission runs unless the instructor
asks for it (``allow_unisolated``, ``--without-isolation``). Only when every submission is
graded are the results written, all from the same list (:mod:`~aecourse.teach.gradebook`). A
submission that breaks anything is reported in its own row and the others go on.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from aecourse.profiles import GRADING_THREADS
from aecourse.steps import GRADED_STEPS_ENV
from aecourse.teach import CELL_TIMEOUT, COURSE_DIR, NOTEBOOK_TIMEOUT, WORKERS
from aecourse.teach.answers import find_answer, is_test_cell
from aecourse.teach.checking import CHECK_TIMEOUT, fresh_check
from aecourse.teach.feedback import (
    add_mathjax,
    feedback_page,
    mathjax_source,
    private_paths,
    scrub,
    summary,
)
from aecourse.teach.gradebook import Grade, not_submitted, write_grades
from aecourse.teach.judging import (
    graded_steps,
    judge_plan,
    plan_steps,
    step_calls,
    step_results,
)
from aecourse.teach.kernels import run_in_sandbox
from aecourse.teach.lessons import REFERENCE_ENV
from aecourse.teach.marks import keep_marks, mark_pages
from aecourse.teach.markup import Exercise, exercises, graded_cells, questions, setup_source
from aecourse.teach.release import api
from aecourse.teach.review import review_flags
from aecourse.teach.sandbox import HOW_TO_ISOLATE, Sandbox
from aecourse.teach.views import Views, withheld_names
from aecourse.teach.written import WAITS, pending, written_result

MAX_NOTEBOOK_BYTES = 20 * 2**20  # a submission larger than this is not graded
MAX_CELLS = 1000
# The feedback run: the grading profile (every cell runs, training cut short), figures drawn
# inline (they are part of the feedback). The checks, where the points come from, draw none.
FEEDBACK_ENV = REFERENCE_ENV | {
    "AECOURSE_PROFILE": "grading",
    "OMP_NUM_THREADS": str(GRADING_THREADS),
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}
CHECK_ENV = REFERENCE_ENV | {"MPLBACKEND": "Agg", "OMP_NUM_THREADS": str(GRADING_THREADS)}
RUN_NOTE = (
    "in the grading profile (the lesson's data, training cut to an epoch or so: every cell "
    "runs, but its numbers are not the lesson's results; your points come from the checks)"
)
GRADER_FAULT = (
    "the grader could not run it ({error}). This is not the student's doing: fix the grading "
    "machine (see the error) and grade again"
)


class IsolationError(RuntimeError):
    """Grading would run students' code without isolation, and nobody asked for that."""


def read_submission(file: Path) -> nbformat.NotebookNode:
    """The submitted notebook as data, or ValueError saying why it cannot be graded."""
    size = file.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"the file is {size / 2**20:.0f} MB; clear the outputs and send it again")
    try:
        notebook = nbformat.read(file, as_version=4)
        nbformat.validate(notebook)
    except Exception as err:  # bad JSON, not a notebook, a broken schema
        first = str(err).splitlines()[0][:120] if str(err) else ""
        raise ValueError(f"not a valid notebook ({type(err).__name__}: {first})") from err
    if len(notebook.cells) > MAX_CELLS:
        raise ValueError(f"{len(notebook.cells)} cells, more than {MAX_CELLS}")
    return notebook


def to_run(
    submitted: nbformat.NotebookNode, lesson: list[Exercise], parameters: str
) -> nbformat.NotebookNode:
    """The student's notebook as the feedback run executes it: outputs cleared, each test
    cell put back as released (a deleted one stays deleted), the parameters cell as the
    lesson has it (so the grading profile holds), in a plain Python kernel."""
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})  # fmt: skip
    for cell in submitted.cells:
        test = next((e for e in lesson if is_test_cell(cell, e)), None)
        if "parameters" in cell.metadata.get("tags", []) and cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(parameters)
        elif test is not None:
            new = nbformat.v4.new_code_cell(test.visible.strip("\n"))
            new.metadata["exercise"] = test.test_id
        elif cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(cell.source)
        elif cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(cell.source)
        else:
            new = nbformat.v4.new_raw_cell(cell.source)
        notebook.cells.append(new)
    return notebook


def _run_problems(run: nbformat.NotebookNode, stopped: str | None, executed: int) -> list[str]:
    """One problem per cell of the feedback run that failed, and where it stopped, if it did."""
    problems = []
    code_cells = [c for c in run.cells if c.cell_type == "code"]
    for number, cell in enumerate(run.cells, 1):
        where = cell.metadata.get("exercise") or f"cell {number}"
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first = str(out.get("evalue", "")).splitlines()[:1]
                problems.append(f"{where}: {out['ename']}: {first[0][:300] if first else ''}"
                                .rstrip(": "))  # fmt: skip
    if stopped:
        running = code_cells[max(executed - 1, 0)] if code_cells else None
        number = run.cells.index(running) + 1 if running is not None else "?"
        where = (running.metadata.get("exercise") if running is not None else None) or (
            f"cell {number}"
        )
        problems.append(f"{where}: {stopped}; later cells did not run")
    return problems


def grade_submission(
    sandbox: Sandbox,
    scratch: Path,
    student: str,
    lesson: str,
    submitted: nbformat.NotebookNode,
    source: nbformat.NotebookNode,
    timeout: int = CELL_TIMEOUT,
    check_timeout: int = CHECK_TIMEOUT,
    views: Views | None = None,
    notebook_timeout: int = NOTEBOOK_TIMEOUT,
) -> tuple[Grade, nbformat.NotebookNode]:
    """Grade one notebook: its build steps judged in a fresh sandboxed process of their own
    (:func:`~aecourse.teach.judging.judge_steps`), a fresh check per other exercise, then the
    feedback run, whose checks show those verdicts. Every sandbox sees the package without
    the lesson's step copies (``views``). Returns the grade and the executed notebook that the
    feedback page shows."""
    found = exercises(source)
    parameters = next(c.source for c in source.cells if "parameters" in c.metadata.get("tags", []))
    setup, results, flags = setup_source(source), [], []
    number = lesson[:2]
    views = views or Views(scratch / "views")
    judging, shown = views.get(number), views.get(number, feedback=True)
    withheld = {f"{m}.{n}" for m, names in withheld_names(number).items() for n in names}
    stepped = [e for e in found if step_calls(e.visible)]
    plan = plan_steps(submitted, stepped, flags, withheld)
    outcomes = judge_plan(sandbox, scratch, setup, plan, CHECK_ENV, check_timeout, judging)
    results += step_results(plan, outcomes, flags)
    for exercise in (e for e in found if e not in stepped):
        code, cells = find_answer(submitted, exercise)
        names = ", ".join(exercise.names)
        if not cells:
            missing = f"no cell of the notebook defines {names}"
            result = dict.fromkeys(exercise.parts, missing)
        else:
            work = scratch / f"check-{len(results)}"
            result = fresh_check(sandbox, work, setup, code, exercise, CHECK_ENV, check_timeout,
                                 judging)  # fmt: skip
            flags += [f"{exercise.test_id} {flag}" for flag in review_flags(code)]
        parts = {
            part: [points if result[part] == "passed" else 0.0, points]
            for part, points in exercise.parts.items()
        }
        cases = [
            {
                "name": label,
                "hidden": part == "hidden",
                "points": parts[part],
                "result": result[part],
            }
            for part, label in (("test", "visible check"), ("hidden", "hidden tests"))
            if part in parts
        ]
        where = ", ".join(f"cell {n}" for n in cells)
        results.append(
            {
                "grade_id": exercise.test_id,
                "points": sum(g for g, _ in parts.values()),
                "max_points": exercise.points,
                "found": where,
                "parts": parts,
                "cases": cases,
                **result,
            }
        )
    results += [written_result(submitted, question) for question in questions(source)]
    env = FEEDBACK_ENV | {GRADED_STEPS_ENV: graded_steps(number, results)}
    notebook = to_run(submitted, found, parameters)
    run, stopped, executed = run_in_sandbox(sandbox, scratch / "run", notebook, timeout, env,
                                            shown, notebook_timeout)  # fmt: skip
    problems = _run_problems(run, stopped, executed)
    for result in results:
        for case in result["cases"]:
            message = case["result"]
            if message == WAITS:
                continue  # not a problem: a person marks it
            if message != "passed" and f"{result['grade_id']}: {message}" not in problems:
                problems.append(f"{result['grade_id']} {case_label(case)}: {message}")
    score = round(sum(r["points"] for r in results), 6)  # shares of points: no 2.9999999
    max_score = sum(graded_cells(source).values())
    grade = Grade(
        student, lesson, score, max_score, "graded", "; ".join(problems), "; ".join(flags), results
    )
    grade.pending = pending(results)
    return grade, run


def case_label(case: dict) -> str:
    """How feedback names a case: "visible check", "hidden tests", or "case '...'"."""
    if case["name"] in ("visible check", "hidden tests"):
        return case["name"]
    return f"{'hidden case' if case['hidden'] else 'case'} '{case['name']}'"


def _lesson_of(file: Path, lessons: dict[str, str]) -> str | None:
    """The lesson a submitted file belongs to, by its leading lesson number."""
    match = re.match(r"(\d\d)", file.name)
    return lessons.get(match.group(1)) if match else None


def check_isolation(sandbox: Sandbox, allow_unisolated: bool) -> None:
    """Raise :class:`IsolationError` unless ``sandbox`` isolates or the caller accepts that
    it does not."""
    if sandbox.mode != "bubblewrap" and not allow_unisolated:
        raise IsolationError(
            f"Not grading: submissions would run {sandbox.description}. {HOW_TO_ISOLATE} Only "
            "on a machine that holds nothing a submission could read or harm, grade without "
            "isolation with --without-isolation (allow_unisolated=True)."
        )


def autograde(
    submissions: Path,
    course: Path | str = COURSE_DIR,
    out: Path | None = None,
    timeout: int = CELL_TIMEOUT,
    check_timeout: int = CHECK_TIMEOUT,
    sandbox: Sandbox | None = None,
    workers: int = WORKERS,
    allow_unisolated: bool = False,
    notebook_timeout: int = NOTEBOOK_TIMEOUT,
) -> list[Grade]:
    """Grade every ``submissions/<student>/<NN>_*.ipynb`` against the released lessons.

    Writes, once all are graded (see :func:`~aecourse.teach.gradebook.write_grades`):
    ``out/grades.csv``, ``grades.json``, nbgrader's gradebook and ``nbgrader_grades.csv``,
    and ``out/feedback/<student>/<lesson>.html`` with MathJax beside it. ``out`` defaults to
    ``course/grades``. ``timeout``: seconds per cell of the feedback run; ``check_timeout``:
    seconds per fresh check; ``workers``: notebooks graded at a time. Without isolation it
    raises :class:`IsolationError` unless ``allow_unisolated``. Returns the rows of
    ``grades.csv``.
    """
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise FileNotFoundError(
            f"No submissions folder at {submissions}: put each student's notebooks in "
            f"{submissions}/<student_id>/ (e.g. {submissions}/ada/01_linear_autoencoder.ipynb)."
        )
    sandbox = sandbox or Sandbox()
    check_isolation(sandbox, allow_unisolated)
    nbgrader = api(course, timeout)
    root = Path(nbgrader.coursedir.root)
    lessons = {p.name[:2]: p.name for p in sorted((root / "release").glob("[0-9][0-9]_*"))}
    if not lessons:
        raise FileNotFoundError(f"Nothing released in {root}: run `aecourse release` first.")
    sources = {
        name: nbformat.read(root / "source" / name / f"{name}.ipynb", as_version=4)
        for name in lessons.values()
    }
    students = sorted(p for p in submissions.iterdir() if p.is_dir())
    if not students:
        raise FileNotFoundError(f"No student folders in {submissions}.")
    out = Path(out) if out else root / "grades"
    who = f"{len(students)} student{'' if len(students) == 1 else 's'}"
    print(f"Grading {who}, each notebook {sandbox.description}.", flush=True)
    sent = sorted({_lesson_of(f, lessons) for s in students for f in s.glob("*.ipynb")} - {None})
    scratch = Path(tempfile.mkdtemp(prefix="aecourse-grade-"))
    views = Views(scratch / "views")  # the package as each lesson's sandboxes see it
    paths = private_paths(scratch, submissions, root, out)
    jobs = [job for folder in students for job in _jobs(folder, lessons, sent)]

    def grade(job):
        timeouts = (timeout, check_timeout, notebook_timeout)
        result = _grade_job(job, sandbox, scratch, sources, timeouts, paths, views)
        print(f"  {result[0].student}: {result[0].lesson} {result[0].score_text()} "
              f"({result[0].status})", flush=True)  # fmt: skip
        return result

    try:  # notebooks side by side: each runs in its own sandbox and kernel
        with ThreadPoolExecutor(max(1, workers)) as pool:
            graded = list(pool.map(grade, jobs))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    grades = [g for g, _ in graded]
    pages = {(g.student, g.lesson): page for g, page in graded if page is not None}
    kept = keep_marks(grades, out)
    if kept:
        print(f"Kept {kept} marks of written answers that did not change ({out}).")
    write_grades(grades, pages, out, nbgrader)
    mark_pages(grades, out)
    mathjax = mathjax_source() if pages else None
    for student in {student for student, _ in pages}:
        if mathjax is not None:
            add_mathjax(out / "feedback" / student, mathjax)
    if pages and mathjax is None:
        print("No npm to fetch MathJax with: the feedback pages show formulas as TeX.")
    return grades


def _jobs(folder: Path, lessons: dict[str, str], expected: list[str]) -> list[tuple]:
    """What there is to grade for one student: a job per file or per lesson not handed in."""
    student, files, jobs = folder.name, {}, []
    for file in sorted(folder.glob("*.ipynb")):
        lesson = _lesson_of(file, lessons)
        if lesson is None:
            jobs.append(("not a lesson", student, file.name, [file]))
        else:
            files.setdefault(lesson, []).append(file)
    for lesson in sorted(set(expected) | set(files)):
        jobs.append(("lesson", student, lesson, files.get(lesson, [])))
    return jobs


def _grade_job(job, sandbox, scratch, sources, timeouts, paths, views=None):
    """(grade, feedback page or None) of one job of :func:`_jobs`."""
    kind, student, lesson, files = job
    if kind == "not a lesson":
        why = f"{lesson} matches no released lesson (NN_name.ipynb)"
        return Grade(student, lesson, 0, 0, "not a lesson", why), None
    source = sources[lesson]
    max_score = sum(graded_cells(source).values())
    if not files:
        return not_submitted(student, lesson, max_score), None
    # Several files for one lesson: the newest counts, and the others are named.
    chosen, *others = sorted(files, key=lambda f: (-f.stat().st_mtime, f.name))
    try:
        submitted = read_submission(chosen)
    except ValueError as err:
        return Grade(student, lesson, 0, max_score, "not a notebook", str(err)), None
    work = scratch / secrets.token_hex(8)
    try:
        cell, check, whole = timeouts
        grade, run = grade_submission(sandbox, work, student, lesson, submitted, source, cell,
                                      check, views=views, notebook_timeout=whole)  # fmt: skip
    except Exception as err:  # the grader's own failure: reported, and the class goes on
        error = scrub(f"{type(err).__name__}: {str(err).splitlines()[0][:200]}", paths)
        return Grade(
            student, lesson, 0, max_score, "failed", GRADER_FAULT.format(error=error)
        ), None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if others:
        note = (
            f"also sent, not graded (only the newest counts): {', '.join(f.name for f in others)}"
        )
        grade.problems = "; ".join(p for p in (note, grade.problems) if p)
    grade.problems = scrub(grade.problems, paths)
    text = "\n".join(c.source for c in submitted.cells)
    header = summary(grade, sandbox.mode == "bubblewrap", RUN_NOTE)
    return grade, feedback_page(grade, run, source, text, header, paths)
