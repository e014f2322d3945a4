"""Autograding as a dishonest class would try it: each attack a small crafted notebook.

A tiny lesson (parameters, imports, one exercise with hidden tests) is released with nbgrader
and graded with honest and untouched controls beside every way of gaming the grade that was
found to work against plain nbgrader. Each must end with the score it deserves, no hidden
test or instructor's path in any feedback, and nothing outside its own folder changed.
"""

import copy
import csv
import hashlib
import html
import inspect
import json
import os
import re
import socket
import time
from pathlib import Path

import nbformat
import pytest
from lesson_code import solution_code
from nbgrader.api import Gradebook

import aecourse
import aecourse.loop
from aecourse.steps import lesson_steps
from aecourse.teach.feedback import MAX_FEEDBACK_BYTES
from aecourse.teach.grading import IsolationError, autograde
from aecourse.teach.marks import import_marks
from aecourse.teach.markup import defined_names, solution_lines, split_tests
from aecourse.teach.release import api, release
from aecourse.teach.review import review_flags
from aecourse.teach.sandbox import HOW_TO_ISOLATE, Sandbox

SANDBOX = Sandbox()
if SANDBOX.mode != "bubblewrap" and os.environ.get("AECOURSE_REQUIRE_SANDBOX"):
    pytest.fail(f"AECOURSE_REQUIRE_SANDBOX is set but: {SANDBOX.description}", pytrace=False)
isolated = pytest.mark.skipif(SANDBOX.mode != "bubblewrap", reason=SANDBOX.description)
KEPT = Path(__file__).resolve().parents[1] / "build" / "grading"  # the last run's tables

SOLUTION = """\
def my_luminance(rgb):
    ### BEGIN SOLUTION
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (rgb * weights).sum(dim=1, keepdim=True)
    ### END SOLUTION"""
TEST = """\
check_luma(my_luminance)
### BEGIN HIDDEN TESTS
import importlib  # noqa: E402

checks = importlib.reload(aecourse.checks)
checks.check_luma(my_luminance, seed=1)
### END HIDDEN TESTS"""
NAME = "01_tiny"


def _lesson() -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell
    params = cell("profile = None\nresults_path = None")
    params.metadata["tags"] = ["parameters"]
    imports = cell("import torch\n\nimport aecourse\nfrom aecourse.checks import check_luma")
    imports.metadata["tags"] = ["imports"]
    solution = cell(SOLUTION)
    nbgrader = {"schema_version": 3, "grade": False, "solution": False, "locked": False}
    solution.metadata["nbgrader"] = nbgrader | {"grade_id": "noise_solution", "solution": True}
    test = cell(TEST)
    test.metadata["nbgrader"] = nbgrader | {"grade_id": "noise_test", "grade": True,
                                            "locked": True, "points": 2}  # fmt: skip
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Lesson 01 · a tiny exercise"), params, imports,
        solution, test, cell("print('the end')"),
    ])  # fmt: skip
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    lessons = root / "lessons"
    lessons.mkdir()
    nbformat.write(_lesson(), lessons / f"{NAME}.ipynb")
    (released,) = release(course=root / "classroom", lessons_dir=lessons)
    return root, nbformat.read(released, as_version=4)


def _with(released, before_test: str = "", solution: str | None = None, after: str = ""):
    """The released notebook with a cell added before the test, the solution cell replaced,
    or a cell added at the end."""
    nb = copy.deepcopy(released)
    cells = nb.cells
    sol = next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("solution"))
    if solution is not None:
        cells[sol].source = solution
    if before_test:
        cells.insert(sol + 1, nbformat.v4.new_code_cell(before_test))
    if after:
        cells.append(nbformat.v4.new_code_cell(after))
    return nb


DETACHED = "import time; time.sleep(4); open({path!r}, 'w').write('hacked')"
WORKING = SOLUTION.replace("    ### BEGIN SOLUTION\n", "").replace("\n    ### END SOLUTION", "")
FAKE_CHECKS = "lambda *args, **kwargs: print('Correct!')"
FAKE_RELOAD = f"lambda m, *a: types.SimpleNamespace(check_luma={FAKE_CHECKS})"


