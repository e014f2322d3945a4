"""Publish the lessons: a Jupyter Book website and reveal.js slides, both built offline.

Both start from *reader copies* of the committed, executed lessons: the hidden tests of the
graded exercises are cut out (they are for grading, not for reading) and the marker lines of
nbgrader and nbval are dropped. Nothing is re-executed unless asked.

* :func:`build_book` writes the copies to ``book/lessons/`` and runs Jupyter Book 1.x (Sphinx)
  on ``book/``; the HTML lands in ``book/_build/html/``. Its table of contents takes every
  lesson by a glob, so a new lesson is a new chapter with no edit.
* :func:`build_slides` exports each copy with nbconvert's reveal.js exporter into
  ``book/_build/slides/``, next to a ``vendor/`` copy of reveal.js, require.js, jQuery,
  MathJax and Font Awesome from npm (``book/package.json``), so the slides open with no
  network. Cells without slide metadata get it from :func:`slide_type`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from aecourse.assignments import HIDDEN_TESTS, SOLUTION
from aecourse.running import LESSONS_DIR, execute_in_place, find_lessons, reference_env

BOOK_DIR = Path(__file__).resolve().parents[1] / "book"
READER_DROPS = (*SOLUTION, "# NBVAL_CHECK_OUTPUT")  # marker lines a reader need not see
# Where nbconvert's slides find their scripts, relative to the slides; the npm packages
# (pinned in book/package.json) are copied to vendor/ beside them.
VENDOR = {
    "reveal_url_prefix": "vendor/reveal.js",
    "require_js_url": "vendor/requirejs/require.js",
    "jquery_url": "vendor/jquery/dist/jquery.min.js",
    "mathjax_url": "vendor/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
    "font_awesome_url": "vendor/font-awesome/css/font-awesome.min.css",
}


def reader_copy(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The lesson as a reader sees it: no hidden tests, no grading or nbval marker lines."""
    notebook = nbformat.from_dict(notebook)  # a deep copy
    for cell in notebook.cells:
        kept, hidden = [], False
        for line in cell.source.splitlines():
            stripped = line.strip()
            if stripped == HIDDEN_TESTS[0]:
                hidden = True
            elif stripped == HIDDEN_TESTS[1]:
                hidden = False
            elif not hidden and stripped not in READER_DROPS:
                kept.append(line)
        cell.source = "\n".join(kept).strip("\n")
        if cell.cell_type == "code":
            cell.outputs = _join_streams(cell.outputs)
    return notebook


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


def write_reader_copies(dest: Path, lessons: list[str] | None = None) -> list[Path]:
    """Reader copies of the lessons in ``dest`` (emptied of old copies first)."""
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.ipynb"):
        old.unlink()
    copies = []
    for path in find_lessons(LESSONS_DIR, lessons):
        copy = dest / path.name
        nbformat.write(reader_copy(nbformat.read(path, as_version=4)), copy)
        copies.append(copy)
    return copies


def _tool(name: str) -> str:
    """A console script of this Python environment (the venv's ``jupyter-book``)."""
    script = Path(sys.executable).parent / name
    return str(script) if script.exists() else name


def build_book(execute: bool = False, book_dir: Path = BOOK_DIR) -> Path:
    """Build the HTML book from the committed lessons (``execute=True`` re-runs the copies
    first, with the quick profile on the CPU). Sphinx warnings fail the build. Returns the
    folder of ``index.html``."""
    copies = write_reader_copies(book_dir / "lessons")
    if execute:
        with reference_env():
            for copy in copies:
                print(f"executing {copy.name}", flush=True)
                execute_in_place(copy)
    command = [_tool("jupyter-book"), "build", str(book_dir), "--warningiserror", "--keep-going"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            "The book did not build (Sphinx treats warnings as errors here):\n"
            + (result.stdout + result.stderr)[-4000:]
        )
    return book_dir / "_build" / "html"


def install_slide_assets(book_dir: Path = BOOK_DIR) -> Path:
    """``npm ci`` the slide scripts of ``book/package.json`` into ``book/node_modules``
    (once); returns that folder."""
    modules = book_dir / "node_modules"
    if not (modules / "reveal.js").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            raise FileNotFoundError(
                "Offline slides need npm (Node.js) once, to fetch reveal.js, require.js, jQuery "
                "and MathJax from the npm registry: install Node.js, then run this again."
            )
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=book_dir, check=True)
    return modules


def build_slides(
    lessons: list[str] | None = None, out: Path | None = None, book_dir: Path = BOOK_DIR
) -> list[Path]:
    """reveal.js slides of the lessons that open offline; returns the ``.slides.html`` files."""
    from nbconvert import SlidesExporter

    out = out or book_dir / "_build" / "slides"
    modules = install_slide_assets(book_dir)
    vendor = out / "vendor"
    for package in ("reveal.js", "requirejs", "jquery", "mathjax", "font-awesome"):
        if not (vendor / package).is_dir():
            shutil.copytree(modules / package, vendor / package)
    exporter = SlidesExporter(
        template_file=str(book_dir / "slides" / "offline.html.j2"),
        reveal_theme="white",  # its fonts ship with reveal.js (other themes fetch Google's)
        reveal_scroll=True,
        **VENDOR,
    )
    written = []
    for path in find_lessons(LESSONS_DIR, lessons):
        notebook = reader_copy(nbformat.read(path, as_version=4))
        mark_slides(notebook)
        html, _ = exporter.from_notebook_node(notebook)
        target = out / f"{path.stem}.slides.html"
        target.write_text(html)
        written.append(target)
    return written
