"""Command line of the course: run it, and the instructor's verbs (each loads only its tool).

python -m aecourse run [--profile quick|full] [--lessons 01 03 ...] [--out DIR]
                      [--data-source sample|full|auto] [--photo-source shipped|DIR ...]
python -m aecourse refresh [--lessons 01 ...]   # maintainers: rewrite committed outputs
python -m aecourse release [--lessons 01 ...] [--steps STEP ...] [--course classroom]
python -m aecourse autograde SUBMISSIONS [--course classroom] [--out DIR] [--timeout S]
                                          [--workers N] [--without-isolation]
python -m aecourse lab [--workspace work]    # JupyterLab on the learner's own copies
python -m aecourse check NOTEBOOK            # the learner: which graded steps pass so far
python -m aecourse book [--execute] [--edition student|instructor]   # Jupyter Book HTML
python -m aecourse slides [--lessons 01 ...] [--edition student|instructor]   # reveal.js
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from aecourse.profiles import DATA_SOURCES, PHOTO_SOURCES, PROFILES
from aecourse.teach import CELL_TIMEOUT, COURSE_DIR, EDITIONS, NOTEBOOK_TIMEOUT, WORKERS


def _run(args: argparse.Namespace) -> int:
    from aecourse.teach.runner import format_table, run_course

    runs, run_dir = run_course(
        profile=args.profile,
        lessons=args.lessons,
        out=args.out,
        data_source=args.data_source,
        photo_source=args.photo_source,
        progress=not args.no_progress,
    )
    print()
    print(format_table(runs))
    print(f"\nNotebooks and summary.json in {run_dir}")
    failed = [r.lesson for r in runs if r.status != "ok"]
    if failed:
        print(f"FAILED lessons: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _refresh(args: argparse.Namespace) -> int:
    """Execute lessons in place with the reference settings (what nbval compares against).

    A lesson that fails is reported and left as it was on disk; the others still run.
    """
    from nbclient.exceptions import CellExecutionError

    from aecourse.teach.lessons import LESSONS_DIR, execute_in_place, find_lessons, reference_env

    failed = []
    for path in find_lessons(LESSONS_DIR, args.lessons):
        start = time.perf_counter()
        try:
            with reference_env():
                execute_in_place(path, args.timeout)
        except CellExecutionError as err:
            failed.append(path.name)
            print(f"{path.name}: FAILED, left unchanged: {err.ename}: {err.evalue}",
                  file=sys.stderr)  # fmt: skip
            continue
        print(f"{path.name}: executed in {time.perf_counter() - start:.0f} s")
    return 1 if failed else 0


def _release(args: argparse.Namespace) -> int:
    from aecourse.teach.release import release

    for path in release(args.lessons, course=args.course, steps=args.steps):
        print(f"released {path}")
    print("Hand these notebooks out; collect them as SUBMISSIONS/<student_id>/<notebook>.")
    return 0


def _autograde(args: argparse.Namespace) -> int:
    from aecourse.teach.grading import autograde

    out = args.out or args.course / "grades"
    grades = autograde(args.submissions, course=args.course, out=out, timeout=args.timeout,
                       workers=args.workers, allow_unisolated=args.without_isolation,
                       notebook_timeout=args.notebook_timeout)  # fmt: skip
    width = max(len(g.lesson) for g in grades)
    print()
    for g in grades:
        problems = f"  {g.problems[:100]}" if g.problems else ""
        print(f"{g.student:<16}{g.lesson:<{width + 2}}{g.score_text():>15}  "
              f"{g.status}{problems}")  # fmt: skip
    flagged = [g for g in grades if g.review]
    if flagged:
        print("\nTo review (solution code that reaches outside its exercise):")
        for g in flagged:
            print(f"  {g.student} {g.lesson}: {g.review[:200]}")
    print(f"\ngrades.csv, grades.json and feedback/<student>/ in {out}")
    return 0


def _marks(args: argparse.Namespace) -> int:
    from aecourse.teach.marks import import_marks

    out = args.out or args.course / "grades"
    grades = import_marks(args.marks, out, course=args.course)
    waiting = [g for g in grades if g.pending]
    print(f"Marks imported into grades.csv, grades.json, the feedback and the gradebook in {out}.")
    for g in waiting:
        print(f"  {g.student} {g.lesson}: {g.pending}")
    return 0


def _lab(args: argparse.Namespace) -> int:
    import os
    import subprocess

    from aecourse.teach.editions import student_workspace
    from aecourse.teach.lab import learner_lab_command

    added = student_workspace(args.workspace)
    print(
        f"Your copies of the lessons are in {args.workspace}/ ({len(added)} new). They are "
        "yours: updating the course never overwrites them (delete one to get it afresh)."
    )
    command, env, notes = learner_lab_command(args.workspace)
    for note in notes:
        print(note)
    try:
        return subprocess.run([*command, *args.lab_args], env={**os.environ, **env}).returncode
    except KeyboardInterrupt:
        return 0


def _check(args: argparse.Namespace) -> int:
    from aecourse.steps.notebook import check_notebook

    _, rows = check_notebook(args.notebook)
    return 0 if all(r["status"] == "passes" for r in rows) else 1


def _book(args: argparse.Namespace) -> int:
    from aecourse.teach.book import build_book

    start = time.perf_counter()
    html = build_book(execute=args.execute, edition=args.edition)
    print(f"{args.edition.capitalize()} edition built in {time.perf_counter() - start:.0f} s: "
          f"open {html / 'index.html'}")  # fmt: skip
    return 0


def _slides(args: argparse.Namespace) -> int:
    from aecourse.teach.slides import build_slides

    for path in build_slides(args.lessons, edition=args.edition):
        print(f"slides ({args.edition} edition): {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aecourse", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run lessons with papermill; write summary.json")
    run.add_argument("--profile", choices=PROFILES, help="default: AECOURSE_PROFILE, else auto")
    run.add_argument("--data-source", choices=DATA_SOURCES, help="MNIST lessons' data")
    run.add_argument(
        "--photo-source", metavar="SOURCE",
        help=f"colorization lessons' photos: {', '.join(PHOTO_SOURCES)} or a folder",
    )  # fmt: skip
    run.add_argument("--lessons", nargs="+", metavar="NN", help="e.g. --lessons 01 03")
    run.add_argument("--out", type=Path, help="run folder (default runs/<timestamp>)")
    run.add_argument("--no-progress", action="store_true", help="no papermill progress bar")
    run.set_defaults(func=_run)

    refresh = sub.add_parser("refresh", help="re-execute lessons in place (quick, cpu)")
    refresh.add_argument("--lessons", nargs="+", metavar="NN")
    refresh.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    refresh.set_defaults(func=_refresh)

    course = dict(type=Path, default=Path(COURSE_DIR), help="nbgrader course folder")
    rel = sub.add_parser("release", help="student versions of the lessons (nbgrader)")
    rel.add_argument("--lessons", nargs="+", metavar="NN")
    rel.add_argument("--course", **course)
    rel.add_argument("--steps", nargs="+", metavar="STEP",
                     help="grade only these build steps (the others are shown solved)")  # fmt: skip
    rel.set_defaults(func=_release)

    grade = sub.add_parser("autograde", help="grade SUBMISSIONS/<student>/*.ipynb (nbgrader)")
    grade.add_argument("submissions", type=Path)
    grade.add_argument("--course", **course)
    grade.add_argument("--out", type=Path, help="grades.csv and feedback (default COURSE/grades)")
    grade.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell")
    grade.add_argument("--notebook-timeout", type=int, default=NOTEBOOK_TIMEOUT,
                       help="seconds for a whole notebook")  # fmt: skip
    workers = f"students graded at a time (default {WORKERS}: one per CPU core)"
    grade.add_argument("--workers", type=int, default=WORKERS, help=workers)
    grade.add_argument(
        "--without-isolation", action="store_true",
        help="grade even where bubblewrap cannot isolate the notebooks: they can then read, "
        "change or delete every file you can, and use the network",
    )  # fmt: skip
    grade.set_defaults(func=_autograde)

    marks = sub.add_parser("marks", help="import the marks of written answers (a CSV)")
    marks.add_argument("marks", type=Path, help="written_answers.csv with its score column filled")
    marks.add_argument("--course", **course)
    marks.add_argument("--out", type=Path, help="where grading wrote (default COURSE/grades)")
    marks.set_defaults(func=_marks)

    lab = sub.add_parser("lab", help="JupyterLab on your own copies of the lessons (work/)")
    lab.add_argument("--workspace", type=Path, default=Path("work"), help="default: work")
    lab.add_argument("lab_args", nargs="*", help="passed on to jupyter lab (after --)")
    lab.set_defaults(func=_lab)

    check = sub.add_parser("check", help="your notebook's graded steps: visible checks, points")
    check.add_argument("notebook", type=Path, help="e.g. work/01_linear_autoencoder.ipynb")
    check.set_defaults(func=_check)

    editions = "student (default): exercises without solutions; instructor: with them"
    edition = dict(choices=EDITIONS, default="student", help=editions)
    book = sub.add_parser("book", help="build the Jupyter Book (HTML) from the lessons")
    book.add_argument("--execute", action="store_true", help="re-run the lessons first")
    book.add_argument("--edition", **edition)
    book.set_defaults(func=_book)

    slides = sub.add_parser("slides", help="reveal.js slides of the lessons, usable offline")
    slides.add_argument("--lessons", nargs="+", metavar="NN")
    slides.add_argument("--edition", **edition)
    slides.set_defaults(func=_slides)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, RuntimeError) as err:  # incl. MarkupError
        print(f"aecourse: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