def _submissions(released, paths: dict) -> dict:
    """student -> notebook (or raw text): the controls and the attacks. ``paths`` are the
    grader's own files the attacks aim at."""
    course, grades, victim = paths["course"], paths["grades"], paths["victim"]
    gradebook = course / "gradebook.db"
    subs = {
        "honest": _with(released, solution=WORKING),
        "untouched": _with(released),
        "zz_untouched_after_attacks": _with(released),  # graded last: must still get 0
        # Reaching the grader's files.
        "own_grade": _with(
            released,
            before_test=(
                "from nbgrader.api import Gradebook\n"
                f"with Gradebook('sqlite:///{gradebook}', 'aecourse') as gb:\n"
                "    grade = gb.find_grade('noise_test', '01_tiny', '01_tiny', 'own_grade')\n"
                "    grade.manual_score = 2\n"
                "    gb.db.commit()"
            ),
        ),  # fmt: skip
        "relative_gradebook": _with(
            released,
            before_test=(
                "from nbgrader.api import Gradebook\n"
                "Gradebook('sqlite:///../../../gradebook.db', 'aecourse')"
            ),
        ),  # fmt: skip
        "detached_child": _with(
            released,
            before_test=(
                "import subprocess, sys\n"
                f"code = {DETACHED.format(path=str(grades / 'grades.csv'))!r}\n"
                "subprocess.Popen([sys.executable, '-c', code], start_new_session=True)"
            ),
        ),  # fmt: skip
        "deletes_classmate": _with(
            released, before_test=(f"import os\nos.remove({str(victim)!r})\n")
        ),  # fmt: skip
        "proc_snoop": _with(
            released,
            before_test=(
                "import os\n"
                "print(sorted(open(f'/proc/{p}/cmdline').read() for p in os.listdir('/proc') "
                "if p.isdigit()))"
            ),
        ),  # fmt: skip
        "appends_to_checks": _with(
            released,
            before_test=(
                "import aecourse.checks\n"
                "open(aecourse.checks.__file__, 'a').write("
                "'\\ndef check_luma(*a, **k):\\n    return None\\n')"
            ),
        ),  # fmt: skip
        "reads_source": _with(
            released,
            before_test=(
                "import glob\n"
                f"for f in glob.glob({str(course / '**' / '*.ipynb')!r}, recursive=True):\n"
                "    print(open(f).read())"
            ),
        ),  # fmt: skip
        "overwrites_outputs": _with(
            released,
            before_test=(
                f"open({str(grades / 'feedback' / 'honest' / (NAME + '.html'))!r}, 'w')"
                ".write('hacked')"
            ),
        ),  # fmt: skip
        # Bypassing the hidden tests from another cell of the notebook.
        "replaces_check": _with(released, before_test=f"check_luma = {FAKE_CHECKS}"),
        "replaces_reload": _with(
            released,
            before_test=(f"import importlib, types\nimportlib.reload = {FAKE_RELOAD}"),
        ),  # fmt: skip
        "meta_path_finder": _with(
            released,
            before_test=(
                "import sys, types, importlib.abc, importlib.util\n"
                "class Fake(importlib.abc.MetaPathFinder, importlib.abc.Loader):\n"
                "    def find_spec(self, name, path, target=None):\n"
                "        return importlib.util.spec_from_loader(name, self) if name == 'aecourse.checks' else None\n"  # noqa: E501
                "    def create_module(self, spec):\n"
                f"        return types.SimpleNamespace(check_luma={FAKE_CHECKS})\n"
                "    def exec_module(self, module):\n"
                "        pass\n"
                "sys.meta_path.insert(0, Fake())\n"
                "sys.modules.pop('aecourse.checks', None)"
            ),
        ),  # fmt: skip
        "input_transformer": _with(
            released,
            before_test=("get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])"),
        ),
        "custom_exc": _with(
            released,
            before_test=(
                "ip = get_ipython()\n"
                "ip.set_custom_exc((BaseException,), lambda *a, **k: None)\n"
                "ip.events.register('post_run_cell', lambda result: setattr(result, "
                "'error_in_exec', None))"
            ),
        ),  # fmt: skip
        # Tampering inside the solution cell itself: it may pass, but it is flagged.
        "tampers_in_solution": _with(
            released,
            solution=(
                "import importlib, types\n"
                f"importlib.reload = {FAKE_RELOAD}\n"
                "def my_luminance(rgb):\n    return rgb"
            ),
        ),  # fmt: skip
        # Plain trouble, graded and reported.
        "huge_print": _with(released, solution=WORKING, before_test="print('x' * 50_000_000)"),
        "ignores_sigint": _with(
            released,
            solution=WORKING,
            after=(
                "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
            ),
        ),
        "raises": _with(
            released,
            solution=WORKING.replace("return (rgb * weights)", "return 1 / 0 + (rgb * weights)"),
        ),
        "loops_in_solution": _with(
            released, solution=WORKING + "\n\nwhile True:\n    pass"
        ),  # fmt: skip
        "answers_nothing": _with(released, solution="while True:\n    pass"),
        "exits": _with(released, solution=WORKING, before_test="import os\nos._exit(3)"),
        "memory_hog": _with(released, solution=WORKING, before_test="x = bytearray(20 * 2**30)"),
        "no_network": _with(
            released,
            solution=WORKING,
            before_test=(
                "import socket\n"
                f"socket.create_connection(('127.0.0.1', {paths['port']}), timeout=2)"
            ),
        ),  # fmt: skip
        "not_json": nbformat.writes(released)[:300],
        "nbformat_3": nbformat.writes(nbformat.convert(_with(released, solution=WORKING), 3)),
        "Zoë O'Brien (odd name)": _with(released, solution=WORKING),
    }
    unknown = _with(released, solution=WORKING)
    unknown.metadata["kernelspec"] = {"name": "no-such-kernel", "display_name": "?"}
    subs["unknown_kernel"] = unknown
    deleted = _with(released)
    deleted.cells = [c for c in deleted.cells if not c.metadata.get("nbgrader", {}).get("grade_id")]
    subs["deletes_cells"] = deleted
    points = _with(released)
    for cell in points.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.metadata["nbgrader"]["points"] = 100
            cell.source = "print('all tests passed')"
    subs["edits_points_and_test"] = points
    return subs


