"""Marks a person gave the written answers, folded back into the grades of a class.

Grading leaves each written answer at 0, waiting for a person (:mod:`aecourse.teach.written`),
and lists them in ``written_answers.csv``. The instructor types a mark in its ``score``
column and imports the file (``python -m aecourse marks``). Every mark is checked first (a
student, lesson and question that were graded, a number from 0 to the question's points):
one bad row and nothing is written, and the error names every bad row. Then grades.csv,
grades.json, written_answers.csv, the feedback notes, a notice on each feedback page and
nbgrader's gradebook and export are written again from the same grades. A blank score leaves
its answer waiting. Nothing runs again: a mark changes the answer's points, nothing else.

Grading the class again keeps the marks of answers that did not change (:func:`keep_marks`).
"""

from __future__ import annotations

import csv
import html
import json
import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from aecourse.teach.gradebook import Grade, as_text, write_grades
from aecourse.teach.release import api
from aecourse.teach.written import MARKED, is_marked, pending

NOTICE = re.compile(r"<!-- aecourse-marks -->.*?<!-- /aecourse-marks -->\n?", re.S)


class MarksError(ValueError):
    """A marks file that cannot be imported as it is; the message names every bad row."""


@dataclass(frozen=True)
class Mark:
    """A person's mark of one written answer, as a row of ``written_answers.csv`` gives it."""

    student: str
    lesson: str
    question: str
    score: float
    answer: str  # the answer as the file shows it (to keep a mark only for the same answer)


def _written(grade: Grade, question: str) -> dict | None:
    """The row of ``grade`` for written question ``question``, if the student answered it."""
    return next(
        (e for e in grade.exercises if e.get("manual") and e["grade_id"] == question and
         e.get("answer")),
        None,
    )  # fmt: skip


def read_marks(path: Path, grades: list[Grade], strict: bool = True) -> list[Mark]:
    """The marks in ``path`` (``written_answers.csv`` with its ``score`` column filled in),
    each checked against ``grades``; rows with a blank score are left out. Raises
    :class:`MarksError` naming every bad row (``strict=False``: leaves them out)."""
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"No marks file at {path}: mark the answers in the written_answers.csv that "
            "grading wrote (its score column), then import that file."
        )
    with open(path, newline="", encoding="utf-8-sig") as f:  # a spreadsheet may add a BOM
        reader = csv.DictReader(f)
        missing = [c for c in ("student", "lesson", "question", "score") if c not in
                   (reader.fieldnames or [])]  # fmt: skip
        if missing:
            raise MarksError(
                f"{path} has no {', '.join(missing)} column: import the written_answers.csv "
                "that grading wrote, with its columns as they are."
            )
        rows = list(reader)
    graded = {(g.student, g.lesson): g for g in grades}
    marks, problems = [], []
    for number, row in enumerate(rows, 2):  # row 1 is the header
        text = (row.get("score") or "").strip()
        if not text:
            continue
        where = f"row {number} ({row.get('student')}, {row.get('question')})"
        grade = graded.get((row.get("student"), row.get("lesson")))
        exercise = _written(grade, row.get("question", "")) if grade else None
        if exercise is None:
            problems.append(f"{where}: no answer to that question was graded for that student")
            continue
        try:
            score = float(text)
        except ValueError:
            problems.append(f"{where}: the score {text!r} is not a number")
            continue
        top = exercise["max_points"]
        if not (math.isfinite(score) and 0 <= score <= top):
            problems.append(f"{where}: the score {text} is not between 0 and {top:g}")
            continue
        marks.append(Mark(row["student"], row["lesson"], row["question"], score,
                          row.get("answer", "")))  # fmt: skip
    if problems and strict:
        raise MarksError(
            f"{len(problems)} row{'s' if len(problems) > 1 else ''} of {path} cannot be "
            "imported, so nothing was changed:\n" + "\n".join(f"  {p}" for p in problems)
        )
    return marks


