"""The Jupyter Book website of the lessons, built offline, in either edition.

:func:`build_book` writes the edition's copies to ``book/lessons/`` and runs Jupyter Book 1.x
(Sphinx) on ``book/``, with MathJax 3 served from the build itself. The web scripts come from
npm once (``book/package.json``, :func:`install_web_assets`); the slides and the feedback
pages use the same copies. Nothing is re-executed unless asked.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from aecourse.teach.editions import check_edition, write_edition
from aecourse.teach.lessons import execute_in_place, reference_env

BOOK_DIR = Path(__file__).resolve().parents[2] / "book"
# The parts of MathJax 3 (npm alias mathjax3) that the book's pages load, lazily included.
BOOK_MATHJAX = ("tex-mml-chtml.js", "input", "output/chtml", "ui", "a11y", "sre")


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
    check_edition(edition)
    if edition == "student":
        return book_dir / "_build" / "html"
    return book_dir / "_build" / "instructor" / "_build" / "html"


STEPS_PAGE = "graded-steps.md"  # written by each build from aecourse.steps: never stale


def written_rows() -> list[str]:
    """A table row per written question of every lesson: its id, lesson, kind and points."""
    from aecourse.teach.lessons import LESSONS_DIR, find_lessons
    from aecourse.teach.markup import questions

    rows = []
    for path in find_lessons(LESSONS_DIR, None):
        for q in questions(nbformat.read(path, as_version=4)):
            kind = q.prompt.split("**")[1] if q.prompt.count("**") >= 2 else ""
            rows.append(f"| `{q.grade_id}` | {path.stem[:2]} | {kind} | {q.points:g} |")
    return rows


def steps_page() -> str:
    """The book's page for instructors: every graded build step of every lesson, its points and
    cases, and how to set an assignment from some of them."""
    from aecourse.steps import LESSON_MODULES, lesson_steps

    lines = [
        "# Graded steps",
        "",
        "Each lesson's graded exercises are the steps that build its model, its training or its",
        "evaluation. A step's points are split evenly over its cases: the visible ones run in",
        "the lesson (the learner sees them pass or fail, with a hint), the hidden ones only at",
        "grading, on other inputs. A step is found by the name the learner's cell defines,",
        "wherever that cell is in the notebook.",
        "",
    ]
    total = 0.0
    for lesson in LESSON_MODULES:
        steps = lesson_steps(lesson)
        points = sum(s.points for s in steps)
        total += points
        lines += [f"## Lesson {lesson}: {len(steps)} steps, {points:g} points", "",
                  "| step | the learner writes | what it is | points | cases (visible + hidden) |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for s in steps:
            shown = len(s.visible())
            lines.append(f"| `{s.id}` | `{s.name}` | {s.title} | {s.points:g} | "
                         f"{shown} + {len(s.cases) - shown} |")  # fmt: skip
        lines.append("")
    lines += [
        f"In all: {total:g} points in steps. An exercise of your own in nbgrader's markup (a",
        "solution region and hidden tests) is graded beside them, as the instructors' page says.",
        "",
        "## Written questions",
        "",
        "Each lesson also asks questions that a person marks (nbgrader's manually graded",
        "answers); grading scores them 0 and lists them in `grades.csv`'s `pending` column",
        "until you have marked them, in nbgrader's formgrader or in `written_answers.csv`",
        "(`python -m aecourse marks written_answers.csv`):",
        "",
        "| question | lesson | asks | points |",
        "|---|---|---|---|",
        *written_rows(),
        "",
        "## An assignment from some of the steps",
        "",
        "`make release` releases every lesson with all its steps. To grade only some steps,",
        "name them; each other step of those lessons is then shown solved in the learner's",
        "notebook (its check still runs, for no points), and only the lessons that have one",
        "of the steps are released:",
        "",
        "```",
        'make release ARGS="--steps linear_encoder linear_decoder train_epoch"',
        'make release ARGS="--lessons 01"        # one whole lesson',
        "```",
        "",
        "Grading (`make autograde`) reads what was released, so it grades the same subset.",
    ]
    return "\n".join(lines) + "\n"


def build_book(execute: bool = False, book_dir: Path = BOOK_DIR, edition: str = "student") -> Path:
    """Build the HTML book of ``edition`` from the committed lessons (``execute=True`` re-runs
    the copies first, with the quick profile on the CPU). Sphinx warnings fail the build.
    Returns the folder of ``index.html``."""
    copies = write_edition(book_dir / "lessons", edition)
    (book_dir / STEPS_PAGE).write_text(steps_page())
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
