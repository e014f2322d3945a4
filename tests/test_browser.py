"""A real browser in JupyterLab: the instructor's Lesson 03 runs and its latent explorer answers
a slider; a learner's ``make lab`` opens their own student copies with no nbgrader authoring UI
and no news pop-up, and a lesson not yet run shows its widgets as a note, not a raw repr.
Headless Debian Chromium (the ``browser`` fixture). About a minute on 2 cores; screenshots in
``build/browser/``."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

from aecourse.teach.editions import student_workspace
from aecourse.teach.lab import learner_lab_command
from aecourse.teach.lessons import (
    LESSONS_DIR,
    REFERENCE_ENV,
    execute_in_place,
    outputs_cpu_kind,
    this_cpu_kind,
)

SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "browser"
LESSON = "03_variational_autoencoder.ipynb"
NBGRADER_UI = "@jupyter/nbgrader:create-assignment"
NEWS = "@jupyterlab/apputils-extension:announcements"
TOKEN = "aecourse-test"
# The instructor's lab runs Lesson 03 in the grading profile (every cell, training cut short:
# seconds, not the quick profile's minute and a half, which nbval already runs), and its
# numbers are compared with a headless run of the same profile.
GRADING = {"AECOURSE_PROFILE": "grading"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyterlab(command: list[str], root: Path, env: dict[str, str]):
    """JupyterLab on loopback (``command`` plus the test's port and token); yields its URL."""
    port = _free_port()
    token = f"--IdentityProvider.token={TOKEN}"
    command = [*command, "--no-browser", "--ip=127.0.0.1", f"--port={port}", token,
               "--LabApp.expose_app_in_browser=True"]  # fmt: skip
    env = {"JUPYTER_CONFIG_DIR": str(root / ".jupyter"), **os.environ, **REFERENCE_ENV, **env}
    log_path = root.parent / f"{root.name}-jupyterlab.log"  # not among the notebooks
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(120):
                try:
                    urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                    break
                except OSError:
                    if server.poll() is not None:
                        pytest.fail(f"JupyterLab exited: {log_path.read_text()[-2000:]}")
                    time.sleep(0.5)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The instructor's JupyterLab (nbgrader's UI on) serving a copy of Lesson 03, started as
    ``make lab-instructor`` starts it: kernels over Unix sockets, ``--allow-root`` as root."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copyfile(LESSONS_DIR / LESSON, root / LESSON)
    sockets = tmp_path_factory.mktemp("sockets") / "kernel"
    command = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={root}",
               "--KernelManager.transport=ipc", f"--KernelManager.ip={sockets}"]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    with jupyterlab(command, root, GRADING) as url:
        yield url
    log = (root.parent / f"{root.name}-jupyterlab.log").read_text()
    assert "without encryption" not in log  # the kernel talked over Unix sockets, not TCP


@pytest.fixture(scope="module")
def learner_lab(tmp_path_factory):
    """What ``make lab`` opens: the learner's workspace of student copies."""
    workspace = tmp_path_factory.mktemp("learner") / "work"
    student_workspace(workspace)
    command, env, _ = learner_lab_command(workspace)
    with jupyterlab(command, workspace, env) as url:
        yield url, workspace