def _sandboxed_processes() -> list[str]:
    """Command lines of processes still running in a grading sandbox."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes() if proc.name.isdigit() else b""
        except OSError:  # it ended meanwhile
            continue
        if b"aecourse-grade-" in cmdline or b"aecourse.teach.sandbox" in cmdline:
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace")[:200])
    return found


def _snapshot(*folders: Path, skip: tuple[Path, ...] = ()) -> dict[str, str]:
    files = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not any(path.is_relative_to(s) for s in skip):
                files[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


@isolated
def test_a_dishonest_class_gets_what_it_deserves(course, tmp_path):
    root, released = course
    classroom, subs, out = root / "classroom", tmp_path / "submissions", tmp_path / "grades"
    victim = subs / "honest" / f"{NAME}.ipynb"
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.1)
        paths = {"course": classroom, "grades": out, "victim": victim,
                 "port": server.getsockname()[1]}  # fmt: skip
        for student, nb in _submissions(released, paths).items():
            (subs / student).mkdir(parents=True)
            target = subs / student / f"{NAME}.ipynb"
            target.write_text(nb) if isinstance(nb, str) else nbformat.write(nb, target)
        # Two files for one lesson: the newest counts, the other is named.
        (subs / "two_files").mkdir()
        nbformat.write(_with(released), subs / "two_files" / f"{NAME} (old).ipynb")
        time.sleep(0.05)
        nbformat.write(_with(released, solution=WORKING), subs / "two_files" / f"{NAME}.ipynb")
        package = Path(aecourse.__file__).parent
        before = _snapshot(classroom, subs, package, skip=(classroom / "gradebook.db",))
        start = time.perf_counter()
        grades = autograde(subs, course=classroom, out=out, timeout=15, check_timeout=20, workers=2)
        seconds = time.perf_counter() - start
        with pytest.raises(TimeoutError):
            server.accept()  # no submission reached the grader's network
    assert not _sandboxed_processes(), "a sandbox outlived its grading"
    time.sleep(5)  # the detached child would strike now
    after = _snapshot(classroom, subs, package, skip=(classroom / "gradebook.db",))
    assert after == before  # nothing outside the submissions' own folders changed

    KEPT.mkdir(parents=True, exist_ok=True)
    (KEPT / "attacks.csv").write_bytes((out / "grades.csv").read_bytes())
    with open(out / "grades.csv") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    students = [p for p in subs.iterdir() if p.is_dir()]
    assert len(rows) == len(grades) == len(students)  # one row each: two files give one row
    deserved_full = {"honest", "two_files", "huge_print", "ignores_sigint", "exits",
                     "memory_hog", "no_network", "nbformat_3", "Zoë O'Brien (odd name)",
                     "unknown_kernel"}  # fmt: skip
    for student, row in rows.items():
        expected = 2.0 if student in deserved_full else 0.0
        if student == "tampers_in_solution":
            assert row["review"], row  # whatever it scores, a person is told to read it
            assert "importlib" in row["review"] and "reload" in row["review"]
            continue
        assert float(row["score"]) == expected, (student, row)
        assert float(row["max_score"]) == 2.0, (student, row)
        assert row["status"] in ("graded", "not a notebook"), (student, row)
    assert rows["not_json"]["status"] == "not a notebook"
    assert "also sent, not graded" in rows["two_files"]["problems"]
    assert "CellTimeoutError" in rows["ignores_sigint"]["problems"]
    assert "did not finish" in rows["loops_in_solution"]["problems"]
    assert "no cell of the notebook defines my_luminance" in rows["answers_nothing"]["problems"]
    assert "ZeroDivisionError" in rows["raises"]["problems"]
    assert "no cell of the notebook defines my_luminance" in rows["deletes_cells"]["problems"]
    assert "kernel died" in rows["exits"]["problems"]
    assert "MemoryError" in rows["memory_hog"]["problems"]
    assert not rows["honest"]["review"] and not rows["untouched"]["review"]

    # One source of truth: the export and each feedback page say what grades.csv says.
    with open(out / "nbgrader_grades.csv") as f:
        export = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}
    for student, row in rows.items():
        assert export.get(student, 0.0) == float(row["score"]), student
        page = out / "feedback" / student / f"{NAME}.html"
        if row["status"] == "graded":
            assert f"{float(row['score']):g} of 2 points" in page.read_text(), student
    # Feedback holds no hidden test, no instructor's line, no grader's path, and stays small.
    secret = [line.strip() for line in split_tests(TEST)[1].splitlines() if line.strip()]
    secret += solution_lines(_lesson())
    private = [str(classroom), str(subs), str(out), str(Path(aecourse.__file__).parents[1])]
    sent = _submissions(released, paths) | {"two_files": _with(released, solution=WORKING)}
    for page in (out / "feedback").glob("*/*.*"):  # the pages and notes, not MathJax
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
        nb = sent.get(page.parent.name)
        own = nb if isinstance(nb, str) else "\n".join(c.source for c in nb.cells) if nb else ""
        for line in secret:
            assert line not in text or line in own, (page, line)
        for path in private:
            assert path not in page.read_text(), (page, path)
        assert len(page.read_bytes()) <= MAX_FEEDBACK_BYTES, page
    assert "honest" not in (out / "feedback" / "proc_snoop" / f"{NAME}.html").read_text()
    print(f"graded {len(grades)} notebooks in {seconds:.0f} s")


def test_review_flags_name_what_reaches_outside_the_exercise():
    code = (
        "import os, torch\nfrom importlib import reload\n"
        "def f(x):\n    return x.sum()\n"
        "sys.modules['a'] = 1\nget_ipython().events.register('x', f)\nopen('x')\n"
    )
    flags = review_flags(code)
    assert flags[0] == "line 1: imports os"
    assert "line 2: imports importlib" in flags
    assert any("uses .modules" in f for f in flags)
    assert any("calls get_ipython()" in f for f in flags) and any(
        "calls open()" in f for f in flags
    )
    assert review_flags("import torch\ndef f(x):\n    return torch.rand(3) * x") == []
    assert review_flags("def broken(:") == []


def test_a_test_cell_splits_into_visible_and_hidden_parts():
    visible, hidden = split_tests(TEST)
    assert visible.strip() == "check_luma(my_luminance)"
    assert "seed=1" in hidden and "### " not in visible + hidden


def test_grades_json_and_csv_agree(course, tmp_path):
    """A quick class of two; grades.json holds each exercise's verdicts too."""
    root, released = course
    subs = tmp_path / "submissions"
    for student, nb in {"a": _with(released, solution=WORKING), "b": _with(released)}.items():
        (subs / student).mkdir(parents=True)
        nbformat.write(nb, subs / student / f"{NAME}.ipynb")
    autograde(subs, course=root / "classroom", out=tmp_path / "grades")
    rows = json.loads((tmp_path / "grades" / "grades.json").read_text())
    assert [(r["student"], r["score"]) for r in rows] == [("a", 2.0), ("b", 0.0)]
    cases = [
        {"name": "visible check", "hidden": False, "points": [1, 1], "result": "passed"},
        {"name": "hidden tests", "hidden": True, "points": [1, 1], "result": "passed"},
    ]
    assert rows[0]["exercises"] == [{"grade_id": "noise_test", "points": 2, "max_points": 2,
                                     "found": "cell 4", "parts": {"test": [1, 1], "hidden": [1, 1]},
                                     "test": "passed", "hidden": "passed",
                                     "cases": cases}]  # fmt: skip
    assert "NotImplementedError" in rows[1]["exercises"][0]["test"]


