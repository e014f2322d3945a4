"""The package as a graded notebook sees it: the lesson's own steps are not in it.

A sandboxed notebook of lesson N (:mod:`aecourse.teach.sandbox`) does not see the installed
``aecourse``: it sees a copy written here and mounted at the same path, in which

* every package copy of a step of lesson N (the references its checks compare with) is a
  :class:`~aecourse.steps.withheld.Withheld` placeholder: its source is not in the file, so
  reading, executing, subclassing or delegating to it has nothing to reach;
* ``aecourse.teach`` (the grader) is absent;
* for the feedback run, the declarations of lesson N's steps and their cases (hidden ones
  included) are absent too: the run's checks show the grader's verdicts instead.

Helpers, and the steps of the other lessons (which lesson N builds on), stay as they are.
"""

from __future__ import annotations

import ast
import compileall
import shutil
import threading
from pathlib import Path

import aecourse
from aecourse.steps import LESSON_MODULES, lesson_steps
from aecourse.steps.notebook import parse
from aecourse.steps.withheld import reference_of

PACKAGE = Path(aecourse.__file__).resolve().parent
_IMPORT = "from aecourse.steps.withheld import Withheld as _Withheld"


def withheld_names(lesson: str) -> dict[str, list[str]]:
    """Per module of the package, the names of lesson ``lesson``'s step copies in it."""
    names: dict[str, list[str]] = {}
    for step in lesson_steps(lesson):
        module, name = reference_of(step)
        names.setdefault(module, []).append(name)
    return names


def without(source: str, names: list[str], module: str, lesson: str) -> str:
    """``source`` of ``module`` with each top-level ``def``/``class`` of ``names`` replaced by
    a placeholder line (decorators and docstring go with it)."""
    tree = parse(source)
    lines = source.splitlines()
    spans = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in names:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            spans.append((start, node.end_lineno, node.name))
    missing = set(names) - {name for _, _, name in spans}
    if missing:
        raise ValueError(f"{module} defines no top-level {', '.join(sorted(missing))}")
    for start, end, name in sorted(spans, reverse=True):
        lines[start - 1 : end] = [f"{name} = _Withheld({module + '.' + name!r}, {lesson!r})"]
    first = next(
        n
        for n in tree.body
        if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
        and not (isinstance(n, ast.ImportFrom) and n.module == "__future__")
    )
    lines.insert(first.lineno - 1, _IMPORT)
    return "\n".join(lines) + "\n"


def _steps_modules(lesson: str) -> list[str]:
    """The modules that declare lesson ``lesson``'s steps and cases (e.g. ``aecourse.steps.
    variational`` and the ``aecourse.steps.elbo`` it imports)."""
    main = LESSON_MODULES[lesson]
    tree = parse(_file(main).read_text())
    shared = {"aecourse.steps", "aecourse.steps.cases", "aecourse.steps.withheld"}
    imported = {
        n.module
        for n in tree.body
        if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("aecourse.steps.")
    }
    return [main, *sorted(imported - shared)]


def _file(module: str) -> Path:
    return PACKAGE.joinpath(*module.split(".")[1:]).with_suffix(".py")


def write_view(lesson: str, folder: Path, feedback: bool) -> Path:
    """Write the package as a graded notebook of ``lesson`` sees it to ``folder/aecourse``
    (byte-compiled, readable by every user); ``feedback``: the run whose checks show the
    grader's verdicts, without lesson ``lesson``'s step declarations. Returns the folder."""
    view = folder / "aecourse"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "teach")
    shutil.copytree(PACKAGE, view, ignore=ignore)
    for module, names in withheld_names(lesson).items():
        target = view.joinpath(*module.split(".")[1:]).with_suffix(".py")
        target.write_text(without(_file(module).read_text(), names, module, lesson))
    if feedback:
        for module in _steps_modules(lesson):
            target = view.joinpath(*module.split(".")[1:]).with_suffix(".py")
            target.write_text(
                f'"""Lesson {lesson}\'s steps: withheld while it is graded (the grader judges '
                'them)."""\n\nSTEPS = ()\n'
            )
    compileall.compile_dir(view, ddir=str(PACKAGE), quiet=1)
    for path in [view, *view.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return view


class Views:
    """The package views of one grading run, written once per lesson and kind, in ``folder``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._made: dict[tuple[str, bool], Path] = {}
        self._lock = threading.Lock()

    def get(self, lesson: str, feedback: bool = False) -> Path | None:
        """The view for lesson ``lesson`` ("01"); None for a lesson without graded steps."""
        if lesson not in LESSON_MODULES:
            return None
        with self._lock:
            if (lesson, feedback) not in self._made:
                where = self.folder / f"{lesson}-{'feedback' if feedback else 'judging'}"
                where.mkdir(parents=True, exist_ok=True)
                where.chmod(0o755)
                self._made[lesson, feedback] = write_view(lesson, where, feedback)
            return self._made[lesson, feedback]
