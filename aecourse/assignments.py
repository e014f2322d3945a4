"""Classroom assignments: release student versions of the lessons, autograde what comes back.

The lessons carry nbgrader's markup (``### BEGIN SOLUTION`` / ``### END SOLUTION`` in a
solution cell, ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` in a graded test cell
worth some points), and nbgrader 0.9 does the work. These wrappers keep its course directory
(``classroom/`` by default: ``source/``, ``release/``, ``submitted/``, ``autograded/``,
``feedback/`` and ``gradebook.db``) out of the instructor's way:

* :func:`release` copies each lesson in as its own assignment, runs ``generate_assignment``
  (solutions become a stub that raises ``NotImplementedError``, hidden tests and all outputs
  are removed) and checks that no solution or hidden test leaked.
* :func:`autograde` takes a folder of submissions, ``SUBMISSIONS/<student>/<NN>_*.ipynb``,
  runs ``autograde`` (each cell with a time limit), ``generate_feedback`` and ``export``, and
  writes ``grades.csv`` plus one feedback folder per student. A submission that is not a
  notebook, raises, hangs, or lost its graded cells is graded and reported, never fatal.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from aecourse.running import LESSONS_DIR, find_lessons, reference_env

COURSE_DIR = Path("classroom")
CELL_TIMEOUT = 300  # seconds per cell while grading: the longest quick-profile cell takes ~90
# nbgrader's markup, (begin, end): what a student must write, and tests only graders see.
SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TESTS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
MARKERS = SOLUTION + HIDDEN_TESTS


class AssignmentError(RuntimeError):
    """nbgrader refused a lesson, or a released notebook leaks what it must not."""


@dataclass
class Grade:
    """One row of ``grades.csv``: a student's result on one lesson, and what went wrong."""

    student: str
    lesson: str
    score: float
    max_score: float
    status: str  # "graded", "not a notebook", "missing", "not a lesson" or "failed"
    problems: str = ""


