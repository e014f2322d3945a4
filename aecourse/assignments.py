"""Classroom assignments: the lessons' nbgrader markup, and the student versions released.

The lessons carry nbgrader's markup (``### BEGIN SOLUTION`` / ``### END SOLUTION`` in a
solution cell, ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` in a graded test cell
worth some points; the lesson's parameter and import cells tagged ``parameters`` and
``imports``). nbgrader 0.9 keeps its course directory (``classroom/`` by default:
``source/``, ``release/``, ``gradebook.db``) out of the instructor's way:

* :func:`release` copies each lesson in as its own assignment, runs ``generate_assignment``
  (solutions become a stub that raises ``NotImplementedError``, hidden tests and all outputs
  are removed) and checks that no solution or hidden test leaked.
* :func:`exercises` and :func:`setup_source` say what the grader checks, and with what
  (grading itself: :mod:`aecourse.grading`).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from aecourse.running import LESSONS_DIR, find_lessons

COURSE_DIR = Path("classroom")
# nbgrader's markup, (begin, end): what a student must write, and tests only graders see.
SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TESTS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
MARKERS = SOLUTION + HIDDEN_TESTS


class AssignmentError(RuntimeError):
    """nbgrader refused a lesson, or a released notebook leaks what it must not."""


def api(course: Path, timeout: int = 300):
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


@dataclass
class Exercise:
    """A graded test cell of the instructor's source and the solution cell it checks."""

    test_id: str
    solution_id: str
    points: float
    visible: str  # the test cell as released
    hidden: str  # its hidden tests ("" if none)


def split_tests(source: str) -> tuple[str, str]:
    """A test cell's source -> (the visible part, the hidden tests), markers dropped."""
    visible, hidden, inside = [], [], False
    for line in source.splitlines():
        if line.strip() == HIDDEN_TESTS[0]:
            inside = True
        elif line.strip() == HIDDEN_TESTS[1]:
            inside = False
        else:
            (hidden if inside else visible).append(line)
    return "\n".join(visible), "\n".join(hidden)


def exercises(source: nbformat.NotebookNode) -> list[Exercise]:
    """The graded exercises of a lesson: each test cell with points, and the solution cell
    before it (the nearest cell marked as a solution)."""
    found, solution = [], None
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            solution = meta.get("grade_id")
        if meta.get("grade") and cell.cell_type == "code":
            if solution is None:
                raise AssignmentError(f"The test cell {meta['grade_id']} has no solution cell.")
            visible, hidden = split_tests(cell.source)
            found.append(Exercise(meta["grade_id"], solution, meta.get("points", 0), visible,
                                  hidden))  # fmt: skip
    return found


def setup_source(source: nbformat.NotebookNode) -> str:
    """The lesson's parameter and import cells (tagged ``parameters`` and ``imports``), as the
    instructor wrote them: what a fresh check runs before the student's solution."""
    cells = [c for c in source.cells if {"parameters", "imports"} & set(c.metadata.get("tags", []))]
    if len(cells) != 2:
        raise AssignmentError(
            "A lesson needs one cell tagged 'parameters' and one tagged 'imports' (the cell "
            "that imports what the exercises use); the grader runs them before each check."
        )
    return "\n\n".join(c.source for c in cells)


def release(
    lessons: list[str] | None = None,
    course: Path = COURSE_DIR,
    lessons_dir: Path = LESSONS_DIR,
) -> list[Path]:
    """Release the student version of each lesson; returns the released notebooks
    (``course/release/<lesson>/<lesson>.ipynb``). Raises :class:`AssignmentError` if nbgrader
    fails or a released notebook still holds a solution, a hidden test or an output."""
    nbgrader = api(course)
    released = []
    for path in find_lessons(lessons_dir, lessons):
        name = path.stem
        source = nbformat.read(path, as_version=4)
        if not graded_cells(source):
            raise AssignmentError(f"{path.name} has no graded cell (nbgrader 'grade': true).")
        try:
            setup_source(source), exercises(source)
        except AssignmentError as err:
            raise AssignmentError(f"{path.name}: {err}") from err
        target = Path(nbgrader.coursedir.root) / "source" / name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        _check(nbgrader.generate_assignment(name), f"release {path.name}")
        out = Path(nbgrader.coursedir.root) / "release" / name / path.name
        leaks = find_leaks(source, nbformat.read(out, as_version=4))
        if leaks:
            out.unlink()
            raise AssignmentError(f"The release of {path.name} leaks: {'; '.join(leaks)}.")
        released.append(out)
    return released
