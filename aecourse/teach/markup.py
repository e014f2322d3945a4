"""nbgrader's markup in a lesson, read in one place: solutions, hidden tests, the exercises.

A lesson marks what a student writes between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
in a solution cell, and tests only graders see between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS`` in a graded test cell worth some points; its parameter and import
cells are tagged ``parameters`` and ``imports``. nbval's ``# NBVAL_CHECK_OUTPUT`` lines are
for nbval alone. :func:`regions` reads a cell's lines once; everything else here (the
student's version of a cell, the lines that must never leak, the exercises and what each
solution defines) is built on it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import nbformat

from aecourse.steps.notebook import is_check, parse, readable_python

SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TESTS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
MARKERS = SOLUTION + HIDDEN_TESTS
NBVAL_MARK = "# NBVAL_CHECK_OUTPUT"  # for nbval, not for readers
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")  # what nbgrader's release writes
TEXT_STUB = "YOUR ANSWER HERE"  # ... in a written answer's cell (a markdown solution)


class MarkupError(ValueError):
    """A lesson's markup is incomplete: a test without a solution, a missing import cell."""


def regions(source: str) -> list[tuple[str, str]]:
    """Each line of a cell with what it is: ``"code"`` (seen by everyone), ``"solution"``,
    ``"hidden"`` (a hidden test), ``"marker"`` (one of nbgrader's four) or ``"nbval"``."""
    tagged, inside = [], "code"
    for line in source.splitlines():
        stripped = line.strip()
        if stripped in MARKERS:
            tagged.append(("marker", line))
            begins = stripped in (SOLUTION[0], HIDDEN_TESTS[0])
            inside = ("solution" if stripped == SOLUTION[0] else "hidden") if begins else "code"
        elif stripped == NBVAL_MARK:
            tagged.append(("nbval", line))
        else:
            tagged.append((inside, line))
    return tagged


def without_nbval_marks(source: str) -> str:
    """A cell's source without nbval's marker lines (they are for nbval, not for readers)."""
    return "\n".join(line for kind, line in regions(source) if kind != "nbval").strip("\n")


def without_markers(source: str) -> str:
    """A solution cell's code as it runs: nbgrader's markers and nbval's marks cut."""
    return "\n".join(line for kind, line in regions(source) if kind in ("code", "solution"))


def student_source(source: str, markdown: bool = False) -> str:
    """A cell's source as released to students: each solution replaced by nbgrader's stub (at
    the solution's indentation; :data:`TEXT_STUB` in a ``markdown`` cell), hidden tests and
    nbval markers cut."""
    kept = []
    for kind, line in regions(source):
        if kind == "marker" and line.strip() == SOLUTION[0]:
            indent = line[: len(line) - len(line.lstrip())]
            kept += [TEXT_STUB] if markdown else [indent + stub for stub in STUB]
        elif kind == "code":
            kept.append(line)
    return "\n".join(kept).strip("\n")


def solution_lines(notebook: nbformat.NotebookNode) -> list[str]:
    """The non-blank, non-comment lines of every solution and hidden test that the lesson
    does not show anyway in its visible code or quote in its text: what a student's copy and
    feedback must never hold (``with torch.no_grad():`` in a solution gives nothing away if a
    visible cell has it)."""
    tagged = [pair for cell in notebook.cells for pair in regions(cell.source)]
    shown = {line.strip() for kind, line in tagged if kind == "code"}
    prose = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    return [
        line.strip()
        for kind, line in tagged
        if kind in ("solution", "hidden")
        and line.strip()
        and not line.strip().startswith("#")
        and line.strip() not in shown
        and f"`{line.strip().rstrip(',')}`" not in prose  # the lesson's text says to write it
    ]


def split_tests(source: str) -> tuple[str, str]:
    """A test cell's source -> (the visible part, the hidden tests), markers dropped."""
    parts = regions(source)
    visible = [line for kind, line in parts if kind in ("code", "nbval")]
    hidden = [line for kind, line in parts if kind == "hidden"]
    return "\n".join(visible), "\n".join(hidden)


_DEFINITION = r"^(?:async\s+def|def|class)\s+([A-Za-z_]\w*)|^([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)"


