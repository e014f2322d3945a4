"""Autograde a class so that a dishonest notebook cannot game its grade or anyone else's.

For each submission ``SUBMISSIONS/<student>/<NN>_*.ipynb`` (read as data: the grader never
runs a student's code itself):

1. **Feedback run.** In a :class:`~aecourse.sandbox.Sandbox`, a fresh kernel runs the student's
   notebook with its test cells put back as they were released (no hidden tests), every cell
   with a time limit and its output capped. This is what the student sees in the feedback.
2. **Fresh checks: the points.** For each graded exercise, a new sandboxed process runs only
   the lesson's parameter and import cells and the exercise's test cell, all as the instructor
   wrote them, and between them the student's solution cell. Whatever the rest of the
   notebook did (to the kernel, IPython, the checks) is not there. The test's visible and
   hidden parts are judged separately; the exercise's points need both.
3. **Review flags.** A solution cell that reaches into the import system, IPython, builtins,
   ``sys.modules``, files or processes could still tamper with its own check, so it is listed
   in the grade report for a person to read.

Only when every submission is graded are the results written, all from the same list:
``grades.csv``, nbgrader's gradebook and its export, and one feedback page per student and
lesson. A submission that breaks anything is reported in its own row and the others go on.
"""

from __future__ import annotations

import ast
import csv
import html
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from aecourse.assignments import (
    COURSE_DIR,
    Exercise,
    api,
    exercises,
    graded_cells,
    setup_source,
    solution_lines,
)
from aecourse.running import REFERENCE_ENV
from aecourse.sandbox import NOBODY, Sandbox

