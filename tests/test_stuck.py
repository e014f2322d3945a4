"""A stuck learner reaches the end: with steps left blank, "Run all" runs every cell of the
lesson, the lesson's copy standing in for each blank step where it is used, and saying so.

Each lesson runs once, in the grading profile (every cell, training cut short), with every
other step blank (the first, third, ...) and the rest answered as the lesson answers them: so
each blank step is used by written ones after it, and each written one runs on stand-ins.
"""

import nbformat
import pytest
from lesson_code import lesson_notebook, solution_code
from nbclient import NotebookClient

from aecourse.steps import STANDS_IN, lesson_steps
from aecourse.teach.editions import edition_copy
from aecourse.teach.lessons import LESSONS_DIR, REFERENCE_ENV
from aecourse.teach.markup import defined_names


def _half_written(lesson: str) -> tuple[nbformat.NotebookNode, list]:
    """The student edition with every other step answered; (notebook, the blank steps)."""
    notebook = edition_copy(lesson_notebook(lesson), "student")
    steps = lesson_steps(lesson)
    for step in steps[1::2]:
        (cell,) = [
            c
            for c in notebook.cells
            if step.name in defined_names(c.source) and "check_step" not in c.source
        ]
        cell.source = solution_code(lesson, step.id)
    return notebook, list(steps[0::2])


@pytest.mark.parametrize("lesson", ["01", "02", "03", "04", "05"])
def test_run_all_reaches_the_end_with_steps_left_blank(lesson, monkeypatch):
    for key, value in (REFERENCE_ENV | {"AECOURSE_PROFILE": "grading"}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook, blank = _half_written(lesson)
    client = NotebookClient(notebook, timeout=300, resources={"metadata": {"path": LESSONS_DIR}})
    client.execute()  # raises CellExecutionError at the first cell that fails
    said = "\n".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code"
                     for o in c.outputs if o.get("name") == "stderr")  # fmt: skip
    (table,) = [o["text"] for c in notebook.cells if "show_steps(" in c.source
                for o in c.outputs if o.get("name") == "stdout"]  # fmt: skip
    for step in blank:
        assert f"{step.name} is not written yet: this step scores 0" in said
        assert f"{step.name} here is the lesson's copy, not yours" in said
        assert f"{step.name}" in table and STANDS_IN in table
    passing = [line for line in table.splitlines() if line.startswith("✓")]
    assert len(passing) == len(lesson_steps(lesson)) - len(blank), table
