"""Publish the lessons: a Jupyter Book website, reveal.js slides and a learner's working copy,
all usable offline, each in two editions.

* The **student edition** (the default) is every lesson as a student gets its exercise from
  ``make release``: solution code replaced by nbgrader's stub, hidden tests cut, the graded
  cells' outputs cleared (they print what the hidden tests found), no nbgrader metadata. The
  rest of each lesson keeps its committed outputs, so it reads like the lecture it is.
* The **instructor edition** keeps the solutions and hidden tests with their markers, in cells
  the book shows collapsed, under a note that says which edition this is.

:func:`build_book` writes the edition's copies to ``book/lessons/`` and runs Jupyter Book 1.x
(Sphinx) on ``book/``, with MathJax served from the build itself. :func:`build_slides` exports
each copy with nbconvert's reveal.js exporter next to a ``vendor/`` copy of reveal.js,
require.js, jQuery, MathJax and Font Awesome. The scripts come from npm once
(``book/package.json``). :func:`student_workspace` gives a learner their own copies to work in.
Nothing is re-executed unless asked.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from aecourse.assignments import HIDDEN_TESTS, SOLUTION
from aecourse.running import (
    LESSONS_DIR,
    execute_in_place,
    find_lessons,
    reference_env,
    without_widget_views,
)

BOOK_DIR = Path(__file__).resolve().parents[1] / "book"
EDITIONS = ("student", "instructor")
NBVAL_MARK = "# NBVAL_CHECK_OUTPUT"  # for nbval, not for readers
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")  # what nbgrader's release writes
INSTRUCTOR_NOTE = (
    "> **Instructor edition**: the exercise's solution and hidden tests are in the "
    "collapsed cells (between nbgrader's markers). Students get the student edition: "
    "`make book`, `make slides`, `make lab` or `make release`."
)
# Where nbconvert's slides find their scripts, relative to the slides; the npm packages
# (pinned in book/package.json) are copied to vendor/ beside them.
VENDOR = {
    "reveal_url_prefix": "vendor/reveal.js",
    "require_js_url": "vendor/requirejs/require.js",
    "jquery_url": "vendor/jquery/dist/jquery.min.js",
    "mathjax_url": "vendor/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
    "font_awesome_url": "vendor/font-awesome/css/font-awesome.min.css",
}
SLIDE_PACKAGES = ("reveal.js", "requirejs", "jquery", "mathjax", "font-awesome")
# The parts of MathJax 3 (npm alias mathjax3) that the book's pages load, lazily included.
BOOK_MATHJAX = ("tex-mml-chtml.js", "input", "output/chtml", "ui", "a11y", "sre")
HEADING = re.compile(r"^(#{1,6}) \S")


def _check_edition(edition: str) -> None:
    if edition not in EDITIONS:
        raise ValueError(f"Unknown edition {edition!r}: choose one of {', '.join(EDITIONS)}.")


def without_nbval_marks(source: str) -> str:
    """A cell's source without nbval's marker lines (they are for nbval, not for readers)."""
    lines = source.splitlines()
    return "\n".join(x for x in lines if x.strip() != NBVAL_MARK).strip("\n")


def student_source(source: str) -> str:
    """A cell's source as released to students: each solution replaced by nbgrader's stub (at
    the solution's indentation), hidden tests and nbval markers cut."""
    kept, skipping = [], False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped in (SOLUTION[0], HIDDEN_TESTS[0]):
            skipping = True
            if stripped == SOLUTION[0]:
                indent = line[: len(line) - len(line.lstrip())]
                kept += [indent + stub for stub in STUB]
        elif stripped in (SOLUTION[1], HIDDEN_TESTS[1]):
            skipping = False
        elif not skipping and stripped != NBVAL_MARK:
            kept.append(line)
    return "\n".join(kept).strip("\n")


def edition_copy(
    notebook: nbformat.NotebookNode, edition: str = "student"
) -> nbformat.NotebookNode:
    """The lesson as the ``edition``'s reader sees it (see the module's docstring)."""
    _check_edition(edition)
    notebook = nbformat.from_dict(notebook)  # a deep copy
    for cell in notebook.cells:
        exercise = cell.metadata.get("nbgrader", {})
        exercise = exercise.get("solution") or exercise.get("grade")
        if edition == "student":
            cell.source = student_source(cell.source)
            cell.metadata.pop("nbgrader", None)
            if exercise and cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        else:
            cell.source = without_nbval_marks(cell.source)
            if exercise:  # the book shows these cells collapsed
                cell.metadata["tags"] = [*cell.metadata.get("tags", []), "hide-input"]
        if cell.cell_type == "code":
            cell.outputs = _join_streams(cell.outputs)
    if edition == "student":
        notebook.metadata.pop("nbgrader", None)
    else:
        note = nbformat.v4.new_markdown_cell(INSTRUCTOR_NOTE)
        note.metadata["slideshow"] = {"slide_type": "fragment"}
        notebook.cells.insert(1, note)
    return without_widget_views(notebook)


def _join_streams(outputs: list) -> list:
    """Consecutive prints to the same stream as one output, as JupyterLab shows them (the
    book would otherwise draw one box per line)."""
    joined = []
    for out in outputs:
        last = joined[-1] if joined else None
        if out.output_type == "stream" and last is not None and last.output_type == "stream" \
                and last.name == out.name:  # fmt: skip
            last.text += out.text
        else:
            joined.append(out)
    return joined


def write_edition(dest: Path, edition: str = "student", lessons: list[str] | None = None,
                  overwrite: bool = True) -> list[Path]:  # fmt: skip
    """The edition's copies of the lessons in ``dest``; returns those written. ``overwrite``:
    replace the copies there (and remove stale ones), else keep every existing file as it is."""
    _check_edition(edition)
    dest.mkdir(parents=True, exist_ok=True)
    sources = find_lessons(LESSONS_DIR, lessons)
    if overwrite:
        for old in dest.glob("*.ipynb"):
            old.unlink()
    written = []
    for path in sources:
        copy = dest / path.name
        if copy.exists():
            continue
        nbformat.write(edition_copy(nbformat.read(path, as_version=4), edition), copy)
        written.append(copy)
    return written


def student_workspace(dest: Path) -> list[Path]:
    """A learner's working copy: the student edition of every lesson that ``dest`` does not
    hold yet. A copy that exists is never touched, so updating the course keeps the learner's
    answers; delete a copy to get the lesson afresh. Returns the copies added."""
    return write_edition(dest, "student", overwrite=False)


# JupyterLab as a learner needs it: no nbgrader authoring UI (its lab extension and server
# extensions), no news pop-up, no update check (both would go online).
LEARNER_LAB_DISABLED = ("@jupyter/nbgrader", "@jupyterlab/apputils-extension:announcements")
LEARNER_LAB_ARGS = (
    "--LabApp.news_url=None",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
)
NBGRADER_SERVER_EXTENSIONS = (
    "formgrader", "validate_assignment", "assignment_list", "course_list",
)  # fmt: skip


def learner_lab_command(workspace: Path) -> tuple[list[str], dict[str, str]]:
    """The command and extra environment that open JupyterLab on ``workspace`` for a learner;
    its own Jupyter config folder (``workspace/.jupyter``) keeps nbgrader's UI out."""
    config = workspace.resolve() / ".jupyter"
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    disabled = dict.fromkeys(LEARNER_LAB_DISABLED, True)
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": disabled}, indent=1)
    )
    off = {f"nbgrader.server_extensions.{name}": False for name in NBGRADER_SERVER_EXTENSIONS}
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": off}}, indent=1)
    )
    command = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={workspace}",
               *LEARNER_LAB_ARGS]  # fmt: skip
    return command, {"JUPYTER_CONFIG_DIR": str(config)}


