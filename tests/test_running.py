"""The course runner on tiny notebooks: a good one, a failing one, and the command line."""

import json

import nbformat
import pytest
import torch

from aecourse.__main__ import main
from aecourse.results import device_name
from aecourse.teach.lessons import (
    LESSONS_DIR,
    REFERENCE_ENV,
    WIDGET_VIEW,
    find_lessons,
    without_widget_views,
)
from aecourse.teach.runner import format_table, run_course

PARAMETERS = "profile = None\ndata_source = None\nresults_path = None"
SETUP = (
    "import aecourse\n"
    "lesson = aecourse.start_lesson('{n}', profile=profile, data_source=data_source,\n"
    "                               device='cpu', results_path=results_path)"
)


def _notebook(path, n, body):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(SETUP.format(n=n)),
        nbformat.v4.new_code_cell(body),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


@pytest.fixture
def lessons(tmp_path):
    folder = tmp_path / "lessons"
    folder.mkdir()
    _notebook(
        folder / "01_good.ipynb",
        "01",
        "aecourse.record('val_mse', 0.125)\naecourse.record_context(data_source='sample')\n"
        "import torch\nopt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)\n"
        "for _ in range(3):\n    opt.step()\n"
        "aecourse.verdict('val MSE within 5% of PCA', True)",
    )
    _notebook(
        folder / "02_broken.ipynb",
        "02",
        "aecourse.record('partial', 1)\nraise ValueError('the model exploded')",
    )
    _notebook(
        folder / "03_also_good.ipynb",
        "03",
        "aecourse.record('epochs', 2)\n"
        "aecourse.record_context(warnings=['skipped 2 files gray or nearly gray: a.png, b.png'])\n"
        "aecourse.verdict_on_margin('Lab beats gray by 1 dB', 0.1, 0.4, ' dB')",
    )
    return folder


def test_summary_for_good_and_failing_lessons(lessons, tmp_path, capsys):
    runs, run_dir = run_course(
        profile="quick", out=tmp_path / "run", lessons_dir=lessons, progress=False
    )
    assert [r.status for r in runs] == ["ok", "failed", "ok"]  # kept going after 02
    # What a lesson warned about (photos skipped ...) reaches the console, not only the notebook.
    assert (
        "   warning: skipped 2 files gray or nearly gray: a.png, b.png" in capsys.readouterr().out
    )
    summary = json.loads((run_dir / "summary.json").read_text())["lessons"]
    good = summary["01"]
    assert good["metrics"] == {"val_mse": 0.125}
    assert good["context"] == {
        "lesson": "01",
        "profile": "quick",
        "data_source": "sample",
        "device": "cpu",
        "device_name": device_name(torch.device("cpu")),
        "threads": 2,
        "optimizer_steps": 3,
    }
    assert good["verdicts"] == {"val MSE within 5% of PCA": True}
    assert good["seconds"] > 0 and good["error"] is None
    broken = summary["02"]
    assert broken["status"] == "failed"
    assert "In [4] (\"aecourse.record('partial', 1)\")" in broken["error"]
    assert "ValueError: the model exploded" in broken["error"]
    assert broken["metrics"] == {"partial": 1}  # numbers recorded before the failure survive
    assert (run_dir / "02_broken.ipynb").is_file()  # the executed notebook shows the error
    table = format_table(runs)
    assert "val_mse" in table and "the model exploded" in table
    assert "val MSE within 5% of PCA: True" in table
    assert table.splitlines()[1].split()[:4] == ["01", "ok", f"{runs[0].seconds:.1f}", "3"]
    # A margin inside the spread between CPU kinds is recorded as None and reads so.
    assert summary["03"]["verdicts"] == {"Lab beats gray by 1 dB": None}
    assert "Lab beats gray by 1 dB: too close to call" in table