CELL_TIMEOUT = 300  # seconds per cell of the feedback run (the longest lesson cell takes ~90)
CHECK_TIMEOUT = 120  # seconds for one exercise's fresh check
MAX_NOTEBOOK_BYTES = 20 * 2**20  # a submission larger than this is not graded
MAX_CELLS = 1000
MAX_CELL_OUTPUT = 20_000  # characters of output kept per cell of the feedback run
MAX_IMAGE_BYTES = 4 * 2**20  # images kept in one feedback page, in all
MAX_FEEDBACK_BYTES = 8 * 2**20  # one feedback page
WORKERS = max(1, (os.cpu_count() or 2) // 2)


@dataclass
class Grade:
    """One row of ``grades.csv``: a student's result on one lesson, and what to look at."""

    student: str
    lesson: str
    score: float
    max_score: float
    status: str  # "graded", "not a notebook", "missing", "not a lesson" or "failed"
    problems: str = ""  # for the student: what went wrong, cell by cell
    review: str = ""  # for the instructor: solution code that could tamper with its check
    exercises: list[dict] = field(default_factory=list)  # grade_id, points, test, hidden


# --- review flags -------------------------------------------------------------------------

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


def review_flags(code: str) -> list[str]:
    """Lines of solution code that reach outside the exercise, e.g. "line 3: imports os"."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []  # it does not run, so it cannot tamper
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
        elif isinstance(node, ast.Name) and node.id in {"__builtins__", "__loader__"}:
            what = f"uses {node.id}"
        if what:
            flags.append(f"line {node.lineno}: {what}")
    return sorted(set(flags), key=lambda f: int(f.split()[1].rstrip(":")))


# --- running code in the sandbox ----------------------------------------------------------

# The fresh check's own code. It reads a secret (a random token) and the parts to run from its
# stdin, runs each part, and reports each part's outcome on a line that starts with the secret:
# output that the student's code prints cannot pass for a report without reaching into this
# function's frame, which the review flags would name.
_CHECK_PRELUDE = r"""
def main():
    import json, sys
    secret = sys.stdin.readline().strip()
    parts = json.loads(sys.stdin.read())
    out = sys.stdout
    namespace = {"__name__": "__main__"}
    for name, code in parts:
        try:
            exec(compile(code, "<" + name + ">", "exec"), namespace)
            report = {"part": name, "ok": True, "error": ""}
        except BaseException as err:
            first = str(err).splitlines()[0][:300] if str(err) else ""
            error = type(err).__name__ + (": " + first if first else "")
            report = {"part": name, "ok": False, "error": error}
        out.write(secret + " " + json.dumps(report) + "\n")
        out.flush()
main()
"""


def _env() -> dict[str, str]:
    """The sandbox's environment: the reference settings of the committed lessons."""
    return dict(REFERENCE_ENV) | {"MPLBACKEND": "Agg"}


def fresh_check(
    sandbox: Sandbox,
    work: Path,
    setup: str,
    solution: str,
    exercise: Exercise,
    timeout: int = CHECK_TIMEOUT,
) -> dict[str, str]:
    """Run one exercise's check in a new sandboxed process: ``{"test": "passed" or the
    error, "hidden": ...}``. Only lines that carry this run's secret count as reports."""
    parts = [("setup", setup), ("solution", solution), ("test", exercise.visible)]
    if exercise.hidden.strip():
        parts.append(("hidden tests", exercise.hidden))
    nonce = secrets.token_hex(16)
    sandbox.prepare(work)
    command = sandbox.command([sys.executable, "-c", _CHECK_PRELUDE], work, _env())
    with tempfile.TemporaryFile() as output:  # outside the sandbox's folder
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=output,
                                   stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        timed_out = False
        try:
            process.communicate((nonce + "\n" + json.dumps(parts)).encode(), timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill(process)
        output.seek(0)
        reports = {}
        for line in output:
            if line.startswith(nonce.encode() + b" ") and len(line) < 10_000:
                try:
                    report = json.loads(line[len(nonce) + 1 :])
                except json.JSONDecodeError:
                    continue
                reports.setdefault(report["part"], report)  # the first report of a part counts
    result = {}
    for key, part in (("test", "test"), ("hidden", "hidden tests")):
        if part == "hidden tests" and len(parts) == 3:
            result[key] = ""
        elif part in reports:
            result[key] = "passed" if reports[part]["ok"] else reports[part]["error"]
        elif timed_out:
            result[key] = f"did not finish: the check ran longer than {timeout} s"
        else:
            result[key] = "did not finish: the check stopped before it (see the solution cell)"
    if "solution" in reports and not reports["solution"]["ok"]:
        result["solution"] = reports["solution"]["error"]
    if "setup" in reports and not reports["setup"]["ok"]:
        raise RuntimeError(f"the lesson's own import cell failed: {reports['setup']['error']}")
    return result


def _first_line(text) -> str:
    """The first line of an error message, as the fresh checks report it (at most 300 chars)."""
    return str(text).splitlines()[0][:300] if text else ""


def _kill(process: subprocess.Popen) -> None:
    """Stop a sandbox and everything in it (its PID namespace dies with it)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            process.kill()
    process.wait()


def _kernel_manager(sandbox: Sandbox, work: Path):
    """A Jupyter kernel manager whose kernel starts inside the sandbox and talks over Unix
    sockets in its folder (the sandbox has no network to talk over)."""
    from jupyter_client.manager import AsyncKernelManager

    class SandboxedKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            command = super().format_kernel_cmd(extra_arguments)
            if sandbox.mode == "bubblewrap" and sandbox.as_root:  # the kernel runs as nobody
                os.chown(self.connection_file, NOBODY, NOBODY)
            return sandbox.command(command, work, _env())

    manager = SandboxedKernelManager(kernel_name="python3", transport="ipc")
    manager.ip = str(work / "kernel")
    manager.connection_file = str(work / "kernel.json")
    return manager


_CUT = f"[output cut: more than {MAX_CELL_OUTPUT:,} characters]\n"


def _client_class():
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """Keeps at most MAX_CELL_OUTPUT characters of each cell's output."""

        def output(self, outs, msg, display_id, cell_index):
            used = sum(_size(o) for o in outs)
            if used >= MAX_CELL_OUTPUT:
                if not any(str(o.get("text", "")).startswith(_CUT) for o in outs):
                    outs.append(nbformat.v4.new_output("stream", name="stderr", text=_CUT))
                return None
            out = super().output(outs, msg, display_id, cell_index)
            left = MAX_CELL_OUTPUT - used
            if out is not None and _size(out) > left:
                if out.get("output_type") == "stream":
                    out["text"] = out["text"][:left]
                elif "data" in out:  # a huge repr or HTML: its start and a note
                    text = str(out["data"].get("text/plain", ""))
                    out["data"] = {"text/plain": text[: max(left, 0)] + "\n" + _CUT}
            return out

    return CappedClient


def _size(output) -> int:
    """Characters of text in an output (images have a budget of their own, per page)."""
    if output.get("output_type") == "stream":
        return len(output.get("text", ""))
    data = output.get("data", {})
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v))
               for mime, v in data.items() if not mime.startswith("image/"))  # fmt: skip


