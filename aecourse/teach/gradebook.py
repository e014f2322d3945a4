"""What a grade is, and where the grades of a class are written: all at once, from one list.

When every notebook is graded, :func:`write_grades` writes ``grades.csv`` (one row per
student and lesson), ``grades.json`` (the same, with every part of every exercise), the
scores in nbgrader's ``gradebook.db`` and its export ``nbgrader_grades.csv``, and per
student the feedback pages and a note of what to do. A lesson a student did not hand in is
"not submitted" in every one of them, never a 0 that reads like a wrong answer.
"""

from __future__ import annotations

import csv
import json
import sys
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from aecourse.teach.written import is_marked

NOT_SUBMITTED = "not submitted"
STATUSES = ("graded", "not a notebook", NOT_SUBMITTED, "not a lesson", "failed")
WHAT_TO_DO = {
    "not a notebook": "Open it in JupyterLab, save it, and send the .ipynb file again.",
    "not a lesson": "Name the file after its lesson, e.g. 01_linear_autoencoder.ipynb.",
    NOT_SUBMITTED: "Send this lesson's notebook.",
    "failed": "Nothing: your instructor will grade it again.",
}
COLUMNS = ["student", "lesson", "score", "max_score", "pending", "status", "problems", "review"]
ANSWER_COLUMNS = ["student", "lesson", "question", "points", "answer", "score"]
NBGRADER_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name",
                    "first_name", "email", "raw_score", "late_submission_penalty", "score",
                    "max_score"]  # fmt: skip


@dataclass
class Grade:
    """One row of ``grades.csv``: a student's result on one lesson, and what to look at."""

    student: str
    lesson: str
    score: float | None  # None: not submitted
    max_score: float
    status: str  # one of STATUSES
    problems: str = ""  # for the student: what went wrong, exercise by exercise
    review: str = ""  # for the instructor: solution code that could tamper with its check
    exercises: list[dict] = field(default_factory=list)  # each exercise and its parts
    pending: str = ""  # what waits for a person: written answers not marked yet

    def score_text(self) -> str:
        """The score as a person reads it: "1.5 of 2" or "not submitted"."""
        if self.score is None:
            return NOT_SUBMITTED
        return f"{self.score:g} of {self.max_score:g}"


def not_submitted(student: str, lesson: str, max_score: float) -> Grade:
    return Grade(student, lesson, None, max_score, NOT_SUBMITTED, "no notebook handed in")


def as_text(value: str) -> str:
    """A student's text for a spreadsheet cell: one that starts like a formula (``=``, ``+``,
    ``-``, ``@``, a tab) gets a leading apostrophe, so a spreadsheet shows it, never runs it."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def write_grades(grades: list[Grade], pages: dict, out: Path, nbgrader=None) -> None:
    """Everything written, once, from the same list of grades: ``out/grades.csv``,
    ``grades.json``, ``feedback/<student>/<lesson>.html`` (``pages``) and ``.txt``, and with
    nbgrader's API (``nbgrader``) its gradebook and ``nbgrader_grades.csv``."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "grades.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for grade in grades:
            row = asdict(grade)
            row["score"] = "" if grade.score is None else grade.score
            writer.writerow(row)
    (out / "grades.json").write_text(json.dumps([asdict(g) for g in grades], indent=1) + "\n")
    with open(out / "written_answers.csv", "w", newline="") as f:  # to mark from an export
        writer = csv.DictWriter(f, fieldnames=ANSWER_COLUMNS)
        writer.writeheader()
        for grade in grades:
            for row in grade.exercises:
                if row.get("manual") and row.get("answer"):
                    marked = is_marked(row)
                    writer.writerow({"student": grade.student, "lesson": grade.lesson,
                                     "question": row["grade_id"], "points": row["max_points"],
                                     "answer": as_text(row["answer"]),
                                     "score": f"{row['points']:g}" if marked else ""})  # fmt: skip
    if nbgrader is not None:
        write_gradebook(nbgrader, grades)
        export_gradebook(nbgrader, grades, out / "nbgrader_grades.csv")
    for grade in grades:
        folder = out / "feedback" / grade.student
        folder.mkdir(parents=True, exist_ok=True)
        stem = Path(grade.lesson).stem
        page = pages.get((grade.student, grade.lesson))
        if page is not None:
            (folder / f"{stem}.html").write_text(page)
        if grade.problems or grade.status != "graded":
            what_to_do = WHAT_TO_DO.get(
                grade.status, "See each problem above, fix it, and run the notebook again."
            )
            score = "" if grade.score is None else f", {grade.score_text()} points"
            (folder / f"{stem}.txt").write_text(
                f"{grade.lesson}: {grade.status}{score}\n"
                + "".join(f"- {p}\n" for p in grade.problems.split("; ") if p)
                + what_to_do
                + "\n"
            )