def test_command_line_exit_codes(lessons, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        "aecourse.teach.runner.run_course", lambda **kw: run_course(lessons_dir=lessons, **kw)
    )

    def run(*numbers: str) -> int:
        out = str(tmp_path / "-".join(numbers))
        return main(
            ["run", "--profile", "quick", "--no-progress", "--out", out, "--lessons", *numbers]
        )

    assert run("01") == 0
    assert "val_mse" in capsys.readouterr().out
    assert run("02", "03") == 1
    assert "FAILED lessons: 02" in capsys.readouterr().err
    assert main(["run", "--lessons", "07"]) == 2
    assert "No lesson numbered 07" in capsys.readouterr().err


def test_unknown_profile_on_the_command_line(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--profile", "turbo"])
    assert "invalid choice: 'turbo'" in capsys.readouterr().err


def test_find_lessons_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No lessons folder"):
        find_lessons(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="No lesson notebooks"):
        find_lessons(tmp_path)


def test_the_course_has_numbered_lessons():
    names = [p.name for p in find_lessons()]
    assert names[0] == "01_linear_autoencoder.ipynb"


def test_each_lesson_gets_only_the_parameters_it_declares(tmp_path):
    folder = tmp_path / "lessons"
    folder.mkdir()
    _notebook(folder / "01_mnist.ipynb", "01", "aecourse.record('source', lesson.data_source)")
    nb = nbformat.read(folder / "01_mnist.ipynb", as_version=4)
    nb.cells[0].source = "profile = None\nphoto_source = None\nresults_path = None"
    nb.cells[1].source = (
        "import aecourse\nlesson = aecourse.start_lesson('02', profile=profile, "
        "photo_source=photo_source, device='cpu', results_path=results_path, data='photos')"
    )
    nb.cells[2].source = (
        "aecourse.record('source', lesson.photo_source)\n"
        "aecourse.record('mnist', lesson.data_source)"
    )
    nbformat.write(nb, folder / "02_photos.ipynb")
    runs, run_dir = run_course(
        profile="quick", out=tmp_path / "run", lessons_dir=folder, progress=False,
        data_source="sample", photo_source="my_photos",
    )  # fmt: skip
    assert [r.status for r in runs] == ["ok", "ok"]
    assert runs[0].metrics == {"source": "sample"}
    assert runs[1].metrics == {"source": "my_photos", "mnist": None}  # one source per kind
    assert runs[1].context["photo_source"] == "my_photos" and "data_source" not in runs[1].context
    executed = (run_dir / "02_photos.ipynb").read_text()
    assert "data_source = " not in executed  # not offered to a lesson that does not declare it


def test_make_test_runs_nbval_with_the_reference_settings():
    """`make test` (nbval) and `python -m aecourse refresh` must agree on how lessons run."""
    makefile = (LESSONS_DIR.parent / "Makefile").read_text()
    line = next(x for x in makefile.splitlines() if x.startswith("REFERENCE_ENV :="))
    settings = dict(item.split("=", 1) for item in line.split(":=", 1)[1].split())
    assert settings == REFERENCE_ENV


def test_the_full_profile_on_a_cpu_warns_before_it_starts(lessons, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AECOURSE_DEVICE", "cpu")
    run_course(profile="full", lessons=["03"], out=tmp_path / "run", lessons_dir=lessons,
               progress=False, data_source="sample")  # fmt: skip
    assert "WARNING: the full profile on a CPU: lesson 03 takes about" in capsys.readouterr().out


def test_saved_outputs_keep_a_widgets_note_but_not_its_view():
    out = nbformat.v4.new_output
    cell = nbformat.v4.new_code_cell("explorer()")
    cell.outputs = [
        out("display_data", data={WIDGET_VIEW: {"model_id": "1"}, "text/plain": "[a note]"}),
        out("display_data", data={WIDGET_VIEW: {"model_id": "2"}}),  # nothing left: dropped
        out("stream", name="stdout", text="kept\n"),
    ]
    nb = without_widget_views(nbformat.v4.new_notebook(cells=[cell]))
    assert [o.get("data", o.get("text")) for o in nb.cells[0].outputs] == [
        {"text/plain": "[a note]"},
        "kept\n",
    ]
