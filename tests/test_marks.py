"""Marks a person gave the written answers come back into every place the grades are written,
only when every row is good, and survive grading the class again where the answer is the same.
"""

import csv
import hashlib
import json

import pytest

from aecourse.__main__ import main
from aecourse.teach.gradebook import Grade, write_grades
from aecourse.teach.marks import MarksError, import_marks, keep_marks
from aecourse.teach.written import NOT_ANSWERED, WAITS, pending

LESSON = "01_linear_autoencoder"


def _written(question: str, answer: str, points: float = 1.0) -> dict:
    result = WAITS if answer else NOT_ANSWERED
    return {"grade_id": question, "points": 0.0, "max_points": points, "found": "cell 9",
            "manual": True, "answer": answer,
            "cases": [{"name": "written answer", "hidden": False, "result": result,
                       "points": [0.0, points]}]}  # fmt: skip


def _grade(student: str, answers: dict[str, str]) -> Grade:
    step = {"grade_id": "linear_encoder", "points": 2.0, "max_points": 2.0, "found": "cell 3",
            "cases": [{"name": "visible check", "hidden": False, "result": "passed",
                       "points": [2.0, 2.0]}]}  # fmt: skip
    exercises = [step] + [_written(q, a, 2.0 if q == "q01_2" else 1.0) for q, a in answers.items()]
    grade = Grade(student, LESSON, 2.0, 6.0, "graded", exercises=exercises)
    grade.pending = pending(exercises)
    return grade


CLASS = {
    "ada": {"q01_1": "PCA's subspace", "q01_2": '=HYPERLINK("x")', "q01_3": ""},
    "bo": {"q01_1": "a guess", "q01_2": "", "q01_3": "another"},
}


@pytest.fixture
def graded(tmp_path):
    out = tmp_path / "grades"
    grades = [_grade(student, answers) for student, answers in CLASS.items()]
    write_grades(grades, {}, out)
    for student in CLASS:
        page = out / "feedback" / student / f"{LESSON}.html"
        page.write_text("<html><body><h1>Feedback: x</h1><p><b>2 of 6 points</b></p></body></html>")
    return out


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _mark(out, scores: dict[tuple[str, str], str], path=None):
    rows = _rows(out / "written_answers.csv")
    for row in rows:
        row["score"] = scores.get((row["student"], row["question"]), row["score"])
    path = path or out / "written_answers.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _snapshot(folder):
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*")
            if p.is_file()}  # fmt: skip


def test_marks_reach_the_grades_the_export_and_the_page_and_a_blank_one_still_waits(graded):
    listed = _rows(graded / "written_answers.csv")
    assert [(r["student"], r["question"]) for r in listed] == [
        ("ada", "q01_1"), ("ada", "q01_2"), ("bo", "q01_1"), ("bo", "q01_3")]  # fmt: skip
    marks = _mark(graded, {("ada", "q01_1"): "1", ("ada", "q01_2"): "1.5", ("bo", "q01_1"): "0"})
    import_marks(marks, graded)
    table = {r["student"]: r for r in _rows(graded / "grades.csv")}
    assert float(table["ada"]["score"]) == 4.5 and table["ada"]["pending"] == ""
    assert float(table["bo"]["score"]) == 2.0
    assert table["bo"]["pending"] == "1 points of written answers wait for a person: q01_3"
    saved = {g["student"]: g for g in json.loads((graded / "grades.json").read_text())}
    assert saved["ada"]["score"] == 4.5
    # the file keeps the marks (importing it again changes nothing) and stays formula-safe
    again = _rows(graded / "written_answers.csv")
    assert [r["score"] for r in again] == ["1", "1.5", "0", ""]
    assert again[1]["answer"].startswith("'=HYPERLINK")
    page = (graded / "feedback" / "ada" / f"{LESSON}.html").read_text()
    assert "Your score is now 4.5 of 6 points" in page and "q01_2 1.5 of 2" in page
    import_marks(graded / "written_answers.csv", graded)
    page = (graded / "feedback" / "ada" / f"{LESSON}.html").read_text()
    assert page.count("aecourse-marks --><p") == 1  # replaced, not stacked
    assert float(_rows(graded / "grades.csv")[0]["score"]) == 4.5


