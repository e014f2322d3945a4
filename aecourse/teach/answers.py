"""Where a submission answers each exercise: by what its cells define, not by cell ids.

A learner may move, duplicate, delete or rename cells, and a notebook saved by another
Jupyter or copied from the book has no nbgrader metadata at all: each exercise's answer is
the cell that last defines what the instructor's solution cell defines, wherever it sits.
"""

from __future__ import annotations

import nbformat

from aecourse.teach.markup import Exercise, defined_names


def find_answer(submitted: nbformat.NotebookNode, exercise: Exercise) -> tuple[str, list[int]]:
    """The code that answers ``exercise``: for each name its solution defines, the last code
    cell that defines it, in notebook order (a cell once); and those cells' numbers (1-based).
    ``("", [])`` when no cell defines any of the names."""
    last: dict[str, int] = {}
    for number, cell in enumerate(submitted.cells, 1):
        if cell.cell_type == "code" and not is_test_cell(cell, exercise):
            for name in defined_names(cell.source) & set(exercise.names):
                last[name] = number
    numbers = sorted(set(last.values()))
    return "\n\n".join(submitted.cells[n - 1].source for n in numbers), numbers


def _first_code_line(code: str) -> str:
    lines = [line.strip() for line in code.splitlines()]
    return next((line for line in lines if line and not line.startswith("#")), "")


def is_test_cell(cell: nbformat.NotebookNode, exercise: Exercise) -> bool:
    """Whether ``cell`` is the exercise's test cell: by nbgrader's id where it has one, else
    by holding the visible check's first line (a student edition has no nbgrader metadata)."""
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    if grade_id:
        return grade_id == exercise.test_id
    first = _first_code_line(exercise.visible)
    return bool(first) and first in {line.strip() for line in cell.source.splitlines()}
