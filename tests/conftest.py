"""Shared fixtures: the offline MNIST sample, loaded once per test session; a headless browser.
And one choice of what runs: Lesson 05 under nbval once, on another CPU kind where one is
imitated (``test_cpu_kinds``)."""

import os
import shutil

import pytest
import torch

from aecourse.data import load_mnist


@pytest.fixture(scope="session")
def mnist():
    return load_mnist("sample", verbose=False)


@pytest.fixture
def digits(mnist) -> torch.Tensor:
    """A small slice of real digits for fast training tests."""
    return mnist.train.x[:512]


@pytest.fixture(autouse=True)
def no_lesson_left_running():
    """A test that starts a lesson must not leave it to count and save the next test's steps."""
    yield
    from aecourse import results

    results._current = None


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (``playwright install`` cannot download
    browsers here). Skipped without chromium, unless AECOURSE_REQUIRE_BROWSER is set (CI)."""
    if CHROMIUM is None:
        message = "needs chromium (Debian: apt-get install chromium; make test installs it)"
        if os.environ.get("AECOURSE_REQUIRE_BROWSER"):
            pytest.fail(f"AECOURSE_REQUIRE_BROWSER is set but chromium is missing: {message}")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


IMITATION_TEST = "test_cpu_kinds.py::test_checked_outputs_hold_with_the_kernels_one_kind_lower"


def pytest_collection_modifyitems(config, items):
    """Where the CPU-kind test will run the closest lessons under nbval with another kind's
    kernels, nbval's own pass over them on this machine's kernels (the ones that wrote their
    outputs) is deselected: the lesson runs once, on the kind that tests the outputs harder."""
    if not any(item.nodeid.endswith(IMITATION_TEST) for item in items):
        return
    from test_cpu_kinds import closest_lessons, imitated_kind

    if imitated_kind()[0] is None:
        return
    notebooks = {str(path) for path in closest_lessons()}
    twice = [item for item in items if str(item.path) in notebooks]
    if twice:
        config.hook.pytest_deselected(items=twice)
        items[:] = [item for item in items if item not in twice]