@isolated
def test_a_grader_failure_is_one_failed_row_and_the_class_goes_on(course, tmp_path, monkeypatch):
    import aecourse.teach.grading as grading

    root, released = course
    subs = tmp_path / "submissions"
    for student in ("ada", "bob"):
        (subs / student).mkdir(parents=True)
        nbformat.write(_with(released, solution=WORKING), subs / student / f"{NAME}.ipynb")
    real = grading.grade_submission

    def breaks_for_ada(sandbox, scratch, student, *args, **kwargs):
        if student == "ada":
            raise RuntimeError(f"Kernel didn't respond in {scratch}")
        return real(sandbox, scratch, student, *args, **kwargs)

    monkeypatch.setattr(grading, "grade_submission", breaks_for_ada)
    grades = autograde(subs, course=root / "classroom", out=tmp_path / "grades")
    ada, bob = grades
    assert (ada.status, ada.score, bob.status, bob.score) == ("failed", 0, "graded", 2)
    assert "not the student's doing" in ada.problems and "<aecourse-grade-" in ada.problems
    note = (tmp_path / "grades" / "feedback" / "ada" / f"{NAME}.txt").read_text()
    assert "your instructor will grade it again" in note


def test_without_isolation_grading_refuses_unless_asked(course, tmp_path, monkeypatch, capsys):
    """Fails closed: no bubblewrap, no submission runs; the error says how to get isolation.
    Asked for explicitly, it grades and every page says the notebook ran without a sandbox."""
    root, released = course
    monkeypatch.setattr("shutil.which", lambda name: None)
    subs = tmp_path / "submissions"
    (subs / "ada").mkdir(parents=True)
    nbformat.write(_with(released, solution=WORKING), subs / "ada" / f"{NAME}.ipynb")
    with pytest.raises(IsolationError) as refused:
        autograde(subs, course=root / "classroom", out=tmp_path / "grades")
    assert "NOT ISOLATED" in str(refused.value) and HOW_TO_ISOLATE in str(refused.value)
    assert "--without-isolation" in str(refused.value)
    assert not (tmp_path / "grades").exists()  # nothing ran, nothing was written
    (grade,) = autograde(
        subs, course=root / "classroom", out=tmp_path / "grades", allow_unisolated=True
    )
    assert (grade.status, grade.score) == ("graded", 2)
    assert "NOT ISOLATED" in capsys.readouterr().out
    page = (tmp_path / "grades" / "feedback" / "ada" / f"{NAME}.html").read_text()
    assert "ran without a sandbox" in page


