"""python -m aecourse check NOTEBOOK: the learner's steps, checked from the saved notebook."""

import random

import nbformat
import pytest

from aecourse.__main__ import main
from aecourse.steps import LESSON_MODULES, lesson_steps, step_table
from aecourse.steps.notebook import check_notebook
from aecourse.teach.lessons import LESSONS_DIR
from aecourse.teach.markup import student_source

LESSON = LESSONS_DIR / "01_linear_autoencoder.ipynb"


def released(path):
    """The lesson as a learner gets it: every solution a stub."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        cell.source = student_source(cell.source)
    return notebook


@pytest.mark.parametrize("lesson", sorted(LESSON_MODULES))
def test_the_lessons_own_answers_pass_and_the_command_says_so(lesson, capsys):
    (path,) = LESSONS_DIR.glob(f"{lesson}_*.ipynb")
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    points = sum(s.points for s in lesson_steps(lesson))
    assert f"Lesson {lesson}, {path.name}:" in out
    assert f"steps worth {points:g} of {points:g} points; more tests run at grading" in out


def test_a_released_copy_fails_every_step_and_says_what_to_do(tmp_path, capsys):
    path = tmp_path / "01_linear_autoencoder.ipynb"
    nbformat.write(released(LESSON), path)
    assert main(["check", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith("✗")]
    assert len(rows) == 7 and all("not written: the lesson's copy stands in" in r for r in rows)
    assert lines[-1].startswith("Visible checks pass for steps worth 0 of 16 points")


def test_moved_cells_and_a_renamed_notebook_are_checked_by_what_they_define(tmp_path):
    notebook = nbformat.read(LESSON, as_version=4)
    random.Random(0).shuffle(notebook.cells)
    path = tmp_path / "my homework (copy).ipynb"
    nbformat.write(notebook, path)
    lesson, rows = check_notebook(path)
    assert lesson == "01" and [r["status"] for r in rows] == ["passes"] * 7


def test_bad_input_gets_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="No notebook at"):
        check_notebook(tmp_path / "missing.ipynb")
    junk = tmp_path / "01_junk.ipynb"
    junk.write_text("not json")
    with pytest.raises(ValueError, match="is not a readable notebook"):
        check_notebook(junk)
    other = tmp_path / "notes.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), other)
    with pytest.raises(ValueError, match="defines none of the graded steps"):
        check_notebook(other)


TAKEN_TIED = {
    "imported": "from aecourse.models import TiedLinearAutoencoder",
    "computed": "import importlib\n_m = importlib.import_module('aecourse' + '.models')\n"
    "class TiedLinearAutoencoder(_m.TiedLinearAutoencoder):\n    pass",
    "delegated": "import sys, aecourse.models\ndef TiedLinearAutoencoder(latent_dim):\n"
    "    return vars(sys.modules['aecourse.models'])['TiedLinearAutoencoder'](latent_dim)",
}


@pytest.mark.parametrize("route", sorted(TAKEN_TIED))
def test_a_step_taken_from_the_package_scores_0_here_as_at_grading(route, tmp_path, capsys):
    """The check command withholds the package's copies as the grader does: 14 of 16 for a
    notebook whose tied autoencoder is the package's, whatever the route (the grader's
    score for the same notebooks: tests/test_grading.py)."""
    notebook = nbformat.read(LESSON, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    (cell,) = [c for c in code if c.source.startswith("class TiedLinearAutoencoder")]
    cell.source = TAKEN_TIED[route]
    path = tmp_path / "01_linear_autoencoder.ipynb"
    nbformat.write(notebook, path)
    _, rows = check_notebook(path)
    assert [r["step"] for r in rows if r["status"] != "passes"] == ["tied_autoencoder"]
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .startswith("Visible checks pass for steps worth 14 of 16 points")
    )
    namespace = {"__name__": "__main__"}  # the lesson's last cell says the same in a kernel
    exec(cell.source, namespace)

    table = step_table("01", {"TiedLinearAutoencoder": namespace["TiedLinearAutoencoder"]})
    assert table[-1]["status"].startswith(("fails:", "not written")), table[-1]


def test_the_grader_parses_code_one_thread_at_a_time(monkeypatch):
    """CPython 3.11's AST construction is not safe from two threads at once (python/cpython
    #106905: "AST constructor recursion depth mismatch", seen when two notebooks were graded
    side by side): every parse of the package goes through one lock."""
    import ast
    import threading
    import time

    from aecourse.steps import notebook

    inside, most = [0], [0]
    real = ast.parse

    def slow_parse(source, *args, **kwargs):
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        time.sleep(0.01)
        inside[0] -= 1
        return real(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", slow_parse)
    threads = [threading.Thread(target=lambda: [notebook.parse("x = 1") for _ in range(5)])
               for _ in range(4)]  # fmt: skip
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert most[0] == 1