def write_gradebook(nbgrader, grades: list[Grade]) -> None:
    """nbgrader's gradebook gets the same scores (for its other commands); a lesson not
    handed in, or not gradable, has no submission there."""
    from nbgrader.api import Gradebook, MissingEntry

    with warnings.catch_warnings():  # nbgrader's own SQLAlchemy warnings
        warnings.simplefilter("ignore")
        with Gradebook(nbgrader.coursedir.db_url, nbgrader.coursedir.course_id) as gradebook:
            for grade in grades:
                if grade.status == "not a lesson":
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
                        marked = is_marked(exercise)
                        if exercise.get("manual") and exercise.get("answer") and not marked:
                            continue  # left to nbgrader's formgrader: it needs a person
                        cell = gradebook.find_grade(exercise["grade_id"], grade.lesson,
                                                    grade.lesson, grade.student)  # fmt: skip
                        if marked:  # a person's mark (aecourse.teach.marks)
                            cell.manual_score = exercise["points"]
                        else:
                            cell.auto_score = exercise["points"]
                    gradebook.db.commit()
                except MissingEntry as err:  # a lesson changed since its release
                    gradebook.db.rollback()
                    print(f"gradebook: {grade.student} {grade.lesson} not recorded ({err}); "
                          "release the lesson again", file=sys.stderr)  # fmt: skip


def export_gradebook(nbgrader, grades: list[Grade], path: Path) -> None:
    """The gradebook in the columns of nbgrader's CSV export (``nbgrader export``), one row
    per lesson and student, with this run's scores; a lesson not handed in reads "not
    submitted" where nbgrader writes a score of 0."""
    from nbgrader.api import Gradebook, MissingEntry

    graded = {(g.lesson, g.student): g for g in grades}
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(nbgrader.coursedir.db_url, nbgrader.coursedir.course_id) as gradebook:
            for assignment in gradebook.assignments:
                for student in gradebook.students:
                    row = dict.fromkeys(NBGRADER_COLUMNS, "")
                    row |= {
                        "assignment": assignment.name,
                        "duedate": assignment.duedate or "",
                        "student_id": student.id,
                        "last_name": student.last_name or "",
                        "first_name": student.first_name or "",
                        "email": student.email or "",
                        "max_score": assignment.max_score,
                    }
                    try:
                        submission = gradebook.find_submission(assignment.name, student.id)
                    except MissingEntry:
                        submission = None
                    grade = graded.get((assignment.name, student.id))
                    if grade is not None and grade.score is not None:
                        score = grade.score
                    elif grade is None and submission is not None:  # graded in an earlier run
                        score = submission.score
                    else:
                        score = NOT_SUBMITTED
                    if submission is not None:
                        row["timestamp"] = submission.timestamp or ""
                        row["late_submission_penalty"] = submission.late_submission_penalty or 0
                    row |= {"raw_score": score, "score": score}
                    rows.append(row)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=NBGRADER_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
