"""Classroom assignments: the student versions of the lessons, released with nbgrader.

nbgrader 0.9 keeps its course folder (``classroom/`` by default: ``source/``, ``release/``,
``gradebook.db``) out of the instructor's way. :func:`release` copies each lesson in as its
own assignment (without nbval's marker lines, which are for nbval alone), runs
``generate_assignment`` (solutions become a stub that raises ``NotImplementedError``, hidden
tests and all outputs are removed) and checks that no solution, hidden test, marker or output
is left (:func:`find_leaks`). The markup itself: :mod:`aecourse.teach.markup`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat

from aecourse.steps import LESSON_MODULES, find_step, lesson_steps
from aecourse.teach import COURSE_DIR
from aecourse.teach.judging import step_calls
from aecourse.teach.lessons import LESSONS_DIR, find_lessons
from aecourse.teach.markup import (
    MARKERS,
    NBVAL_MARK,
    Exercise,
    MarkupError,
    exercises,
    graded_cells,
    regions,
    setup_source,
    solution_lines,
    without_nbval_marks,
)


class AssignmentError(RuntimeError):
    """nbgrader refused a lesson, or a released notebook leaks what it must not."""


def api(course: Path | str, timeout: int = 300):
    """nbgrader's Python API on ``course`` (created with its ``nbgrader_config.py``)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    # nbgrader runs the ``alembic`` script of its environment to set up the gradebook.
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
    course = Path(course).resolve()
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


def find_leaks(source: nbformat.NotebookNode, released: nbformat.NotebookNode) -> list[str]:
    """What of the solutions and hidden tests in ``source`` is still in ``released``: markers,
    solution or hidden-test lines (in any cell), and outputs. Empty when the release is clean."""
    text = "\n".join(cell.source for cell in released.cells)
    leaks = [f"marker {m!r}" for m in (*MARKERS, NBVAL_MARK) if m in text]
    released_lines = {line.strip() for line in text.splitlines()}
    leaks += [f"line {line!r}" for line in solution_lines(source) if line in released_lines]
    leaks += [
        f"outputs of cell {i}" for i, cell in enumerate(released.cells) if cell.get("outputs")
    ]
    return leaks


def check_steps(found: list[Exercise]) -> None:
    """Raise :class:`MarkupError` unless each exercise that checks a build step
    (``check_step("id", Name)``) names a known step, by its name, for the step's points."""
    for exercise in found:
        for step_id, name in step_calls(exercise.visible):
            try:
                step = find_step(step_id)
            except KeyError as err:
                raise MarkupError(f"The test cell {exercise.test_id}: {err.args[0]}") from None
            if (name, exercise.points) != (step.name, step.points) or name not in exercise.names:
                raise MarkupError(
                    f"The test cell {exercise.test_id} checks {name} for {exercise.points:g} "
                    f"points; the step {step_id!r} is {step.name}, worth {step.points:g}, and "
                    "its solution cell must define it."
                )


def shown_steps(source: nbformat.NotebookNode, steps: set[str]) -> list[str]:
    """Keep ``steps`` (step ids) graded in ``source``; every other build step becomes part of
    the lesson as written: its solution shown, its check run but not graded, its hidden tests
    dropped. Returns the ids of the steps now shown (an assignment of a subset of steps)."""
    found = exercises(source)
    shown = [e for e in found if step_calls(e.visible) and e.test_id not in steps]
    for exercise in shown:
        for cell in source.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id == exercise.solution_id:
                cell.source = "\n".join(line for kind, line in regions(cell.source)
                                        if kind in ("code", "solution", "nbval"))  # fmt: skip
            elif grade_id == exercise.test_id:
                cell.source = exercise.visible
            else:
                continue
            del cell.metadata["nbgrader"]
    return [e.test_id for e in shown]


def release(
    lessons: list[str] | None = None,
    course: Path | str = COURSE_DIR,
    lessons_dir: Path = LESSONS_DIR,
    steps: list[str] | None = None,
) -> list[Path]:
    """Release the student version of each lesson; returns the released notebooks
    (``course/release/<lesson>/<lesson>.ipynb``). ``steps``: grade only these build steps (ids,
    as the book's page of graded steps lists them), in the lessons that have them; the others
    are shown solved. Raises :class:`AssignmentError` if nbgrader fails or a released notebook
    still holds a solution, a hidden test or an output."""
    if steps:
        try:
            chosen = {step_id: find_step(step_id) for step_id in steps}
        except KeyError as err:
            raise AssignmentError(err.args[0]) from None
        with_steps = sorted(
            n for n in LESSON_MODULES if set(chosen) & {s.id for s in lesson_steps(n)}
        )
        lessons = [n for n in (lessons or with_steps) if n in with_steps]
        if not lessons:
            raise AssignmentError("None of the lessons asked for has any of the steps asked for.")
    nbgrader = api(course)
    released = []
    for path in find_lessons(lessons_dir, lessons):
        name = path.stem
        source = nbformat.read(path, as_version=4)
        if not graded_cells(source):
            raise AssignmentError(f"{path.name} has no graded cell (nbgrader 'grade': true).")
        try:
            setup_source(source)
            check_steps(exercises(source))
            if steps:
                shown_steps(source, set(steps))
        except MarkupError as err:
            raise AssignmentError(f"{path.name}: {err}") from err
        for cell in source.cells:
            cell.source = without_nbval_marks(cell.source)
        target = Path(nbgrader.coursedir.root) / "source" / name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(source, target)
        _check(nbgrader.generate_assignment(name), f"release {path.name}")
        out = Path(nbgrader.coursedir.root) / "release" / name / path.name
        leaks = find_leaks(source, nbformat.read(out, as_version=4))
        if leaks:
            out.unlink()
            raise AssignmentError(f"The release of {path.name} leaks: {'; '.join(leaks)}.")
        released.append(out)
    return released
