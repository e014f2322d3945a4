"""Static review of a student's answer: what reaches outside its exercise, or is not its own.

A fresh check (:mod:`aecourse.teach.checking`) runs the solution cell in the same process as
its test, so a solution cell could still tamper with its own check: reach into the import
system, IPython, builtins, ``sys.modules``, frames, files or processes. Such lines are listed
for a person to read (the ``review`` column of ``grades.csv``); they do not change the grade.
So are a build step's answers that name the package's copy of the step (they already score 0:
the copy is withheld where they run) or that are that copy with other names
(:func:`matches_package_copy`: they pass, being right, and only a person can tell).
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any

from aecourse.steps.notebook import binds, parse, readable_python

# Reaching any of these, solution code could change what its own check sees.
_MODULES = {"os", "sys", "subprocess", "importlib", "builtins", "gc", "inspect", "ctypes",
            "signal", "threading", "multiprocessing", "socket", "shutil", "pathlib", "io",
            "atexit", "types", "runpy", "pickle", "marshal", "code", "tempfile", "glob",
            "IPython", "ipykernel", "traitlets", "urllib", "http", "nbformat", "pty",
            "resource", "site", "warnings", "unittest", "pytest"}  # fmt: skip
_CALLS = {"open", "exec", "eval", "compile", "__import__", "globals", "locals", "vars",
          "getattr", "setattr", "delattr", "get_ipython", "breakpoint", "exit", "quit",
          "input", "reload"}  # fmt: skip
_ATTRIBUTES = {"modules", "meta_path", "path_hooks", "settrace", "setprofile", "_getframe",
               "f_back", "f_globals", "f_locals", "__globals__", "__builtins__", "__code__",
               "__subclasses__", "__import__", "events", "input_transformers_post",
               "input_transformers_cleanup", "set_custom_exc", "register_magic_function",
               "ast_transformers", "system", "popen", "remove", "unlink", "rmtree",
               "checks", "__file__", "stdout", "stderr", "excepthook", "reload"}  # fmt: skip


_COMMON = {"torch", "nn", "F", "np", "aecourse", "math", "plt"}  # modules the lessons import


def _root(target: ast.expr) -> str | None:
    """``torch`` for an assignment to ``torch.save`` or ``torch.nn.functional.x``; None for a
    plain name (``x = ...``) or an attribute of an object (``self.linear = ...``)."""
    if not isinstance(target, ast.Attribute | ast.Subscript):
        return None
    while isinstance(target, ast.Attribute | ast.Subscript):
        target = target.value
    return target.id if isinstance(target, ast.Name) else None


def review_flags(code: str) -> list[str]:
    """Lines of solution code that reach outside the exercise, e.g. "line 3: imports os"."""
    python = readable_python(code)
    try:
        tree = parse(python)
    except SyntaxError:
        return []  # it does not run, so it cannot tamper
    modules = _COMMON | {
        (a.asname or a.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for a in node.names
    }
    flags = []
    for node in ast.walk(tree):
        what = None
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names]
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + names
            hit = [n for n in names if n.split(".")[0] in _MODULES]
            what = f"imports {', '.join(hit)}" if hit else None
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            what = f"calls {node.func.id}()" if node.func.id in _CALLS else None
        elif isinstance(node, ast.Attribute) and node.attr in _ATTRIBUTES:
            what = f"uses .{node.attr}"
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            replaced = [ast.unparse(t) for t in targets if _root(t) in modules]
            what = f"replaces {', '.join(replaced)}" if replaced else None
        elif isinstance(node, ast.Name) and node.id in {"__builtins__", "__loader__"}:
            what = f"uses {node.id}"
        if what:
            flags.append(f"line {node.lineno}: {what}")
    if python != code:  # the kernel's magics and shell escapes: run in the kernel only
        for number, line in enumerate(code.splitlines(), 1):
            if line.lstrip()[:1] in ("%", "!"):
                flags.append(f"line {number}: runs IPython's {line.strip()[:60]!r}")
    return sorted(set(flags), key=lambda f: int(f.split()[1].rstrip(":")))


def _dotted(node: ast.AST) -> str | None:
    """``aecourse.models.X`` for that attribute chain on a name; None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def taken_from_package(code: str, name: str, withheld: set[str]) -> str | None:
    """Why ``code`` does not write ``name`` itself, or None: it binds ``name`` other than by a
    ``def`` or ``class``, or names one of the package's copies ``withheld`` (``module.Name``).
    For the review: such an answer already fails its cases, the copies being withheld."""
    try:
        tree = parse(readable_python(code))
    except SyntaxError:
        return None  # it fails when it runs; that is its verdict
    binding = [node for node in tree.body if binds(node, name)]
    if binding and not isinstance(binding[-1], ast.FunctionDef | ast.ClassDef):
        return (
            f"{name} is not written here: the cell binds it with `{ast.unparse(binding[-1])[:80]}`"
        )
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom):
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Attribute):
            names = [_dotted(node) or ""]
        for dotted in names:
            if dotted in withheld:
                return f"{name} reaches for the package's copy {dotted}"
    return None


class _Normalised(ast.NodeTransformer):
    """Code with its own names numbered in order of appearance (variables, arguments, its
    defs and classes, ``self.`` attributes), strings emptied, docstrings and annotations
    dropped: what stays is its structure and the calls it makes."""

    def __init__(self):
        self.names: dict[str, str] = {}

    def _name(self, name: str) -> str:
        return self.names.setdefault(name, f"n{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.Name(self._name(node.id), node.ctx)

    def visit_arg(self, node: ast.arg) -> ast.AST:
        return ast.arg(self._name(node.arg))

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        value = self.visit(node.value)
        own = isinstance(node.value, ast.Name) and node.value.id == "self"
        return ast.Attribute(value, self._name(node.attr) if own else node.attr, node.ctx)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.Constant("" if isinstance(node.value, str) else node.value)

    def _definition(self, node: ast.FunctionDef | ast.ClassDef) -> ast.AST:
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:] or [ast.Pass()]
        node.body = body
        node.name = self._name(node.name)
        if isinstance(node, ast.FunctionDef):
            node.returns = None
        return self.generic_visit(node)

    visit_FunctionDef = visit_ClassDef = _definition

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        target = self.visit(node.target)
        if node.value is None:
            return ast.Pass()
        return ast.Assign([target], self.visit(node.value))


def _shape(node: ast.AST) -> str:
    return ast.dump(_Normalised().visit(node), annotate_fields=False, include_attributes=False)


def matches_package_copy(code: str, step: Any) -> bool:
    """Whether the cell's definition of ``step.name`` is the package's copy of the step with
    other names, strings and formatting: the grader cannot tell it from honest work (the
    lesson's own solution is that copy), a person reading it can."""
    try:
        tree = parse(readable_python(code))
        copy = parse(textwrap.dedent(inspect.getsource(step.reference()))).body[0]
    except (SyntaxError, OSError, TypeError):
        return False
    written = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    written = [n for n in written if n.name == step.name]
    return bool(written) and _shape(written[-1]) == _shape(copy)