def _open(browser, url: str, notebook: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{url}/lab/tree/{notebook}?token={TOKEN}")
    page.wait_for_function("window.jupyterapp !== undefined", timeout=60_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    return page, console


def _has_plugin(page, plugin: str) -> bool:
    return page.evaluate("id => window.jupyterapp.hasPlugin(id)", plugin)


def test_latent_explorer_slider_redraws_the_image(browser, lab, tmp_path, monkeypatch):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page, _ = _open(browser, lab, LESSON)
    assert _has_plugin(page, NBGRADER_UI)  # the instructor's lab keeps nbgrader's UI
    page.wait_for_function(  # the kernel has started and is idle
        "document.querySelector('.jp-Notebook') && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
        " === 'idle'",
        timeout=120_000,
    )
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    # The explorer's sliders appear once the model above it has trained.
    slider = page.wait_for_selector(".widget-slider .noUi-handle", timeout=300_000)
    image = page.wait_for_selector(".widget-image", timeout=60_000)
    slider.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    before = image.get_attribute("src")
    readout = page.query_selector(".widget-slider .widget-readout")
    value_before = readout.inner_text()
    slider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([el, old]) => el.getAttribute('src') !== old", arg=[image, before], timeout=30_000
    )
    after = image.get_attribute("src")
    value_after = readout.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "lesson03_latent_explorer.png"))
    errors = page.query_selector_all(".jp-OutputArea-output[data-mime-type*='error']")
    printed = page.wait_for_function(  # from the notebook's model: off-screen cells too
        """() => {
            for (const cell of window.jupyterapp.shell.currentWidget.content.model.cells) {
                for (const out of cell.type === 'code' ? cell.outputs.toJSON() : []) {
                    const text = [].concat(out.text || []).join('');
                    if (text.includes('most used: ')) { return text; }
                }
            }
            return null;
        }""",
        timeout=120_000,
    ).json_value()
    page.close()
    # The same seed prints the same numbers in JupyterLab as in a headless run (nbclient) with
    # the same settings.
    headless = tmp_path / LESSON
    shutil.copyfile(LESSONS_DIR / LESSON, headless)
    for key, value in {**REFERENCE_ENV, **GRADING}.items():
        monkeypatch.setenv(key, value)
    execute_in_place(headless)
    assert outputs_cpu_kind(nbformat.read(headless, as_version=4)) == this_cpu_kind()
    expected = [line.strip() for line in headless.read_text().splitlines()
                if line.strip().startswith('"most used: ')]  # fmt: skip
    line = next(x for x in printed.splitlines() if x.startswith("most used: "))
    assert expected and line in expected[0], (line, expected)
    assert value_after != value_before, (value_before, value_after)
    assert after and after != before
    assert not errors, "a cell of Lesson 03 failed in JupyterLab"


def test_make_lab_opens_the_learners_student_copies_without_authoring_ui(browser, learner_lab):
    url, workspace = learner_lab
    assert sorted(p.name for p in workspace.glob("*.ipynb")) == sorted(
        p.name for p in LESSONS_DIR.glob("[0-9][0-9]_*.ipynb")
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page, console = _open(browser, url, "02_denoising_autoencoder.ipynb")
    page.wait_for_timeout(3000)  # plugins settle, a news pop-up would have shown
    text = page.inner_text("body")
    assert not _has_plugin(page, NBGRADER_UI) and not _has_plugin(page, NEWS)
    assert "Create Assignment" not in text and "Formgrader" not in text
    assert "official Jupyter news" not in text
    # The committed output of the noise explorer's cell, as JupyterLab draws it before any run.
    widget_output = page.evaluate(
        """async () => {
            const notebook = window.jupyterapp.shell.currentWidget.content;
            const index = notebook.widgets.findIndex(
                cell => cell.model.sharedModel.getSource().startsWith("noise_explorer("));
            await notebook.scrollToItem(index);
            await new Promise(resolve => setTimeout(resolve, 1000));
            const area = notebook.widgets[index].outputArea.node;
            return area.querySelector('.jp-OutputArea-output').innerText;
        }"""
    )
    page.screenshot(path=str(SCREENSHOTS / "learner_lab_lesson02.png"))
    page.close()
    assert widget_output.strip() == "[noise slider: run this cell in JupyterLab to use it]"
    assert not [m for m in console if "model not found" in m.lower()], console
    with pytest.raises(urllib.error.HTTPError, match="404"):  # nbgrader's server side is off
        urllib.request.urlopen(f"{url}/formgrader?token={TOKEN}", timeout=10)
    exercise = (workspace / "02_denoising_autoencoder.ipynb").read_text()
    assert "raise NotImplementedError()" in exercise and "nbgrader" not in exercise
