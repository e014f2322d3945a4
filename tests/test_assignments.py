"""Release every lesson with nbgrader: no solution, hidden test or output left in the student
version, and every lesson's exercise described as the grader needs it."""

import copy

import nbformat
import pytest

from aecourse.steps import find_step
from aecourse.teach.judging import step_calls
from aecourse.teach.lessons import LESSONS_DIR, find_lessons
from aecourse.teach.markup import (
    exercises,
    graded_cells,
    questions,
    setup_source,
    solution_lines,
)
from aecourse.teach.release import AssignmentError, find_leaks, release

LESSONS = find_lessons(LESSONS_DIR)


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
        assert "### BEGIN SOLUTION" in text, path.name
        for exercise in exercises(nb):  # hidden tests in the cell, or a step's hidden cases
            steps = step_calls(exercise.visible)
            hidden = [c for s, _ in steps for c in find_step(s).cases if c.hidden]
            assert exercise.hidden.strip() or hidden, (path.name, exercise.test_id)
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
        assert "NBVAL" not in released[path.stem].read_text()  # nbval's markers are for nbval
        source_copy = released[path.stem].parents[2] / "source" / path.stem / path.name
        assert "NBVAL" not in source_copy.read_text()  # nor in the copy nbgrader released it from


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


def test_release_refuses_a_lesson_whose_imports_cell_is_not_tagged(tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    nb = nbformat.read(LESSONS[0], as_version=4)
    for cell in nb.cells:
        cell.metadata.get("tags", []).clear()
    nbformat.write(nb, lessons / LESSONS[0].name)
    with pytest.raises(AssignmentError, match="tagged 'imports'"):
        release(course=tmp_path / "classroom", lessons_dir=lessons)


def test_every_lesson_has_one_exercise_per_test_cell_and_setup_cells():
    for path in LESSONS:
        nb = nbformat.read(path, as_version=4)
        found = exercises(nb)
        written = [q.grade_id for q in questions(nb)]
        graded = [k for k, v in graded_cells(nb).items() if v]
        assert [e.test_id for e in found] == [k for k in graded if k not in written], path.name
        assert sorted(written) == sorted(set(graded) - {e.test_id for e in found}), path.name
        assert len(written) >= 3, path.name
        for exercise in found:
            hidden = [c for s, _ in step_calls(exercise.visible) for c in find_step(s).cases
                      if c.hidden]  # fmt: skip
            assert exercise.hidden.strip() or hidden, (path.name, exercise.test_id)
            assert "BEGIN HIDDEN" not in exercise.visible
        setup = setup_source(nb)
        assert "import aecourse" in setup and "profile = None" in setup


def test_release_command_line(tmp_path, capsys):
    from aecourse.__main__ import main

    assert main(["release", "--lessons", "01", "--course", str(tmp_path / "classroom")]) == 0
    out = capsys.readouterr().out
    assert "released" in out and "01_linear_autoencoder.ipynb" in out
    assert main(["autograde", str(tmp_path / "none"), "--course", str(tmp_path)]) == 2
    assert "<student_id>" in capsys.readouterr().err


def test_the_student_edition_shows_every_cell_as_released(course):
    """The book, slides and ``make lab`` show what ``make release`` hands out (with the
    lecture's outputs, without nbval's marker lines)."""
    from aecourse.teach.editions import edition_copy
    from aecourse.teach.markup import without_nbval_marks

    _, released = course
    for path in LESSONS:
        student = edition_copy(nbformat.read(path, as_version=4), "student")
        handed_out = nbformat.read(released[path.stem], as_version=4)
        expected = [without_nbval_marks(c.source) for c in handed_out.cells]
        assert [c.source for c in student.cells] == expected, path.name


def test_a_subset_of_steps_is_graded_and_the_other_steps_are_shown_solved(tmp_path):
    (path,) = release(course=tmp_path, steps=["linear_encoder", "train_epoch"])
    assert path.name == "01_linear_autoencoder.ipynb"
    source = nbformat.read(tmp_path / "source" / path.stem / path.name, as_version=4)
    assert graded_cells(source) == {"linear_encoder": 2, "train_epoch": 3,  # what grading reads
                                    "q01_1": 1, "q01_2": 1, "q01_3": 1}  # fmt: skip
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    assert "self.linear = nn.Linear(latent_dim, 28 * 28)" in text  # the decoder, shown solved
    assert 'check_step("linear_decoder", LinearDecoder)' in text  # its check still runs
    assert "self.flatten = nn.Flatten()" not in text and text.count("NotImplementedError()") == 3
    with pytest.raises(AssignmentError, match="No step 'no_such_step'; the steps are"):
        release(course=tmp_path / "other", steps=["no_such_step"])