def defined_names(code: str, imports: bool = True) -> set[str]:
    """The names a cell defines at its top level (functions, classes, assignments, imports): what it
    leaves behind for the cells after it. A cell that does not parse is read line by line."""
    try:
        tree = parse(readable_python(code))  # magics read as the kernel runs them
    except SyntaxError:
        found = re.findall(_DEFINITION, code, flags=re.MULTILINE)
        return {name for pair in found for name in pair if name}
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif imports and isinstance(node, ast.Import | ast.ImportFrom):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and not is_check(node):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def graded_cells(notebook: nbformat.NotebookNode) -> dict[str, float]:
    """``grade_id -> points`` of the cells nbgrader grades."""
    cells = (c.metadata.get("nbgrader", {}) for c in notebook.cells)
    return {m["grade_id"]: m.get("points", 0) for m in cells if m.get("grade")}


@dataclass
class Question:
    """A written answer that a person marks: nbgrader's manually graded answer cell (markdown,
    ``solution`` and ``grade`` set), after the cell that asks the question."""

    grade_id: str
    points: float
    prompt: str  # the cell before it: the question as the lesson asks it
    model_answer: str  # the instructor's answer, without nbgrader's markers


def questions(source: nbformat.NotebookNode) -> list[Question]:
    """The lesson's questions, in order."""
    found = []
    for i, cell in enumerate(source.cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown" and meta.get("grade") and meta.get("solution"):
            prompt = source.cells[i - 1].source if i else ""
            answer = "\n".join(line for kind, line in regions(cell.source) if kind == "solution")
            found.append(Question(meta["grade_id"], meta.get("points", 0), prompt, answer))
    return found


@dataclass
class Exercise:
    """A graded test cell of the instructor's source and the solution cell it checks.

    ``names``: what the solution cell defines (e.g. ``TiedLinearAutoencoder``), by which a
    student's notebook is searched for the answer, whatever cell it sits in. The points are
    split between the visible test and the hidden tests, each earned on its own.
    """

    test_id: str
    solution_id: str
    points: float
    visible: str  # the test cell as released
    hidden: str  # its hidden tests ("" if none)
    names: tuple[str, ...]
    solution: str  # the instructor's solution cell, markers and all

    @property
    def parts(self) -> dict[str, float]:
        """The points of each part: ``{"test": ..., "hidden": ...}`` (no hidden part if none)."""
        if not self.hidden.strip():
            return {"test": self.points}
        return {"test": self.points / 2, "hidden": self.points / 2}


def exercises(source: nbformat.NotebookNode) -> list[Exercise]:
    """The graded exercises of a lesson: each test cell with points, and the solution cell
    before it (the nearest cell marked as a solution)."""
    found, solution = [], None
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            solution = cell
        if meta.get("grade") and cell.cell_type == "code":
            if solution is None:
                raise MarkupError(f"The test cell {meta['grade_id']} has no solution cell.")
            names = tuple(sorted(defined_names(solution.source, imports=False)))
            if not names:
                raise MarkupError(
                    f"The solution cell {solution.metadata['nbgrader']['grade_id']} defines "
                    "nothing (no def, class or assignment at its top level), so a student's "
                    "answer cannot be found by name."
                )
            visible, hidden = split_tests(without_nbval_marks(cell.source))
            found.append(Exercise(meta["grade_id"], solution.metadata["nbgrader"]["grade_id"],
                                  meta.get("points", 0), visible, hidden, names,
                                  solution.source))  # fmt: skip
    return found


def setup_source(source: nbformat.NotebookNode) -> str:
    """The lesson's parameter and import cells (tagged ``parameters`` and ``imports``), as the
    instructor wrote them: what a fresh check runs before the student's solution."""
    cells = [c for c in source.cells if {"parameters", "imports"} & set(c.metadata.get("tags", []))]
    if len(cells) != 2:
        raise MarkupError(
            "A lesson needs one cell tagged 'parameters' and one tagged 'imports' (the cell "
            "that imports what the exercises use); the grader runs them before each check."
        )
    return "\n\n".join(without_nbval_marks(c.source) for c in cells)