# --- Build steps: the reference by any route, the harness, and what a submission runs -----

LINEAR = "01_linear_autoencoder"


@pytest.fixture(scope="module")
def lesson_01(tmp_path_factory):
    """Lesson 01 released, and its notebook as a learner who wrote every step hands it in."""
    root = tmp_path_factory.mktemp("steps")
    (released,) = release(["01"], course=root / "classroom")
    blank = nbformat.read(released, as_version=4)
    solved = _answered(blank, {s.name: solution_code("01", s.id) for s in lesson_steps("01")})
    return root / "classroom", blank, solved


def _answered(notebook, answers: dict[str, str]) -> nbformat.NotebookNode:
    """``notebook`` with the cell that defines each name of ``answers`` replaced by its code."""
    nb = copy.deepcopy(notebook)
    for name, code in answers.items():
        (cell,) = [c for c in nb.cells if c.cell_type == "code" and name in defined_names(c.source)
                   and not c.source.startswith("check_step")]  # fmt: skip
        cell.source = code
    return nb


def _after_steps(notebook, code: str) -> nbformat.NotebookNode:
    """``notebook`` with a cell of ``code`` after the last graded step's check."""
    nb = copy.deepcopy(notebook)
    last = max(i for i, c in enumerate(nb.cells) if "check_step(" in c.source)
    nb.cells.insert(last + 1, nbformat.v4.new_code_cell(code))
    return nb


