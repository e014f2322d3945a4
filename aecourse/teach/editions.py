"""The two editions of a lesson: what a student reads, and what an instructor reads.

* The **student edition** (the default) is every lesson as a student gets its exercise from
  ``make release``: solution code replaced by nbgrader's stub, hidden tests cut, the graded
  cells' outputs cleared (they print what the hidden tests found), and so are those of the
  cells that report on the steps (:func:`reports_on_steps`), no nbgrader metadata. The
  rest of each lesson keeps its committed outputs, so it reads like the lecture it is.
* The **instructor edition** keeps the solutions and hidden tests with their markers, in cells
  the book shows collapsed, under a note that says which edition this is; the model answers
  to the written questions sit behind a "Check your answer" fold. (The student edition has
  nbgrader's "YOUR ANSWER HERE" in their place.)

The book (:mod:`~aecourse.teach.book`), the slides (:mod:`~aecourse.teach.slides`) and a
learner's working copy (:func:`student_workspace`, for ``make lab``) are made from these
copies. A student edition is graded like a released notebook: by what its cells define.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from aecourse.teach import EDITIONS
from aecourse.teach.lessons import LESSONS_DIR, find_lessons, without_widget_views
from aecourse.teach.markup import regions, student_source, without_nbval_marks

STEP_REPORT = re.compile(r"\b(check_step|show_steps)\(")
INSTRUCTOR_NOTE = (
    "> **Instructor edition**: the exercise's solution and hidden tests are in the "
    "collapsed cells (between nbgrader's markers). Students get the student edition: "
    "`make book`, `make slides`, `make lab` or `make release`."
)


def check_edition(edition: str) -> None:
    if edition not in EDITIONS:
        raise ValueError(f"Unknown edition {edition!r}: choose one of {', '.join(EDITIONS)}.")


def edition_copy(
    notebook: nbformat.NotebookNode, edition: str = "student"
) -> nbformat.NotebookNode:
    """The lesson as the ``edition``'s reader sees it (see the module's docstring)."""
    check_edition(edition)
    notebook = nbformat.from_dict(notebook)  # a deep copy
    for cell in notebook.cells:
        exercise = cell.metadata.get("nbgrader", {})
        exercise = exercise.get("solution") or exercise.get("grade")
        if edition == "student":
            cell.source = student_source(cell.source, markdown=cell.cell_type == "markdown")
            cell.metadata.pop("nbgrader", None)
            if cell.cell_type == "code" and (exercise or reports_on_steps(cell.source)):
                cell.outputs, cell.execution_count = [], None
        elif cell.cell_type == "markdown" and exercise:  # a written answer: folded in the book
            cell.source = check_your_answer(cell.source)
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


def check_your_answer(source: str) -> str:
    """A written answer's model answer, as the instructor edition shows it: behind a "Check
    your answer" fold (a MyST dropdown in the book), for self-study readers to open after
    writing their own."""
    answer = "\n".join(line for kind, line in regions(source) if kind == "solution")
    return f"````{{admonition}} Check your answer\n:class: dropdown\n\n{answer}\n````"


def reports_on_steps(source: str) -> bool:
    """Whether a cell reports on the learner's steps (``check_step``, ``show_steps``): its
    committed output is the solved lesson's ("14 of 14 points"), which an untouched copy must
    not show before its learner has written anything."""
    return bool(STEP_REPORT.search(source))


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
    check_edition(edition)
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