@pytest.mark.parametrize(
    ("scores", "said"),
    [
        ({("ada", "q01_1"): "2"}, "row 2 (ada, q01_1): the score 2 is not between 0 and 1"),
        ({("ada", "q01_1"): "-1"}, "the score -1 is not between 0 and 1"),
        ({("ada", "q01_1"): "nan"}, "the score nan is not between 0 and 1"),
        ({("ada", "q01_1"): "full"}, "the score 'full' is not a number"),
        ({("ada", "q01_1"): "=1+1"}, "the score '=1+1' is not a number"),
    ],
)
def test_a_bad_mark_changes_nothing_and_names_its_row(graded, scores, said):
    marks = _mark(graded, {("bo", "q01_1"): "1", **scores}, path=graded.parent / "marks.csv")
    before = _snapshot(graded)
    with pytest.raises(MarksError, match="nothing was changed") as err:
        import_marks(marks, graded)
    assert said in str(err.value)
    assert _snapshot(graded) == before


def test_a_mark_for_an_answer_that_was_not_graded_is_refused(graded, tmp_path):
    marks = _mark(graded, {("ada", "q01_1"): "1"}, path=tmp_path / "marks.csv")
    with open(marks, "a", newline="") as f:
        csv.writer(f).writerow(["bo", LESSON, "q01_2", "2", "", "1"])  # bo left q01_2 blank
        csv.writer(f).writerow(["eve", LESSON, "q01_1", "1", "", "1"])  # no such student
    with pytest.raises(MarksError) as err:
        import_marks(marks, graded)
    assert "row 6 (bo, q01_2)" in str(err.value) and "row 7 (eve, q01_1)" in str(err.value)
    no_score = tmp_path / "no_score.csv"
    no_score.write_text("student,lesson,question\nada,x,q01_1\n")
    with pytest.raises(MarksError, match="no score column"):
        import_marks(no_score, graded)
    with pytest.raises(FileNotFoundError, match="mark the answers"):
        import_marks(tmp_path / "missing.csv", graded)


def test_a_spreadsheets_csv_with_a_byte_order_mark_imports(graded, tmp_path):
    marks = _mark(graded, {("ada", "q01_1"): "1"}, path=tmp_path / "marks.csv")
    marks.write_bytes(b"\xef\xbb\xbf" + marks.read_bytes())
    import_marks(marks, graded)
    assert float(_rows(graded / "grades.csv")[0]["score"]) == 3.0


def test_grading_again_keeps_the_marks_of_answers_that_did_not_change(graded):
    import_marks(_mark(graded, {("ada", "q01_1"): "1", ("bo", "q01_1"): "1"}), graded)
    regraded = [_grade("ada", CLASS["ada"]), _grade("bo", CLASS["bo"] | {"q01_1": "new text"})]
    assert keep_marks(regraded, graded) == 1
    ada, bo = regraded
    assert ada.score == 3.0 and bo.score == 2.0  # bo changed the answer: it waits again
    assert "q01_1" in bo.pending and "q01_1" not in ada.pending


def test_the_command_line_imports_and_says_what_still_waits(graded, tmp_path, capsys):
    marks = _mark(graded, {("ada", "q01_1"): "1"}, path=tmp_path / "marks.csv")
    assert main(["marks", str(marks), "--course", str(tmp_path / "course"), "--out",
                 str(graded)]) == 0  # fmt: skip
    said = capsys.readouterr().out
    assert "ada 01_linear_autoencoder: 2 points of written answers wait" in said
    marks.write_text("student,lesson,question,score\nada,x,q01_1,1\n")
    assert main(["marks", str(marks), "--out", str(graded)]) == 2
    assert "cannot be imported" in capsys.readouterr().err
