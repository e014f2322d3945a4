"""A lesson's steps checked from a saved notebook: ``python -m aecourse check NOTEBOOK``.

The learner's last cell (:func:`aecourse.steps.show_steps`) says which steps pass their visible
checks in the running kernel; this says the same of the notebook on disk, without JupyterLab:
it runs the lesson's parameter and import cells, then, for each step, the last cell that
defines the step's name (wherever it is in the notebook, so moved, duplicated or renamed
cells do not matter), and runs the visible checks. It is the learner's own code on their
own machine, so it runs in this process, as Jupyter would run it, with the package's copies of
the lesson's steps withheld as at grading (:mod:`aecourse.steps.withheld`): the command and the
grader give the same verdict.
"""

from __future__ import annotations

import ast
import re
import threading
from pathlib import Path
from typing import Any

from aecourse.steps import LESSON_MODULES, lesson_steps, step_table, steps_report
from aecourse.steps.withheld import withholding

SETUP_TAGS = {"parameters", "imports"}
_PARSING = threading.Lock()


def parse(source: str) -> ast.Module:
    """``ast.parse``, one thread at a time. CPython 3.11 builds the tree's Python objects with a
    recursion depth kept in state that all threads share, so two threads parsing at once can
    fail with "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905):
    the grader's notebooks graded side by side did."""
    with _PARSING:
        return ast.parse(source)


def as_python(source: str) -> str:
    """A cell's code as the IPython kernel runs it: magics (``%time``, ``%%capture``) and shell
    escapes (``!ls``) become the ``get_ipython()`` calls they stand for, so that a cell that
    starts with one is read, checked and run like the rest. Unchanged where IPython is not
    installed or the cell is plain Python."""
    try:
        parse(source)
        return source
    except SyntaxError:
        pass
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return source
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # IPython could not read it either: it fails as written
        return source


def readable_python(source: str) -> str:
    """What to read of a cell, for a person or a check: :func:`as_python`, followed, for a cell
    magic (``%%time``), by its body as Python where it is Python (the magic runs it)."""
    python = as_python(source)
    stripped = source.lstrip()
    if stripped.startswith("%%") and "\n" in stripped:
        body = as_python(stripped.split("\n", 1)[1])
        try:
            parse(body)
            python += "\n" + body
        except SyntaxError:
            pass
    return python


class WithoutIPython:
    """What ``get_ipython()`` returns where a notebook's answers run outside a kernel (a check,
    grading): magics and shell escapes do nothing, a cell magic's body runs as Python."""

    def __init__(self, namespace: dict[str, Any]):
        self.namespace = namespace

    def run_line_magic(self, *args: Any, **kwargs: Any) -> None:
        return None

    def run_cell_magic(self, name: str, line: str, cell: str) -> None:
        exec(compile(as_python(cell), f"<%%{name}>", "exec"), self.namespace)

    def system(self, *args: Any, **kwargs: Any) -> None:
        return None

    getoutput = system


def run_cell(source: str, namespace: dict[str, Any], name: str) -> None:
    """Run a notebook cell's code in ``namespace`` as a kernel would (:func:`as_python`)."""
    namespace.setdefault("get_ipython", lambda: WithoutIPython(namespace))
    exec(compile(as_python(source), name, "exec"), namespace)


def is_check(node: ast.stmt) -> bool:
    """Whether ``node`` is a lesson's check line, ``Name = check_step("id", Name)``: it binds
    the name to what the lesson goes on with, but it is not the learner's answer."""
    value = getattr(node, "value", None)
    return (
        isinstance(node, ast.Assign)
        and isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "check_step"
    )


def binds(node: ast.stmt, name: str) -> bool:
    """Whether the top-level statement ``node`` binds ``name`` (def, class, import, assignment;
    not a check line, :func:`is_check`)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name == name
    if isinstance(node, ast.Import | ast.ImportFrom):
        return any((a.asname or a.name.split(".")[0]) == name for a in node.names)
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and not is_check(node):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(n, ast.Name) and n.id == name for t in targets for n in ast.walk(t))
    return False


def defining_cell(cells: list[str], name: str) -> int | None:
    """The index of the last of ``cells`` (sources) that binds ``name`` at its top level."""
    found = None
    for index, source in enumerate(cells):
        try:
            tree = parse(as_python(source))
        except SyntaxError:
            continue
        if any(binds(node, name) for node in tree.body):
            found = index
    return found


def lesson_of(path: Path, cells: list[str]) -> str:
    """The lesson a notebook belongs to: its file name's leading number, else the lesson whose
    steps it defines most of (a renamed copy)."""
    match = re.match(r"(\d\d)", path.name)
    if match and match.group(1) in LESSON_MODULES:
        return match.group(1)
    defined = {
        lesson: sum(defining_cell(cells, s.name) is not None for s in lesson_steps(lesson))
        for lesson in LESSON_MODULES
    }
    best = max(defined, key=defined.get)
    if not defined[best]:
        raise ValueError(
            f"{path} defines none of the graded steps of lessons {', '.join(LESSON_MODULES)}: "
            "is it a lesson notebook with graded steps?"
        )
    return best


def check_notebook(path: Path) -> tuple[str, list[dict]]:
    """Run ``path``'s setup and answer cells, print each step's status (visible checks only)
    and points; return (lesson, the rows of :func:`aecourse.steps.step_table`)."""
    import nbformat  # here: reading it costs a second, which the grader's checks need not pay

    if not path.is_file():
        raise FileNotFoundError(f"No notebook at {path}: give the path of your .ipynb file.")
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as err:  # not JSON, not a notebook: say so, change nothing
        raise ValueError(
            f"{path} is not a readable notebook ({err}); is it an .ipynb file?"
        ) from None
    code = [c for c in notebook.cells if c.cell_type == "code"]
    sources = [c.source for c in code]
    lesson = lesson_of(path, sources)
    setup = [i for i, c in enumerate(code) if SETUP_TAGS & set(c.metadata.get("tags", []))]
    if not setup:
        raise ValueError(
            f"{path} has no cells tagged 'parameters' or 'imports' (the lesson's first cells): "
            "check a copy of the released lesson, not a notebook rebuilt from scratch."
        )
    setup.sort(key=lambda i: "parameters" not in code[i].metadata.get("tags", []))
    answers = [defining_cell(sources, s.name) for s in lesson_steps(lesson)]
    namespace: dict[str, Any] = {"__name__": "__main__"}
    # The setup first (a moved cell must not run before the imports), then the answers, with
    # the package's copies of the lesson's steps withheld, as grading runs them.
    with withholding(lesson_steps(lesson), lesson, namespace):
        for index in setup + sorted({a for a in answers if a is not None} - set(setup)):
            try:
                run_cell(sources[index], namespace, f"<cell {index + 1}>")
            except Exception as err:  # the step's check reports what is missing
                print(f"(code cell {index + 1} raised {type(err).__name__}: {err})")
    rows = step_table(lesson, namespace)
    print(f"Lesson {lesson}, {path.name}:")
    print(steps_report(rows))
    return lesson, rows