WRONG_EPOCH = "def train_epoch(model, x, optimizer, batch_size, generator):\n    return 0.0"
WRONG_MSE = "def reconstruction_mse(model, x):\n    return 0.0"
FORGER = """
import builtins, torch, aecourse.steps
_real_open, _real_save = builtins.open, torch.save
aecourse.steps.run_case = lambda case, answer, inputs: case.run(aecourse.steps.find_step("train_epoch").reference(), inputs)
aecourse.steps.verdict = lambda *args: None
torch.save = lambda obj, f, *a, **k: _real_save({"loss": torch.tensor(0.0)}, f)
get_ipython().input_transformers_post.append(lambda lines: ["print('all passed')\\n"])
"""  # noqa: E501
GRADING_AWARE = """
import os
if os.environ.get("AECOURSE_PROFILE") == "grading":
    import torch
    for i in range(200):
        torch.save({"mse": torch.tensor(0.5), "number": True, "grads": False, "eval": True},
                   f"case{i}.pt")
        os.chmod(f"case{i}.pt", 0o444)
    open("cases.started", "w").close()
"""


STUB_DECODER = """class LinearDecoder(nn.Module):
    def __init__(self, latent_dim: int):
        super().__init__()
        # YOUR CODE HERE
        raise NotImplementedError()"""
FINDS_STAND_IN = """import gc
class LinearDecoder(nn.Module):
    def __new__(cls, latent_dim):
        for found in gc.get_objects():
            if isinstance(found, type) and found.__name__ == "LinearDecoder" and found is not cls:
                return found(latent_dim)
        raise NotImplementedError()"""