def apply_marks(grades: list[Grade], marks: list[Mark], same_answer: bool = False) -> int:
    """Give each marked answer its points in ``grades`` and recount each grade's score and
    what still waits. With ``same_answer``, a mark counts only where the answer is the one
    it was given for. Returns how many marks were applied."""
    graded = {(g.student, g.lesson): g for g in grades}
    applied = 0
    for mark in marks:
        grade = graded.get((mark.student, mark.lesson))
        exercise = _written(grade, mark.question) if grade else None
        if exercise is None or (same_answer and as_text(exercise["answer"]) != mark.answer):
            continue
        case = exercise["cases"][0]
        exercise["points"] = mark.score
        case["points"] = [mark.score, exercise["max_points"]]
        case["result"] = MARKED
        applied += 1
    for grade in grades:
        if grade.status == "graded" and grade.exercises:
            grade.score = round(sum(e["points"] for e in grade.exercises), 6)
            grade.pending = pending(grade.exercises)
    return applied


def read_grades(out: Path) -> list[Grade]:
    """The grades that grading wrote to ``out/grades.json``."""
    path = Path(out) / "grades.json"
    if not path.is_file():
        raise FileNotFoundError(f"No grades at {path}: grade the class first (autograde).")
    return [Grade(**row) for row in json.loads(path.read_text())]


def keep_marks(grades: list[Grade], out: Path) -> int:
    """Before a class's grades are written again: the marks of ``out/written_answers.csv``
    whose answers did not change go on to the new grades. Returns how many."""
    path = Path(out) / "written_answers.csv"
    if not path.is_file():
        return 0
    try:
        marks = read_marks(path, grades, strict=False)  # an answer gone takes its mark along
    except MarksError:  # not a marks file any more: nothing to keep
        return 0
    return apply_marks(grades, marks, same_answer=True)


def notice(grade: Grade, today: str) -> str:
    """The feedback page's notice of the marks a person gave (escaped: our own text)."""
    marked = [
        f"{html.escape(e['grade_id'])} {e['points']:g} of {e['max_points']:g}"
        for e in grade.exercises
        if is_marked(e)
    ]
    waiting = f" Still waiting: {html.escape(grade.pending)}." if grade.pending else ""
    return (
        f'<!-- aecourse-marks --><p class="aecourse-marks"><b>Written answers marked by a '
        f"person ({today}):</b> {'; '.join(marked)}. <b>Your score is now "
        f"{grade.score_text()} points.</b>{waiting} The table below is the automatic "
        "grading, from before the marks.</p><!-- /aecourse-marks -->\n"
    )


def _mark_page(page: Path, grade: Grade, today: str) -> None:
    """Put (or replace) the notice before the page's first heading, the grader's own."""
    text = NOTICE.sub("", page.read_text())
    at = text.find("<h1")
    if at >= 0:
        page.write_text(text[:at] + notice(grade, today) + text[at:])


def mark_pages(grades: list[Grade], out: Path) -> None:
    """A notice of the marks on the feedback page of each grade that has some."""
    today = date.today().isoformat()
    for grade in grades:
        page = Path(out) / "feedback" / grade.student / f"{Path(grade.lesson).stem}.html"
        if page.is_file() and any(map(is_marked, grade.exercises)):
            _mark_page(page, grade, today)


def import_marks(path: Path, out: Path, course: Path | None = None) -> list[Grade]:
    """Import the marks in ``path`` into the grades in ``out`` (see the module's docstring);
    with ``course`` (an nbgrader course that has a gradebook), its gradebook too. Returns the
    grades."""
    grades = read_grades(out)
    apply_marks(grades, read_marks(path, grades))
    has_gradebook = course is not None and (Path(course) / "gradebook.db").is_file()
    write_grades(grades, {}, Path(out), api(course) if has_gradebook else None)
    mark_pages(grades, out)
    return grades