def _api(course: Path, timeout: int = CELL_TIMEOUT):
    """nbgrader's Python API on ``course`` (created with its ``nbgrader_config.py``)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    # nbgrader runs the ``alembic`` script of its environment to set up the gradebook.
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
    course = course.resolve()
    course.mkdir(parents=True, exist_ok=True)
    config_file = course / "nbgrader_config.py"
    if not config_file.exists():  # for instructors who want to run nbgrader by hand
        config_file.write_text(
            "c = get_config()  # noqa: F821\n"
            "c.CourseDirectory.course_id = 'aecourse'\n"
            f"c.Execute.timeout = {timeout}  # seconds per cell while grading\n"
        )
    config = Config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.course_id = "aecourse"
    config.Execute.timeout = timeout
    config.Exchange.root = str(course / "exchange")  # never /srv/nbgrader
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def _check(result: dict, what: str) -> None:
    if not result["success"]:
        raise AssignmentError(f"nbgrader could not {what}:\n{result.get('error') or result['log']}")


def solution_lines(notebook: nbformat.NotebookNode) -> list[str]:
    """The non-blank lines between solution markers, and between hidden-test markers."""
    lines, inside = [], False
    for cell in notebook.cells:
        for line in cell.source.splitlines():
            stripped = line.strip()
            if stripped in (SOLUTION[0], HIDDEN_TESTS[0]):
                inside = True
            elif stripped in (SOLUTION[1], HIDDEN_TESTS[1]):
                inside = False
            elif inside and stripped and not stripped.startswith("#"):
                lines.append(stripped)
    return lines


def find_leaks(source: nbformat.NotebookNode, released: nbformat.NotebookNode) -> list[str]:
    """What of the solutions and hidden tests in ``source`` is still in ``released``: markers,
    solution or hidden-test lines (in any cell), and outputs. Empty when the release is clean."""
    text = "\n".join(cell.source for cell in released.cells)
    leaks = [f"marker {m!r}" for m in MARKERS if m in text]
    released_lines = {line.strip() for line in text.splitlines()}
    leaks += [f"line {line!r}" for line in solution_lines(source) if line in released_lines]
    leaks += [
        f"outputs of cell {i}" for i, cell in enumerate(released.cells) if cell.get("outputs")
    ]
    return leaks


def graded_cells(notebook: nbformat.NotebookNode) -> dict[str, float]:
    """``grade_id -> points`` of the cells nbgrader grades."""
    cells = (c.metadata.get("nbgrader", {}) for c in notebook.cells)
    return {m["grade_id"]: m.get("points", 0) for m in cells if m.get("grade")}


def release(
    lessons: list[str] | None = None,
    course: Path = COURSE_DIR,
    lessons_dir: Path = LESSONS_DIR,
) -> list[Path]:
    """Release the student version of each lesson; returns the released notebooks
    (``course/release/<lesson>/<lesson>.ipynb``). Raises :class:`AssignmentError` if nbgrader
    fails or a released notebook still holds a solution, a hidden test or an output."""
    api = _api(course)
    released = []
    for path in find_lessons(lessons_dir, lessons):
        name = path.stem
        source = nbformat.read(path, as_version=4)
        if not graded_cells(source):
            raise AssignmentError(f"{path.name} has no graded cell (nbgrader 'grade': true).")
        target = Path(api.coursedir.root) / "source" / name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        _check(api.generate_assignment(name), f"release {path.name}")
        out = Path(api.coursedir.root) / "release" / name / path.name
        leaks = find_leaks(source, nbformat.read(out, as_version=4))
        if leaks:
            out.unlink()
            raise AssignmentError(f"The release of {path.name} leaks: {'; '.join(leaks)}.")
        released.append(out)
    return released


def _lesson_of(file: Path, assignments: dict[str, str]) -> str | None:
    """The assignment a submitted file belongs to, by its leading lesson number."""
    match = re.match(r"(\d\d)", file.name)
    return assignments.get(match.group(1)) if match else None


def _problems(notebook_path: Path) -> list[str]:
    """One line per cell of an autograded notebook that ended in an error."""
    nb = nbformat.read(notebook_path, as_version=4)
    problems = []
    for i, cell in enumerate(nb.cells, 1):
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                where = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {i}"
                evalue = str(out.evalue).splitlines()[0][:120] if out.evalue else ""
                problems.append(f"{where}: {out.ename}: {evalue}".rstrip(": "))
    return problems


def _score(api, assignment: str, student: str) -> tuple[float, float]:
    from nbgrader.api import Gradebook

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        submission = gradebook.find_submission(assignment, student)
        return submission.score, submission.max_score


def autograde(
    submissions: Path,
    course: Path = COURSE_DIR,
    out: Path | None = None,
    timeout: int = CELL_TIMEOUT,
) -> list[Grade]:
    """Grade every ``submissions/<student>/<NN>_*.ipynb`` against the released lessons.

    Writes ``out/grades.csv`` (student, lesson, score, max_score, status, problems), nbgrader's
    own export ``out/nbgrader_grades.csv``, and ``out/feedback/<student>/`` (nbgrader's HTML
    feedback, or a text note when a file could not be graded). ``out`` defaults to
    ``course/grades``. Returns the rows of ``grades.csv``.
    """
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise FileNotFoundError(
            f"No submissions folder at {submissions}: put each student's notebooks in "
            f"{submissions}/<student_id>/ (e.g. {submissions}/ada/01_linear_autoencoder.ipynb)."
        )
    api = _api(course, timeout)
    root = Path(api.coursedir.root)
    assignments = {p.name[:2]: p.name for p in sorted((root / "release").glob("[0-9][0-9]_*"))}
    if not assignments:
        raise FileNotFoundError(f"Nothing released in {root}: run `aecourse release` first.")
    out = Path(out) if out else root / "grades"
    students = sorted(p for p in submissions.iterdir() if p.is_dir())
    if not students:
        raise FileNotFoundError(f"No student folders in {submissions}.")
    with reference_env():  # grading runs the lessons as nbval does: quick, CPU, no widgets
        # A student who sent nothing for a lesson that others sent is listed as missing it.
        sent = {_lesson_of(f, assignments) for s in students for f in s.glob("*.ipynb")}
        expected = sorted(sent - {None})
        grades = [g for s in students for g in _grade_student(api, s, assignments, expected)]
        for assignment in sorted({g.lesson for g in grades if g.status == "graded"}):
            _check(api.generate_feedback(assignment), f"write feedback for {assignment}")
    _write_outputs(api, grades, out)
    return grades


def _released(api, assignment: str) -> nbformat.NotebookNode:
    released = Path(api.coursedir.root) / "release" / assignment / f"{assignment}.ipynb"
    return nbformat.read(released, as_version=4)


def _max_score(released: nbformat.NotebookNode) -> float:
    return sum(graded_cells(released).values())


def _nbgrader_ids(notebook: nbformat.NotebookNode) -> set[str]:
    """The ``grade_id`` of every cell nbgrader tracks (solutions and tests)."""
    cells = (c.metadata.get("nbgrader", {}) for c in notebook.cells)
    return {m["grade_id"] for m in cells if m.get("grade_id")}


def _grade_student(api, folder: Path, assignments: dict[str, str], expected) -> list[Grade]:
    student, root = folder.name, Path(api.coursedir.root)
    grades = []
    for file in sorted(folder.glob("*.ipynb")):
        assignment = _lesson_of(file, assignments)
        if assignment is None:
            why = f"{file.name} matches no released lesson (NN_name.ipynb)"
            grades.append(Grade(student, file.name, 0, 0, "not a lesson", why))
            continue
        released = _released(api, assignment)
        max_score = _max_score(released)
        try:
            submitted = nbformat.read(file, as_version=4)
            nbformat.validate(submitted)
        except Exception as err:  # bad JSON, not a notebook, a broken schema
            why = f"not a valid notebook ({type(err).__name__}: {str(err).splitlines()[0][:120]})"
            grades.append(Grade(student, assignment, 0, max_score, "not a notebook", why))
            continue
        target = root / "submitted" / student / assignment / f"{assignment}.ipynb"
        if target.parent.exists():
            shutil.rmtree(target.parent)
        target.parent.mkdir(parents=True)
        shutil.copyfile(file, target)
        with warnings.catch_warnings():  # nbgrader's own SQLAlchemy session warnings
            warnings.simplefilter("ignore")
            result = api.autograde(assignment, student)
        graded = root / "autograded" / student / assignment / f"{assignment}.ipynb"
        if not result["success"] or not graded.exists():
            log = (result.get("error") or result.get("log") or "").strip().splitlines()
            why = next((ln for ln in reversed(log) if ln.strip()), "nbgrader failed")
            grades.append(Grade(student, assignment, 0, max_score, "failed", why[:300]))
            continue
        score, max_score = _score(api, assignment, student)
        problems = _problems(graded)
        deleted = _nbgrader_ids(released) - _nbgrader_ids(submitted)
        if deleted:
            problems.insert(0, f"deleted cells: {', '.join(sorted(deleted))}")
        grades.append(Grade(student, assignment, score, max_score, "graded", "; ".join(problems)))
    for assignment in sorted(set(expected) - {g.lesson for g in grades}):
        max_score = _max_score(_released(api, assignment))
        grades.append(Grade(student, assignment, 0, max_score, "missing", "no notebook submitted"))
    return grades


def _write_outputs(api, grades: list[Grade], out: Path) -> None:
    root = Path(api.coursedir.root)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "grades.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(asdict(grades[0])) if grades else ["student"])
        writer.writeheader()
        writer.writerows(asdict(g) for g in grades)
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:  # "export"
        CsvExportPlugin(to=str(out / "nbgrader_grades.csv")).export(gradebook)
    for grade in grades:
        folder = out / "feedback" / grade.student
        folder.mkdir(parents=True, exist_ok=True)
        html = root / "feedback" / grade.student / grade.lesson / f"{grade.lesson}.html"
        if grade.status == "graded" and html.exists():
            shutil.copyfile(html, folder / f"{grade.lesson}.html")
        if grade.problems or grade.status != "graded":
            note = folder / f"{Path(grade.lesson).stem}.txt"
            note.write_text(
                f"{grade.lesson}: {grade.status}, {grade.score:g} of {grade.max_score:g} points\n"
                + "".join(f"- {p}\n" for p in grade.problems.split("; ") if p)
            )