def feedback_run(
    sandbox: Sandbox, work: Path, notebook: nbformat.NotebookNode, timeout: int
) -> tuple[nbformat.NotebookNode, list[str]]:
    """Run ``notebook`` in a sandboxed kernel; returns it executed and one problem per cell
    that failed, timed out, or was running when the kernel died."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    sandbox.prepare(work)
    client = _client_class()(
        notebook, km=_kernel_manager(sandbox, work), timeout=timeout, allow_errors=True,
        record_timing=False, store_widget_state=False, kernel_name="python3",
        shutdown_kernel="immediate", startup_timeout=120,
    )  # fmt: skip
    stopped = None
    try:  # the kernel's own stdout and stderr are not the grader's console
        client.execute(cleanup_kc=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except CellTimeoutError:
        stopped = f"CellTimeoutError: the cell ran longer than {timeout} s and was stopped"
    except DeadKernelError:
        stopped = "the kernel died (a memory, CPU-time or process limit?) and was not restarted"
    finally:  # whatever happened, the sandbox and all in it end here
        process = getattr(client.km.provisioner, "process", None) if client.km else None
        if process is not None:
            _kill(process)
    problems = []
    for i, cell in enumerate(notebook.cells, 1):
        where = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {i}"
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                evalue = _first_line(out.get("evalue"))
                problems.append(f"{where}: {out['ename']}: {evalue}".rstrip(": "))
    if stopped:
        index = client.code_cells_executed - 1 if client.code_cells_executed else 0
        running = [c for c in notebook.cells if c.cell_type == "code"][index : index + 1]
        where = running[0].metadata.get("nbgrader", {}).get("grade_id") if running else None
        number = notebook.cells.index(running[0]) + 1 if running else "?"
        problems.append(f"{where or f'cell {number}'}: {stopped}; later cells did not run")
    return notebook, problems


# --- one submission -----------------------------------------------------------------------


def read_submission(file: Path) -> nbformat.NotebookNode:
    """The submitted notebook as data, or ValueError saying why it cannot be graded."""
    size = file.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"the file is {size / 2**20:.0f} MB; clear the outputs and send it again")
    try:
        notebook = nbformat.read(file, as_version=4)
        nbformat.validate(notebook)
    except Exception as err:  # bad JSON, not a notebook, a broken schema
        raise ValueError(
            f"not a valid notebook ({type(err).__name__}: {_first_line(err)[:120]})"
        ) from err
    if len(notebook.cells) > MAX_CELLS:
        raise ValueError(f"{len(notebook.cells)} cells, more than {MAX_CELLS}")
    return notebook


def _grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _to_run(submitted: nbformat.NotebookNode, released: nbformat.NotebookNode):
    """The student's notebook as the feedback run executes it: outputs cleared, each graded
    test cell put back as released (a deleted one stays deleted), in a plain Python kernel."""
    tests = {_grade_id(c): c.source for c in released.cells if c.metadata.get("nbgrader", {})
             .get("grade")}  # fmt: skip
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})  # fmt: skip
    for cell in submitted.cells:
        if cell.cell_type == "code" or _grade_id(cell) in tests:
            new = nbformat.v4.new_code_cell(tests.get(_grade_id(cell), cell.source))
        elif cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(cell.source)
        else:
            new = nbformat.v4.new_raw_cell(cell.source)
        if _grade_id(cell):
            new.metadata["nbgrader"] = {"grade_id": _grade_id(cell)}
        notebook.cells.append(new)
    return notebook


def grade_submission(
    sandbox: Sandbox,
    scratch: Path,
    student: str,
    assignment: str,
    submitted: nbformat.NotebookNode,
    source: nbformat.NotebookNode,
    released: nbformat.NotebookNode,
    timeout: int = CELL_TIMEOUT,
    check_timeout: int = CHECK_TIMEOUT,
) -> tuple[Grade, nbformat.NotebookNode]:
    """Grade one notebook: the feedback run, then a fresh check per exercise. Returns the grade
    and the executed notebook the feedback page shows."""
    run, problems = feedback_run(sandbox, scratch / "run", _to_run(submitted, released), timeout)
    solutions: dict[str, str] = {}
    for cell in submitted.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            solutions.setdefault(_grade_id(cell), cell.source)
    setup, results, flags, score = setup_source(source), [], [], 0.0
    for exercise in exercises(source):
        code = solutions.get(exercise.solution_id)
        if code is None:
            missing = f"the solution cell {exercise.solution_id} is missing (deleted?)"
            result = {"test": missing, "hidden": missing if exercise.hidden.strip() else ""}
        else:
            work = scratch / f"check-{len(results)}"
            result = fresh_check(sandbox, work, setup, code, exercise, check_timeout)
            flags += [f"{exercise.solution_id} {flag}" for flag in review_flags(code)]
        passed = result["test"] == "passed" and result["hidden"] in ("passed", "")
        points = exercise.points if passed else 0.0
        score += points
        results.append({"grade_id": exercise.test_id, "points": points,
                        "max_points": exercise.points, **result})  # fmt: skip
        for key, label in (("test", "checked on its own"), ("hidden", "hidden tests")):
            message = result[key]
            if message not in ("passed", "") and f"{exercise.test_id}: {message}" not in problems:
                problems.append(f"{exercise.test_id} {label}: {message}")
    deleted = {_grade_id(c) for c in released.cells} - {_grade_id(c) for c in submitted.cells}
    deleted.discard(None)
    if deleted:
        problems.insert(0, f"deleted cells: {', '.join(sorted(deleted))}")
    max_score = sum(graded_cells(source).values())
    grade = Grade(student, assignment, score, max_score, "graded", "; ".join(problems),
                  "; ".join(flags), results)  # fmt: skip
    return grade, run


# --- feedback pages -----------------------------------------------------------------------


def _private_paths(*extra: Path) -> dict[str, str]:
    """Paths of the grading machine that must not appear in what students get back."""
    import aecourse

    paths = {
        str(Path(aecourse.__file__).resolve().parents[1]): "<course>",
        sys.prefix: "<python>",
        sys.base_prefix: "<python>",
        str(Path.home()): "<home>",
    }
    paths |= {str(p.resolve()): f"<{p.name}>" for p in extra}
    return dict(sorted(paths.items(), key=lambda kv: -len(kv[0])))  # longest first


def _scrub(text: str, paths: dict[str, str]) -> str:
    for path, name in paths.items():
        if len(path) > 1:
            text = text.replace(path, name)
    return text


def _limit_images(notebook: nbformat.NotebookNode, budget: int) -> None:
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            for mime in [m for m in out.get("data", {}) if m.startswith("image/")]:
                size = len(out["data"][mime])
                if size > budget:
                    out["data"] = {
                        "text/plain": "[image left out: the page's image budget is spent]"
                    }
                    break
                budget -= size


def feedback_page(
    grade: Grade,
    run: nbformat.NotebookNode | None,
    source: nbformat.NotebookNode,
    submitted_text: str,
    isolation: str,
    paths: dict[str, str],
) -> str:
    """The HTML feedback of one graded notebook: the score, each exercise's verdict (its
    hidden tests' too, never their code), the problems, then the notebook as it ran."""
    from nbconvert import HTMLExporter

    esc = html.escape
    rows = "".join(
        f"<tr><td><code>{esc(e['grade_id'])}</code></td><td>{e['points']:g} of "
        f"{e['max_points']:g}</td><td>{esc(e['test'])}</td><td>{esc(e['hidden'] or 'none')}"
        "</td></tr>"
        for e in grade.exercises
    )
    sandboxed = "in a sandbox" if isolation.startswith("isolated") else "without a sandbox"
    header = (
        f"<h1>Feedback: {esc(grade.lesson)}</h1><p><b>{grade.score:g} of {grade.max_score:g} "
        f"points</b> ({esc(grade.status)}). Each exercise was checked on its own: the lesson's "
        "imports, your solution cell and the instructor's test, and nothing else of your "
        "notebook.</p><table><tr><th>exercise</th><th>points</th><th>test</th><th>hidden "
        f"tests</th></tr>{rows}</table>"
    )
    if grade.problems:
        items = "".join(f"<li>{esc(p)}</li>" for p in grade.problems.split("; "))
        header += f"<p><b>Problems</b></p><ul>{items}</ul>"
    header += f"<p><i>Your notebook ran {sandboxed}; here it is as it ran:</i></p>"
    cells = [nbformat.v4.new_markdown_cell(_scrub(header, paths))]
    notebook = nbformat.v4.new_notebook(cells=cells + (run.cells if run else []))
    for cell in notebook.cells:
        cell.metadata = {}
    secrets_ = [line for line in solution_lines(source) if line not in submitted_text]
    text = json.dumps(notebook.cells)
    leaked = [line for line in secrets_ if json.dumps(line)[1:-1] in text]
    if leaked:  # never expected: the sandbox cannot read the source. Show the summary only.
        notebook.cells = cells
    for budget in (MAX_IMAGE_BYTES, 0):
        _limit_images(notebook, budget)
        page, _ = HTMLExporter(template_name="lab").from_notebook_node(notebook)
        page = _scrub(page, paths)
        if len(page.encode()) <= MAX_FEEDBACK_BYTES:
            return page
    notebook.cells = cells
    return _scrub(HTMLExporter(template_name="lab").from_notebook_node(notebook)[0], paths)


