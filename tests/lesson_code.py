"""The lessons' own answers to their graded steps, as a learner who wrote them has them.

The package's copies are withheld while a step is judged (aecourse.steps.withheld), so tests
that need a correct answer take the lesson's solution cells, run after the lesson's imports
in a namespace of their own, as a notebook would.
"""

from __future__ import annotations

import functools
from typing import Any

import nbformat

from aecourse.steps import LESSON_MODULES, lesson_steps
from aecourse.teach.lessons import LESSONS_DIR
from aecourse.teach.markup import exercises, regions, setup_source


def lesson_notebook(lesson: str) -> nbformat.NotebookNode:
    (path,) = LESSONS_DIR.glob(f"{lesson}_*.ipynb")
    return nbformat.read(path, as_version=4)


def solution_code(lesson: str, step_id: str) -> str:
    """The lesson's solution cell of a step, nbgrader's markers dropped."""
    (exercise,) = [e for e in exercises(lesson_notebook(lesson)) if e.test_id == step_id]
    return "\n".join(line for kind, line in regions(exercise.solution) if kind != "marker")


@functools.cache
def lesson_namespace(lesson: str) -> dict[str, Any]:
    """The lesson's imports, then every solution cell of its steps, run in one namespace."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(setup_source(lesson_notebook(lesson)), namespace)
    for step in lesson_steps(lesson):
        exec(solution_code(lesson, step.id), namespace)
    return namespace


def written(step_id: str) -> Any:
    """The learner's correct answer to ``step_id``, written as the lesson writes it."""
    lesson = next(n for n in LESSON_MODULES if step_id in {s.id for s in lesson_steps(n)})
    step = next(s for s in lesson_steps(lesson) if s.id == step_id)
    return lesson_namespace(lesson)[step.name]