def _tool(name: str) -> str:
    """A console script of this Python environment (the venv's ``jupyter-book``)."""
    script = Path(sys.executable).parent / name
    return str(script) if script.exists() else name


def install_web_assets(book_dir: Path = BOOK_DIR) -> Path:
    """``npm ci`` the scripts of ``book/package.json`` into ``book/node_modules`` when any is
    missing; returns that folder."""
    modules = book_dir / "node_modules"
    wanted = json.loads((book_dir / "package.json").read_text())["dependencies"]
    if not all((modules / name / "package.json").is_file() for name in wanted):
        npm = shutil.which("npm")
        if npm is None:
            raise FileNotFoundError(
                "The offline book and slides need npm (Node.js) once, to fetch MathJax, "
                "reveal.js, require.js and jQuery from the npm registry: install Node.js, then "
                "run this again."
            )
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=book_dir, check=True)
    return modules


def _copy_book_mathjax(book_dir: Path) -> None:
    """MathJax 3 into ``book/_vendor/mathjax`` (``mathjax_path`` in ``_config.yml``)."""
    source = install_web_assets(book_dir) / "mathjax3" / "es5"
    target = book_dir / "_vendor" / "mathjax"
    for part in BOOK_MATHJAX:
        if not (target / part).exists():
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            copy = shutil.copytree if (source / part).is_dir() else shutil.copyfile
            copy(source / part, target / part)