# --- the class ----------------------------------------------------------------------------


def _lesson_of(file: Path, assignments: dict[str, str]) -> str | None:
    """The assignment a submitted file belongs to, by its leading lesson number."""
    match = re.match(r"(\d\d)", file.name)
    return assignments.get(match.group(1)) if match else None


GRADER_FAULT = (
    "the grader could not run it ({error}). This is not the student's doing: fix the grading "
    "machine (see the error) and grade again"
)


def autograde(
    submissions: Path,
    course: Path = COURSE_DIR,
    out: Path | None = None,
    timeout: int = CELL_TIMEOUT,
    check_timeout: int = CHECK_TIMEOUT,
    sandbox: Sandbox | None = None,
    workers: int = WORKERS,
) -> list[Grade]:
    """Grade every ``submissions/<student>/<NN>_*.ipynb`` against the released lessons.

    Writes, once all are graded: ``out/grades.csv`` (student, lesson, score, max_score,
    status, problems, review) and ``grades.json`` (the same, with each exercise's verdicts),
    the scores into nbgrader's gradebook and its export ``nbgrader_grades.csv``, and
    ``out/feedback/<student>/<lesson>.html`` (plus a ``.txt`` note when something went wrong).
    ``out`` defaults to ``course/grades``. ``timeout``: seconds per cell of the feedback run;
    ``check_timeout``: seconds per fresh check. ``workers`` students are graded at a time
    (default: one per two CPU cores, as each lesson trains on two threads). Returns the rows
    of ``grades.csv``.
    """
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise FileNotFoundError(
            f"No submissions folder at {submissions}: put each student's notebooks in "
            f"{submissions}/<student_id>/ (e.g. {submissions}/ada/01_linear_autoencoder.ipynb)."
        )
    nbgrader = api(course, timeout)
    root = Path(nbgrader.coursedir.root)
    assignments = {p.name[:2]: p.name for p in sorted((root / "release").glob("[0-9][0-9]_*"))}
    if not assignments:
        raise FileNotFoundError(f"Nothing released in {root}: run `aecourse release` first.")

    def read(kind: str, name: str) -> nbformat.NotebookNode:
        return nbformat.read(root / kind / name / f"{name}.ipynb", as_version=4)

    lessons = {name: (read("source", name), read("release", name)) for name in assignments.values()}
    students = sorted(p for p in submissions.iterdir() if p.is_dir())
    if not students:
        raise FileNotFoundError(f"No student folders in {submissions}.")
    out = Path(out) if out else root / "grades"
    sandbox = sandbox or Sandbox()
    print(f"Grading {len(students)} students, each notebook {sandbox.description}.", flush=True)
    sent = {_lesson_of(f, assignments) for s in students for f in s.glob("*.ipynb")} - {None}
    scratch = Path(tempfile.mkdtemp(prefix="aecourse-grade-"))
    paths = _private_paths(scratch, submissions, root, out)
    grades, pages = [], {}

    def grade_folder(folder: Path) -> list:
        graded = list(_grade_student(sandbox, scratch, folder, assignments, lessons, sorted(sent),
                                     (timeout, check_timeout), paths))  # fmt: skip
        for grade, _ in graded:
            print(f"  {grade.student}: {grade.lesson} {grade.score:g}/{grade.max_score:g} "
                  f"{grade.status}", flush=True)  # fmt: skip
        return graded

    try:  # students side by side: each notebook runs in its own sandbox and kernel
        with ThreadPoolExecutor(max(1, workers)) as pool:
            for graded in pool.map(grade_folder, students):
                for grade, page in graded:
                    grades.append(grade)
                    pages[grade.student, grade.lesson] = page
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    _write_outputs(nbgrader, grades, pages, out, paths)
    return grades