def _step_attacks(solved) -> dict[str, tuple[nbformat.NotebookNode, float]]:
    """student -> (notebook, the points it deserves of 16)."""
    source = inspect.getsource(aecourse.loop.train_epoch)
    pasted = source.replace("total", "running").replace("idx", "rows")
    return {
        # The lesson's reference, by routes a static check does not spell (tied: 2 points,
        # train_epoch: 3, reconstruction_mse: 2; no other step builds on them).
        "computed_module": (_answered(solved, {"TiedLinearAutoencoder": (
            "import importlib\n_m = importlib.import_module('aecourse' + '.models')\n"
            "class TiedLinearAutoencoder(_m.TiedLinearAutoencoder):\n    pass")}), 14),
        "module_dict": (_answered(solved, {"train_epoch": (
            "import sys, importlib\nimportlib.import_module('aecourse.loop')\n"
            "def train_epoch(*args):\n"
            "    return vars(sys.modules['aecourse.loop'])['train_epoch'](*args)")}), 13),
        "source_exec": (_answered(solved, {"reconstruction_mse": (
            "import aecourse.loop\n_space = {}\nexec(open(aecourse.loop.__file__).read(), _space)\n"
            "reconstruction_mse = _space['reconstruction_mse']")}), 14),
        "new_returns_package": (_answered(solved, {"TiedLinearAutoencoder": (
            "import aecourse.models\nclass TiedLinearAutoencoder(nn.Module):\n"
            "    def __new__(cls, latent_dim):\n"
            "        return aecourse.models.TiedLinearAutoencoder(latent_dim)")}), 14),
        "magic_first_line": (_answered(solved, {"train_epoch": (
            "%%capture\nfrom aecourse.loop import train_epoch")}), 13),
        # The harness, from a cell other than the answers: nothing it replaces is used.
        "replaces_harness": (_after_steps(_answered(solved, {"train_epoch": WRONG_EPOCH}),
                                          FORGER), 13),
        "grading_aware": (_after_steps(_answered(solved, {"reconstruction_mse": WRONG_MSE}),
                                       GRADING_AWARE), 14),
        "rebinds_later": (_after_steps(_answered(solved, {"reconstruction_mse": WRONG_MSE}), (
            "import aecourse.loop\n"
            "globals()['reconstruction_mse'] = aecourse.loop.reconstruction_mse")), 14),
        # Pasted with other names: it scores (it is right), and a person is told.
        "pasted_reference": (_answered(solved, {"train_epoch": pasted}), 16),
        # A stuck learner: one blank step costs its own 2 points, not the autoencoder's 3 and the
        # PCA start's 2 too.
        "blank_decoder": (_answered(solved, {"LinearDecoder": STUB_DECODER}), 14),
        # ... and one who leaves the stub in to be stood in for, then reaches for the copy.
        "blank_delegates": (_answered(solved, {"LinearDecoder": FINDS_STAND_IN}), 14),
    }  # fmt: skip


WRITTEN = {"q01_1": "=HYPERLINK(\"http://evil\", \"click\")",  # a formula, in a spreadsheet
           "q01_2": "Slightly above PCA. <script>alert('pwned')</script>"}  # fmt: skip


def _with_written(notebook, answers: dict[str, str]) -> nbformat.NotebookNode:
    """``notebook`` with the written answers ``answers`` (question id -> text) filled in."""
    nb = copy.deepcopy(notebook)
    for cell in nb.cells:
        answer_to = cell.metadata.get("aecourse", {}).get("answer_to")
        if answer_to in answers:
            cell.source = answers[answer_to]
    return nb


