"""A real browser: JupyterLab opens Lesson 03, runs it, and the latent explorer answers a
slider. Headless Debian Chromium driven by Playwright (``playwright install`` cannot download
browsers here, so the system's chromium is used). About 2 minutes on 2 cores. The screenshot
is kept in ``build/browser/``."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from aecourse.running import LESSONS_DIR, REFERENCE_ENV

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "browser"
LESSON = "03_variational_autoencoder.ipynb"

if CHROMIUM is None and os.environ.get("AECOURSE_REQUIRE_BROWSER"):
    pytest.fail("AECOURSE_REQUIRE_BROWSER is set but chromium is not installed", pytrace=False)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs chromium (Debian: apt-get install chromium; make test does)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on loopback, serving a copy of the lessons (so runs do not touch them)."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copyfile(LESSONS_DIR / LESSON, root / LESSON)
    port, token = _free_port(), "aecourse-test"
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
        f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    env = {**os.environ, **REFERENCE_ENV, "JUPYTER_CONFIG_DIR": str(root / ".jupyter")}
    log = open(root / "jupyterlab.log", "w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited: {(root / 'jupyterlab.log').read_text()[-2000:]}")
            time.sleep(0.5)
    yield url, token, root
    server.terminate()
    server.wait(timeout=30)
    log.close()


def test_latent_explorer_slider_redraws_the_image(lab):
    from playwright.sync_api import sync_playwright

    url, token, root = lab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/lab/tree/{LESSON}?token={token}")
        page.wait_for_function("window.jupyterapp !== undefined", timeout=60_000)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
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
        browser.close()
    assert value_after != value_before, (value_before, value_after)
    assert after and after != before
    assert not errors, "a cell of Lesson 03 failed in JupyterLab"