def _grade_student(sandbox, scratch, folder, assignments, lessons, expected, timeouts, paths):
    """Yield (grade, feedback page or None) for each lesson a student sent or should have."""
    student = folder.name
    files: dict[str, list[Path]] = {}
    for file in sorted(folder.glob("*.ipynb")):
        assignment = _lesson_of(file, assignments)
        if assignment is None:
            why = f"{file.name} matches no released lesson (NN_name.ipynb)"
            yield Grade(student, file.name, 0, 0, "not a lesson", why), None
            continue
        files.setdefault(assignment, []).append(file)
    for assignment in sorted(set(expected) | set(files)):
        source, released = lessons[assignment]
        max_score = sum(graded_cells(source).values())
        if assignment not in files:
            yield Grade(student, assignment, 0, max_score, "missing", "no notebook submitted"), None
            continue
        # Several files for one lesson: the newest counts, and the others are named.
        chosen, *others = sorted(files[assignment], key=lambda f: (-f.stat().st_mtime, f.name))
        note = (
            f"also sent, not graded (only the newest counts): {', '.join(f.name for f in others)}"
        )
        try:
            submitted = read_submission(chosen)
        except ValueError as err:
            yield Grade(student, assignment, 0, max_score, "not a notebook", str(err)), None
            continue
        work = scratch / secrets.token_hex(8)
        try:
            grade, run = grade_submission(sandbox, work, student, assignment, submitted, source,
                                          released, *timeouts)  # fmt: skip
        except Exception as err:  # the grader's own failure: reported, and the class goes on
            error = _scrub(f"{type(err).__name__}: {str(err).splitlines()[0][:200]}", paths)
            why = GRADER_FAULT.format(error=error)
            yield Grade(student, assignment, 0, max_score, "failed", why), None
            continue
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if others:
            grade.problems = "; ".join(p for p in (note, grade.problems) if p)
        grade.problems = _scrub(grade.problems, paths)
        text = "\n".join(c.source for c in submitted.cells)
        page = feedback_page(grade, run, source, text, sandbox.description, paths)
        yield grade, page


