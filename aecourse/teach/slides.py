"""reveal.js slides of the lessons that open offline, in either edition.

Each lesson's edition copy is split so that every heading starts a slide, each cell gets a
default slide role (:func:`slide_type`), and nbconvert's reveal.js exporter writes it next to
a ``vendor/`` copy of reveal.js, require.js, jQuery, MathJax and Font Awesome from npm.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

from aecourse.teach.book import BOOK_DIR, install_web_assets
from aecourse.teach.editions import check_edition, edition_copy
from aecourse.teach.lessons import LESSONS_DIR, find_lessons

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
HEADING = re.compile(r"^(#{1,6}) \S")


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


FOLD = re.compile(r"^````\{admonition\} (?P<title>.+)\n:class: dropdown\n\n(?P<body>.*?)\n````$",
                  re.M | re.S)  # fmt: skip


def html_folds(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The book's folds (MyST dropdowns, e.g. a written question's "Check your answer"), which
    nbconvert would show as raw directive text, as HTML's own fold (``<details>``): closed on
    the slide until the presenter opens it."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = FOLD.sub(
                lambda m: f"<details><summary>{m['title']}</summary>\n\n{m['body']}\n\n</details>",
                cell.source,
            )
    return notebook


def slides_output(edition: str = "student", book_dir: Path = BOOK_DIR) -> Path:
    """Where :func:`build_slides` puts the edition's slides."""
    check_edition(edition)
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
        copy = edition_copy(nbformat.read(path, as_version=4), edition)
        notebook = split_at_headings(html_folds(copy))
        mark_slides(notebook)
        html, _ = exporter.from_notebook_node(notebook)
        target = out / f"{path.stem}.slides.html"
        target.write_text(html)
        written.append(target)
    return written
