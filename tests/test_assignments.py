"""Release every lesson with nbgrader, then autograde the three kinds of submission:
the solutions (full marks), the untouched release (zero, no crash) and broken notebooks
(graded, their problems reported). About 12 minutes on 2 cores: it runs the lessons."""

import copy
import csv
import shutil
from pathlib import Path

import nbformat
import pytest

from aecourse.assignments import (
    AssignmentError,
    autograde,
    find_leaks,
    graded_cells,
    release,
    solution_lines,
)
from aecourse.running import LESSONS_DIR, find_lessons

LESSONS = find_lessons(LESSONS_DIR)
# The grade tables of the last run are kept here for a person to read.
KEPT = Path(__file__).resolve().parents[1] / "build" / "assignments"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("classroom")
    return root, {p.stem: p for p in release(course=root)}


def test_every_lesson_has_a_graded_exercise_with_hidden_tests():
    for path in LESSONS:
        nb = nbformat.read(path, as_version=4)
        points = graded_cells(nb)
        assert points and all(p > 0 for p in points.values()), path.name
        text = "\n".join(c.source for c in nb.cells)
        assert "### BEGIN SOLUTION" in text and "### BEGIN HIDDEN TESTS" in text, path.name
        assert solution_lines(nb), path.name


def test_release_leaks_no_solution_hidden_test_or_output(course):
    _, released = course
    assert sorted(released) == [p.stem for p in LESSONS]
    for path in LESSONS:
        source = nbformat.read(path, as_version=4)
        student = nbformat.read(released[path.stem], as_version=4)
        assert find_leaks(source, student) == [], path.name
        text = "\n".join(c.source for c in student.cells)
        for line in solution_lines(source):  # independent of find_leaks: plain substring
            assert line not in text, (path.name, line)
        assert "raise NotImplementedError()" in text
        assert graded_cells(student) == graded_cells(source)


def test_find_leaks_reports_what_a_bad_release_keeps():
    source = nbformat.read(LESSONS[0], as_version=4)
    leaks = find_leaks(source, copy.deepcopy(source))  # "released" without any stripping
    assert any("marker" in leak for leak in leaks)
    assert any(leak.startswith("line ") for leak in leaks)
    assert any("outputs" in leak for leak in leaks)


def test_release_refuses_a_lesson_without_graded_cells(tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, lessons / "01_plain.ipynb")
    with pytest.raises(AssignmentError, match="no graded cell"):
        release(course=tmp_path / "classroom", lessons_dir=lessons)


def test_autograde_without_submissions_folder_says_what_to_do(course, tmp_path):
    with pytest.raises(FileNotFoundError, match="<student_id>"):
        autograde(tmp_path / "nothing", course=course[0])


def _write(folder, name, nb_or_text):
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(nb_or_text, str):
        (folder / name).write_text(nb_or_text)
    else:
        nbformat.write(nb_or_text, folder / name)


def _rows(out):
    KEPT.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out / "grades.csv", KEPT / f"{out.parent.name}.csv")
    with open(out / "grades.csv") as f:
        return {(r["student"], r["lesson"]): r for r in csv.DictReader(f)}


def test_autograde_solutions_full_marks_and_untouched_release_zero(course, tmp_path):
    root, released = course
    subs = tmp_path / "submissions"
    for path in LESSONS:
        _write(subs / "solution", path.name, nbformat.read(path, as_version=4))
        _write(subs / "untouched", path.name, nbformat.read(released[path.stem], as_version=4))
    grades = autograde(subs, course=root, out=tmp_path / "grades")
    rows = _rows(tmp_path / "grades")
    assert len(grades) == len(rows) == 2 * len(LESSONS)
    for path in LESSONS:
        full = sum(graded_cells(nbformat.read(path, as_version=4)).values())
        good, blank = rows["solution", path.stem], rows["untouched", path.stem]
        assert (good["status"], float(good["score"]), float(good["max_score"])) == (
            "graded", full, full), good  # fmt: skip
        assert (blank["status"], float(blank["score"]), float(blank["max_score"])) == (
            "graded", 0, full), blank  # fmt: skip
        assert "NotImplementedError" in blank["problems"]
        assert (tmp_path / "grades" / "feedback" / "solution" / f"{path.stem}.html").exists()
    assert (tmp_path / "grades" / "nbgrader_grades.csv").exists()


