"""Written answers: the lesson's questions, found in a submission and left for a person to mark.

A question's answer cell is nbgrader's manually graded answer (a markdown cell with
``solution`` and ``grade`` set). No program marks it: the grader finds the learner's answer,
scores an empty one (or nbgrader's "YOUR ANSWER HERE") 0, and marks every other one as
waiting for a person, worth 0 until then. ``grades.csv`` says which scores wait
(:func:`pending`), nbgrader's gradebook leaves those cells to its formgrader, and
``written_answers.csv`` lists the answers to mark from an export.
"""

from __future__ import annotations

import nbformat

from aecourse.teach.markup import TEXT_STUB, Question

WAITS = "waits for a person"
MARKED = "marked by a person"  # its points are the mark (aecourse.teach.marks)
NOT_ANSWERED = "not answered"
MAX_ANSWER_CHARS = 5000  # what one answer may bring into the grades


def find_written(submitted: nbformat.NotebookNode, question: Question) -> tuple[str, int | None]:
    """The learner's answer to ``question`` and its cell number (1-based): the cell marked as
    its answer (``aecourse.answer_to``, kept in the student edition, or nbgrader's id), else
    the markdown cell after the cell that asks it. ``("", None)`` when there is none."""
    cells = submitted.cells
    for number, cell in enumerate(cells, 1):
        meta = cell.metadata
        marked = meta.get("aecourse", {}).get("answer_to") or meta.get("nbgrader", {}).get(
            "grade_id"
        )
        if cell.cell_type == "markdown" and marked == question.grade_id:
            return cell.source, number
    for number, cell in enumerate(cells[:-1], 1):
        following = cells[number]
        if cell.source.strip() == question.prompt.strip() and following.cell_type == "markdown":
            return following.source, number + 1
    return "", None


def written_result(submitted: nbformat.NotebookNode, question: Question) -> dict:
    """The grade's row for one question: 0 points now; whether it waits for a person."""
    text, number = find_written(submitted, question)
    text = text.strip()[:MAX_ANSWER_CHARS]
    answered = bool(text) and text != TEXT_STUB
    result = WAITS if answered else NOT_ANSWERED
    case = {"name": "written answer", "hidden": False, "result": result,
            "points": [0.0, question.points]}  # fmt: skip
    return {"grade_id": question.grade_id, "points": 0.0, "max_points": question.points,
            "found": f"cell {number}" if number else "", "cases": [case], "manual": True,
            "answer": text if answered else ""}  # fmt: skip


def pending(results: list[dict]) -> str:
    """What of a grade waits for a person, as ``grades.csv`` says it ("" when nothing)."""
    waiting = [r for r in results if r.get("manual") and r["cases"][0]["result"] == WAITS]
    if not waiting:
        return ""
    points = sum(r["max_points"] for r in waiting)
    names = ", ".join(r["grade_id"] for r in waiting)
    return f"{points:g} points of written answers wait for a person: {names}"


def is_marked(result: dict) -> bool:
    """Whether ``result`` (a grade's row for an exercise) is a written answer a person marked."""
    return bool(result.get("manual")) and result["cases"][0]["result"] == MARKED
