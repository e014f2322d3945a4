"""How long grading takes: generated submissions of each lesson, graded as a class is.

Goal (issue 20): the median notebook of any lesson graded in at most 10 s of one core, so
that 100 students x 5 lessons are graded in at most 45 minutes on 2 cores.

For each lesson (default: every lesson) it generates a class of ``--students`` (default 9),
in turns ``solved`` (the lesson's own answers typed in, as ``make lab``'s copy would hold
them), ``released`` (the release as it came) and ``half`` (every other exercise answered).
It grades them twice:

* one notebook at a time (``--workers 1``): each notebook's wall time is one core's time
  (every notebook computes on one thread), and the median per lesson is the goal's figure;
* the whole class at once with one worker per core: the class's wall time, from which the
  time for 100 students x 5 lessons on this machine follows.

    .venv/bin/python benchmarks/grading.py [--lessons 01 ...] [--out benchmarks/results]

Needs bubblewrap (``make system``), as grading does. Writes ``grading-<machine>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_round_trip import answer_in, typed_answer  # noqa: E402  (what a learner types)

from aecourse.teach import grading  # noqa: E402
from aecourse.teach.editions import student_workspace  # noqa: E402
from aecourse.teach.lessons import LESSONS_DIR, find_lessons  # noqa: E402
from aecourse.teach.markup import exercises  # noqa: E402
from aecourse.teach.release import release  # noqa: E402


def make_class(root: Path, lessons: list[str] | None, students: int) -> tuple[Path, Path]:
    """Release ``lessons`` into ``root/classroom`` and write the generated submissions."""
    course = root / "classroom"
    released = {p.stem: p for p in release(lessons, course=course)}
    copies = {p.stem: p for p in student_workspace(root / "work")}
    subs = root / "submissions"
    for path in find_lessons(LESSONS_DIR, lessons):
        answers = {e.names[0]: typed_answer(e.solution)
                   for e in exercises(nbformat.read(path, as_version=4))}  # fmt: skip
        half = dict(list(answers.items())[::2])
        kinds = {
            "solved": answer_in(copies[path.stem], answers),
            "released": nbformat.read(released[path.stem], as_version=4),
            "half": answer_in(copies[path.stem], half),
        }
        for number in range(students):
            kind = list(kinds)[number % len(kinds)]
            (subs / f"{kind}{number:02d}").mkdir(parents=True, exist_ok=True)
            nbformat.write(kinds[kind], subs / f"{kind}{number:02d}" / path.name)
    return course, subs


def timed_grading(course: Path, subs: Path, out: Path, workers: int) -> tuple[float, dict]:
    """Grade ``subs`` with ``workers``; the wall time and each notebook's own seconds."""
    seconds: dict[tuple[str, str], float] = {}
    real = grading.grade_submission

    def grade_submission(sandbox, scratch, student, lesson, *args, **kwargs):
        start = time.perf_counter()
        try:
            return real(sandbox, scratch, student, lesson, *args, **kwargs)
        finally:
            seconds[student, lesson] = time.perf_counter() - start

    grading.grade_submission = grade_submission
    try:
        start = time.perf_counter()
        grades = grading.autograde(subs, course=course, out=out, workers=workers)
        wall = time.perf_counter() - start
    finally:
        grading.grade_submission = real
    failed = [f"{g.student} {g.lesson}: {g.status} ({g.problems[:200]})" for g in grades
              if g.status != "graded"]  # fmt: skip
    if failed:  # a notebook that was not graded is an error, not a timing
        raise SystemExit("Not every notebook was graded:\n" + "\n".join(failed))
    scores = {f"{g.student} {g.lesson}": g.score_text() for g in grades}
    return wall, {"seconds": seconds, "scores": scores}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", nargs="+", metavar="NN")
    parser.add_argument("--students", type=int, default=9, help="class size per lesson")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="aecourse-bench-grading-") as tmp:
        course, subs = make_class(Path(tmp), args.lessons, args.students)
        _, alone = timed_grading(course, subs, Path(tmp) / "alone", workers=1)
        class_wall, together = timed_grading(course, subs, Path(tmp) / "class", workers=cores)
    per_lesson: dict[str, list[float]] = {}
    for (_, lesson), s in alone["seconds"].items():
        per_lesson.setdefault(lesson, []).append(s)
    medians = {lesson: round(statistics.median(v), 1) for lesson, v in sorted(per_lesson.items())}
    notebooks = len(together["seconds"])
    per_notebook = class_wall / notebooks
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {cores} cores",
        "date": time.strftime("%Y-%m-%d"),
        "median_seconds_one_core": medians,
        "all_seconds_one_core": {
            f"{s} {lesson}": round(v, 1) for (s, lesson), v in alone["seconds"].items()
        },  # fmt: skip
        "class_wall_seconds": round(class_wall, 1),
        "class_notebooks": notebooks,
        "workers": cores,
        "minutes_for_100_students_x_5_lessons": round(per_notebook * 500 / 60, 1),
        "scores": together["scores"],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"grading-{cores}core.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    for lesson, median in medians.items():
        print(f"{lesson}: median {median:.1f} s of one core per notebook (goal: at most 10 s)")
    print(f"a class of {notebooks} notebooks on {cores} cores: {class_wall:.0f} s; "
          f"100 students x 5 lessons: about {result['minutes_for_100_students_x_5_lessons']:.0f} "
          f"minutes (goal: at most 45)\n{path}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
