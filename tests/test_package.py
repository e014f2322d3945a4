"""The package's shape: the learner's room apart from the instructor's, one idea per module.

``aecourse/`` holds what the lessons import (and what that imports); ``aecourse/teach/`` the
instructor's tools. These tests read the source (imports, docstrings, names) and import what
the lessons import in a fresh interpreter, so that the shape cannot drift unnoticed.
"""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import aecourse

PACKAGE = Path(aecourse.__file__).resolve().parent
ROOT = PACKAGE.parent
MODULES = {
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): path
    for path in sorted(PACKAGE.rglob("*.py"))
}
INSTRUCTOR_LIBRARIES = ("nbgrader", "papermill", "nbconvert", "nbclient", "jupyter_client",
                        "jupyter_book")  # fmt: skip
MAX_LINES = 400


def _imports(path: Path) -> set[str]:
    """The aecourse modules that ``path`` imports, at any level (also inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n in MODULES}
    return found


def _lesson_imports() -> set[str]:
    """Every ``aecourse`` module the lesson notebooks import."""
    found = set()
    for notebook in sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        found |= set(re.findall(r"^\s*(?:from|import) (aecourse[\w.]*)", code, re.MULTILINE))
    return found


def test_no_import_circle_anywhere_in_the_package():
    graph = {name: _imports(path) - {name} for name, path in MODULES.items()}
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for other in sorted(graph[name]):
            if state.get(other) == "open":
                raise AssertionError(f"import circle: {' -> '.join(trail + [name, other])}")
            if other not in state:
                visit(other, trail + [name])
        state[name] = "done"

    for name in graph:
        if name not in state:
            visit(name, [])


def test_the_learners_room_never_imports_the_instructors():
    learner = {n: p for n, p in MODULES.items() if not n.startswith("aecourse.teach")}
    for name, path in learner.items():
        if name == "aecourse.__main__":  # the one command line loads each tool for its verb
            continue
        assert not {m for m in _imports(path) if m.startswith("aecourse.teach")}, name


def test_the_lessons_import_only_the_learners_room():
    imported = _lesson_imports()
    assert imported and not [m for m in imported if m.startswith("aecourse.teach")], imported


def test_importing_what_the_lessons_import_loads_no_instructor_library():
    modules = sorted(_lesson_imports())
    code = (
        f"import sys, importlib\nfor m in {modules!r}:\n    importlib.import_module(m)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {INSTRUCTOR_LIBRARIES!r}))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT).stdout  # fmt: skip
    assert loaded.strip() == "[]", loaded


def test_the_command_line_loads_a_tool_only_for_its_verb():
    code = (
        "import sys, aecourse.__main__\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {INSTRUCTOR_LIBRARIES!r}"
        " or m.startswith('aecourse.teach.') or m == 'torch'))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT).stdout  # fmt: skip
    assert loaded.strip() == "[]", loaded


def test_each_module_names_its_idea_and_stays_readable():
    for name, path in MODULES.items():
        doc = ast.get_docstring(ast.parse(path.read_text()))
        idea = doc.split("\n\n")[0] if doc else ""
        assert idea.endswith((".", ":")) and len(idea.splitlines()) <= 2, f"{name}: {idea!r}"
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_LINES, f"{name}: {lines} lines, more than {MAX_LINES}: split it"


def test_one_spelling_of_color_in_names():
    """Identifiers say "color" (as torch, matplotlib and PIL do); prose may say "colour"."""
    tests = [p for p in (ROOT / "tests").glob("*.py") if p.name != "test_package.py"]
    sources = [*MODULES.values(), *tests, *(ROOT / "benchmarks").glob("*.py")]
    for notebook in (ROOT / "lessons").glob("*.ipynb"):
        cells = json.loads(notebook.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        sources.append((notebook, code))
    for source in sources:
        path, text = source if isinstance(source, tuple) else (source, source.read_text())
        if path.suffix == ".ipynb":  # without IPython's magics
            text = "\n".join(x for x in text.splitlines() if not x.lstrip().startswith(("%", "!")))
        tree = ast.parse(text)
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        names |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        names |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments) for a in n.args}
        names |= {
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant)
            and isinstance(n.value, str)
            and "_" in n.value
            and n.value.isidentifier()
        }  # keys such as metric names too (a single word is a label: prose)
        assert not [n for n in names if "colour" in n.lower()], path
