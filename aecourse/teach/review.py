"""Static review of a student's solution cell: the lines that reach outside its exercise.

A fresh check (:mod:`aecourse.teach.checking`) runs the solution cell in the same process as
its test, so a solution cell could still tamper with its own check: reach into the import
system, IPython, builtins, ``sys.modules``, frames, files or processes. Such lines are listed
for a person to read (the ``review`` column of ``grades.csv``); they do not change the grade.
"""

from __future__ import annotations

import ast

from aecourse.steps.notebook import readable_python

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
        tree = ast.parse(python)
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