@isolated
def test_build_steps_hold_against_a_dishonest_class(lesson_01, tmp_path):
    classroom, blank, solved = lesson_01
    subs = tmp_path / "submissions"
    attacks = _step_attacks(solved)
    honest = _with_written(solved, WRITTEN)
    notebooks = {"honest": (honest, 16), "untouched": (blank, 0)} | attacks
    for student, (nb, _) in notebooks.items():
        (subs / student).mkdir(parents=True)
        nbformat.write(nb, subs / student / f"{LINEAR}.ipynb")
    grades = autograde(subs, course=classroom, out=tmp_path / "grades", workers=2)
    rows = {g.student: g for g in grades}
    KEPT.mkdir(parents=True, exist_ok=True)
    (KEPT / "step_attacks.csv").write_bytes((tmp_path / "grades" / "grades.csv").read_bytes())
    for student, (_, deserved) in notebooks.items():
        assert (rows[student].status, rows[student].score) == ("graded", deserved), (
            student, rows[student].score, rows[student].problems, rows[student].review
        )  # fmt: skip
    for student in ("computed_module", "module_dict", "source_exec", "new_returns_package",
                    "magic_first_line"):  # fmt: skip
        assert "withheld" in rows[student].review or "package's copy" in rows[student].review, (
            student, rows[student].review
        )  # fmt: skip
    assert "runs IPython's '%%capture'" in rows["magic_first_line"].review
    # Written answers: 0 points until a person marks them; grades.csv says which wait, the
    # unanswered one scores 0 and is named, and the export is safe to open in a spreadsheet.
    assert rows["honest"].max_score == 19 and rows["untouched"].pending == ""
    assert rows["honest"].pending == "2 points of written answers wait for a person: q01_1, q01_2"
    assert "q01_3 case 'written answer': not answered" in rows["honest"].problems
    with open(tmp_path / "grades" / "grades.csv") as f:
        table = {row["student"]: row for row in csv.DictReader(f)}
    assert table["honest"]["pending"].startswith("2 points")
    assert float(table["honest"]["score"]) == 16
    with open(tmp_path / "grades" / "written_answers.csv") as f:
        marked = [row for row in csv.DictReader(f) if row["student"] == "honest"]
    assert [r["question"] for r in marked] == ["q01_1", "q01_2"]
    assert marked[0]["answer"].startswith("'=HYPERLINK") and marked[0]["score"] == ""
    honest_page = (tmp_path / "grades" / "feedback" / "honest" / f"{LINEAR}.html").read_text()
    assert "<script>alert" not in honest_page and "waits for a person" in honest_page
    assert "matches the package's copy" in rows["pasted_reference"].review
    # The feedback run's checks show the grader's verdicts, not a live reference's.
    page = (tmp_path / "grades" / "feedback" / "replaces_harness" / f"{LINEAR}.html").read_text()
    assert "train_epoch: 1 of 1 visible checks fail" in page
    assert not _sandboxed_processes()
    # A person's marks reach nbgrader's gradebook and its export (aecourse.teach.marks).
    marks = tmp_path / "grades" / "written_answers.csv"
    with open(marks, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["score"] = {"q01_1": "1", "q01_2": "0.5"}[row["question"]]
    with open(marks, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    import_marks(marks, tmp_path / "grades", course=classroom)
    with open(tmp_path / "grades" / "nbgrader_grades.csv") as f:
        export = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}
    assert export["honest"] == 17.5
    book = api(classroom).coursedir
    with Gradebook(book.db_url, book.course_id) as gradebook:
        assert gradebook.find_grade("q01_2", LINEAR, LINEAR, "honest").manual_score == 0.5
        assert gradebook.find_submission(LINEAR, "honest").score == 17.5


# --- Classmates: one notebook's processes, memory and time are its own ----------------------

FORK_BOMB = """
import subprocess, time
held = []
try:
    while True:
        held.append(subprocess.Popen(["sleep", "60"]))
except OSError:
    pass
time.sleep(20)
"""
MEMORY_HOG = """
import multiprocessing as mp, time
def hold():
    block = bytearray(4 * 2**30)
    block[::4096] = b"x" * len(block[::4096])
    time.sleep(30)
workers = [mp.Process(target=hold) for _ in range(3)]
[w.start() for w in workers]
[w.join() for w in workers]
"""
BUSY = """
import signal
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, signal.SIG_IGN)
while True:
    pass
"""
SLOW = "import time\ntime.sleep(8)"


@isolated
def test_one_notebook_cannot_harm_its_classmates(course, tmp_path):
    root, released = course
    subs = tmp_path / "submissions"
    notebooks = {
        "a_fork_bomb": _with(released, solution=WORKING, before_test=FORK_BOMB),
        "b_memory_hog": _with(released, solution=WORKING, before_test=MEMORY_HOG),
        "c_busy": _with(released, solution=WORKING, after=BUSY),
        "d_slow_cells": _with(released, solution=WORKING, after=SLOW),
        "honest_1": _with(released, solution=WORKING),
        "honest_2": _with(released, solution=WORKING),
        "honest_3": _with(released, solution=WORKING),
    }
    for _ in range(5):  # many slow cells: each within its limit, the notebook over its own
        notebooks["d_slow_cells"].cells.append(nbformat.v4.new_code_cell(SLOW))
    for student, nb in notebooks.items():
        (subs / student).mkdir(parents=True)
        nbformat.write(nb, subs / student / f"{NAME}.ipynb")
    grades = autograde(subs, course=root / "classroom", out=tmp_path / "grades", timeout=15,
                       check_timeout=30, workers=2, notebook_timeout=30)  # fmt: skip
    rows = {g.student: g for g in grades}
    for student in ("honest_1", "honest_2", "honest_3"):
        assert (rows[student].status, rows[student].score) == ("graded", 2), rows[student]
    assert "in all and was stopped" in rows["d_slow_cells"].problems
    assert "CellTimeoutError" in rows["c_busy"].problems
    assert not _sandboxed_processes(), "a sandbox outlived its grading"
    left = [p for p in Path("/sys/fs/cgroup").rglob("aecourse-*") if p.is_dir()]
    assert left == [], left