def _broken_submissions(released):
    """Ways a student's lesson 01 can be broken, each a notebook or raw text."""
    student = nbformat.read(released["01_linear_autoencoder"], as_version=4)
    solution = next(c for c in student.cells if c.metadata.get("nbgrader", {}).get("solution"))
    test = next(c for c in student.cells if c.metadata.get("nbgrader", {}).get("grade"))
    i, j = student.cells.index(solution), student.cells.index(test)
    working = nbformat.read(LESSONS[0], as_version=4).cells[i].source
    kinds = {}

    def variant(name, change):
        nb = copy.deepcopy(student)
        change(nb)
        kinds[name] = nb

    def raises(nb):
        nb.cells[i].source = working.replace("return (z @", "return (1 / 0) * (z @")

    def loops(nb):
        nb.cells[i].source = "while True:\n    pass"

    def deletes(nb):
        del nb.cells[j]
        del nb.cells[i]

    def reorders(nb):
        nb.cells[i], nb.cells[j] = nb.cells[j], nb.cells[i]
        nb.cells[j].source = working

    def overwrites_tests(nb):  # no solution; tries to make the check pass anyway
        nb.cells[i].source += "\n\ndef check_tied_autoencoder(*args, **kwargs):\n    pass"
        nb.cells[j].source = "print('all tests passed')"

    for change in (raises, loops, deletes, reorders, overwrites_tests):
        variant(change.__name__, change)
    kinds["not_json"] = nbformat.writes(student)[:5000]  # a truncated upload
    return kinds


def test_autograde_broken_submissions_are_graded_and_reported(course, tmp_path):
    root, released = course
    subs = tmp_path / "submissions"
    for student, nb in _broken_submissions(released).items():
        _write(subs / student, "01_linear_autoencoder.ipynb", nb)
    _write(subs / "stray", "notes.ipynb", "{}")
    autograde(subs, course=root, out=tmp_path / "grades", timeout=60)
    rows = _rows(tmp_path / "grades")
    lesson = "01_linear_autoencoder"
    for student in ("raises", "loops", "deletes", "reorders", "overwrites_tests", "not_json"):
        row = rows[student, lesson]
        assert float(row["score"]) == 0, row
        assert float(row["max_score"]) == 2, row
        feedback = tmp_path / "grades" / "feedback" / student / f"{lesson}.txt"
        assert feedback.exists() and row["status"] in feedback.read_text(), student
    assert "ZeroDivisionError" in rows["raises", lesson]["problems"]
    assert "CellTimeoutError" in rows["loops", lesson]["problems"]
    assert "deleted cells: tied_autoencoder_solution, tied_autoencoder_test" in rows[
        "deletes", lesson]["problems"]  # fmt: skip
    assert "ExerciseError" in rows["overwrites_tests", lesson]["problems"]
    assert rows["not_json", lesson]["status"] == "not a notebook"
    assert rows["stray", "notes.ipynb"]["status"] == "not a lesson"


def test_release_command_line(tmp_path, capsys):
    from aecourse.__main__ import main

    assert main(["release", "--lessons", "01", "--course", str(tmp_path / "classroom")]) == 0
    out = capsys.readouterr().out
    assert "released" in out and "01_linear_autoencoder.ipynb" in out
    assert main(["autograde", str(tmp_path / "none"), "--course", str(tmp_path)]) == 2
    assert "<student_id>" in capsys.readouterr().err