def _write_outputs(nbgrader, grades: list[Grade], pages: dict, out: Path, paths) -> None:
    """Everything written, once, from the same list of grades."""
    out.mkdir(parents=True, exist_ok=True)
    columns = ["student", "lesson", "score", "max_score", "status", "problems", "review"]
    with open(out / "grades.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(asdict(g) for g in grades)
    (out / "grades.json").write_text(json.dumps([asdict(g) for g in grades], indent=1) + "\n")
    _write_gradebook(nbgrader, grades, out)
    for grade in grades:
        folder = out / "feedback" / grade.student
        folder.mkdir(parents=True, exist_ok=True)
        stem = Path(grade.lesson).stem
        page = pages.get((grade.student, grade.lesson))
        if page is not None:
            (folder / f"{stem}.html").write_text(page)
        if grade.problems or grade.status != "graded":
            what_to_do = {
                "not a notebook": "Open it in JupyterLab, save it, and send the .ipynb file again.",
                "not a lesson": "Name the file after its lesson, e.g. 01_linear_autoencoder.ipynb.",
                "missing": "Send this lesson's notebook.",
                "failed": "Nothing: your instructor will grade it again.",
            }.get(grade.status, "See each problem above, fix it, and run the notebook again.")
            (folder / f"{stem}.txt").write_text(
                f"{grade.lesson}: {grade.status}, {grade.score:g} of {grade.max_score:g} points\n"
                + "".join(f"- {p}\n" for p in grade.problems.split("; ") if p)
                + what_to_do
                + "\n"
            )


def _write_gradebook(nbgrader, grades: list[Grade], out: Path) -> None:
    """nbgrader's gradebook gets the same scores (for its other commands) and exports them."""
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.plugins import CsvExportPlugin

    with warnings.catch_warnings():  # nbgrader's own SQLAlchemy warnings
        warnings.simplefilter("ignore")
        with Gradebook(nbgrader.coursedir.db_url, nbgrader.coursedir.course_id) as gradebook:
            for grade in grades:
                if grade.status not in ("graded", "failed", "not a notebook", "missing"):
                    continue
                gradebook.update_or_create_student(grade.student)
                try:
                    gradebook.remove_submission(grade.lesson, grade.student)
                except MissingEntry:
                    pass
                if grade.status != "graded":
                    continue
                gradebook.add_submission(grade.lesson, grade.student)
                try:
                    for exercise in grade.exercises:
                        cell = gradebook.find_grade(exercise["grade_id"], grade.lesson,
                                                    grade.lesson, grade.student)  # fmt: skip
                        cell.auto_score = exercise["points"]
                    gradebook.db.commit()
                except MissingEntry as err:  # a lesson changed since its release
                    gradebook.db.rollback()
                    print(f"gradebook: {grade.student} {grade.lesson} not recorded ({err}); "
                          "release the lesson again", file=sys.stderr)  # fmt: skip
            CsvExportPlugin(to=str(out / "nbgrader_grades.csv")).export(gradebook)