def book_output(edition: str = "student", book_dir: Path = BOOK_DIR) -> Path:
    """Where :func:`build_book` puts the edition's HTML."""
    _check_edition(edition)
    if edition == "student":
        return book_dir / "_build" / "html"
    return book_dir / "_build" / "instructor" / "_build" / "html"


def build_book(execute: bool = False, book_dir: Path = BOOK_DIR, edition: str = "student") -> Path:
    """Build the HTML book of ``edition`` from the committed lessons (``execute=True`` re-runs
    the copies first, with the quick profile on the CPU). Sphinx warnings fail the build.
    Returns the folder of ``index.html``."""
    copies = write_edition(book_dir / "lessons", edition)
    _copy_book_mathjax(book_dir)
    if execute:
        with reference_env():
            for copy in copies:
                print(f"executing {copy.name}", flush=True)
                execute_in_place(copy)
    html = book_output(edition, book_dir)
    command = [_tool("jupyter-book"), "build", str(book_dir), "--warningiserror", "--keep-going",
               "--path-output", str(html.parents[1])]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            "The book did not build (Sphinx treats warnings as errors here):\n"
            + (result.stdout + result.stderr)[-4000:]
        )
    return html


def slide_type(cell: nbformat.NotebookNode) -> str:
    """The default slide role of a cell: a heading starts a slide, other prose a sub-slide
    (below it), code appears as a fragment under its prose, the parameters cell is skipped."""
    if "parameters" in cell.metadata.get("tags", []):
        return "skip"
    if cell.cell_type == "markdown":
        return "slide" if cell.source.lstrip().startswith(("# ", "## ")) else "subslide"
    return "fragment"


def mark_slides(notebook: nbformat.NotebookNode) -> int:
    """Give every cell without ``slideshow`` metadata its :func:`slide_type`; returns how many
    cells were marked. Metadata an author set (e.g. in JupyterLab's property inspector) stays."""
    marked = 0
    for cell in notebook.cells:
        if "slide_type" not in cell.metadata.get("slideshow", {}):
            cell.metadata["slideshow"] = {"slide_type": slide_type(cell)}
            marked += 1
    return marked


def split_at_headings(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Every heading of a markdown cell starts a cell of its own (outside code fences), so that
    a heading in the middle of a cell still starts a slide: ``#`` and ``##`` a slide, deeper
    ones a sub-slide. The part before the first heading keeps the cell's metadata."""
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            cells.append(cell)
            continue
        parts, fenced = [[]], False
        for line in cell.source.splitlines():
            fenced ^= line.lstrip().startswith("```")
            if not fenced and HEADING.match(line) and any(x.strip() for x in parts[-1]):
                parts.append([])
            parts[-1].append(line)
        cell.source = "\n".join(parts[0]).strip("\n")
        cells.append(cell)
        for part in parts[1:]:
            heading = nbformat.v4.new_markdown_cell("\n".join(part).strip("\n"))
            level = len(HEADING.match(part[0]).group(1))
            heading.metadata["slideshow"] = {"slide_type": "slide" if level <= 2 else "subslide"}
            cells.append(heading)
    notebook.cells = cells
    return notebook


def slides_output(edition: str = "student", book_dir: Path = BOOK_DIR) -> Path:
    """Where :func:`build_slides` puts the edition's slides."""
    _check_edition(edition)
    return book_dir / "_build" / ("slides" if edition == "student" else "slides-instructor")


def build_slides(
    lessons: list[str] | None = None,
    out: Path | None = None,
    book_dir: Path = BOOK_DIR,
    edition: str = "student",
) -> list[Path]:
    """reveal.js slides of the lessons' ``edition`` that open offline, one slide per heading,
    driven by the right arrow alone; returns the ``.slides.html`` files."""
    from nbconvert import SlidesExporter

    out = out or slides_output(edition, book_dir)
    modules = install_web_assets(book_dir)
    vendor = out / "vendor"
    for package in SLIDE_PACKAGES:
        if not (vendor / package).is_dir():
            shutil.copytree(modules / package, vendor / package)
    exporter = SlidesExporter(
        template_file=str(book_dir / "slides" / "offline.html.j2"),
        reveal_theme="white",  # its fonts ship with reveal.js (other themes fetch Google's)
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        **VENDOR,
    )
    written = []
    for path in find_lessons(LESSONS_DIR, lessons):
        notebook = split_at_headings(edition_copy(nbformat.read(path, as_version=4), edition))
        mark_slides(notebook)
        html, _ = exporter.from_notebook_node(notebook)
        target = out / f"{path.stem}.slides.html"
        target.write_text(html)
        written.append(target)
    return written
