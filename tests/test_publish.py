"""The book builds offline from the committed lessons with every figure; the slides load
nothing from the network; reader copies keep no hidden test."""

import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from aecourse.publish import build_book, build_slides, mark_slides, reader_copy, slide_type
from aecourse.running import LESSONS_DIR, find_lessons

LESSONS = find_lessons(LESSONS_DIR)
BOOK = Path(__file__).resolve().parents[1] / "book"


def _images(notebook: nbformat.NotebookNode) -> int:
    return sum(
        1
        for cell in notebook.cells
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    )


def test_reader_copy_drops_hidden_tests_and_markers_only():
    for path in LESSONS:
        source = nbformat.read(path, as_version=4)
        copy = reader_copy(source)
        text = "\n".join(c.source for c in copy.cells)
        assert "HIDDEN TESTS" not in text and "### BEGIN SOLUTION" not in text
        assert "NBVAL_CHECK_OUTPUT" not in text
        assert "importlib.reload" not in text  # the hidden test itself
        assert len(copy.cells) == len(source.cells)
        assert _images(copy) == _images(source)
        assert "### BEGIN SOLUTION" in "\n".join(c.source for c in source.cells)  # untouched


def test_slide_types():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    assert slide_type(md("## Training")) == "slide"
    assert slide_type(md("Some prose")) == "subslide"
    assert slide_type(code("x = 1")) == "fragment"
    params = code("profile = None")
    params.metadata["tags"] = ["parameters"]
    assert slide_type(params) == "skip"
    nb = nbformat.v4.new_notebook(cells=[md("# Title"), code("x = 1")])
    nb.cells[1].metadata["slideshow"] = {"slide_type": "notes"}  # set by an author: kept
    assert mark_slides(nb) == 1
    assert [c.metadata.slideshow.slide_type for c in nb.cells] == ["slide", "notes"]


def test_every_lesson_cell_has_slide_metadata():
    for path in LESSONS:
        nb = nbformat.read(path, as_version=4)
        assert all("slide_type" in c.metadata.get("slideshow", {}) for c in nb.cells), path.name


@pytest.fixture(scope="module")
def book_html():
    shutil.rmtree(BOOK / "_build" / "html", ignore_errors=True)  # a clean, full build
    return build_book()  # raises on any Sphinx warning


def test_book_has_every_lesson_page_with_its_figures(book_html):
    for path in LESSONS:
        page = book_html / "lessons" / f"{path.stem}.html"
        assert page.is_file(), page
        html = page.read_text()
        sources = re.findall(r'<img[^>]+src="([^"]+)"', html)
        figures = [s for s in sources if "_images/" in s]
        assert len(figures) == _images(nbformat.read(path, as_version=4)), path.name
        for src in figures:
            assert (page.parent / src).resolve().is_file(), src
        assert "HIDDEN TESTS" not in html
    for page in ("index.html", "intro.html", "running.html", "instructors.html"):
        assert (book_html / page).is_file(), page
    instructors = (book_html / "instructors.html").read_text()
    assert "Classroom assignments" in instructors and "Slides" in instructors


def test_slides_load_only_local_files(tmp_path):
    slides = build_slides(out=tmp_path)
    assert [p.name for p in slides] == [f"{p.stem}.slides.html" for p in LESSONS]
    for path in slides:
        html = path.read_text()
        urls = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
        urls += re.findall(r"import \w+ from '([^']+)'", html)
        urls += re.findall(r'"((?:vendor)/[^"]+\.js)"', html)  # require.js module paths
        assert urls, "the slides load no scripts at all?"
        for url in urls:
            assert not re.match(r"(https?:)?//", url), f"{path.name} loads {url} from the network"
            assert (tmp_path / url.split("?")[0]).is_file(), url
        assert 'data-slide-type="slide"' in html or "<section" in html


def test_book_execute_option_reruns_the_reader_copies_with_the_reference_settings(
    monkeypatch, tmp_path
):
    import aecourse.publish as publish

    ignore = shutil.ignore_patterns("_build", "lessons", "node_modules")
    shutil.copytree(BOOK, tmp_path / "book", ignore=ignore)
    shutil.copyfile(BOOK.parent / "README.md", tmp_path / "README.md")  # the book includes it
    ran = []
    monkeypatch.setattr(
        publish, "execute_in_place", lambda p: ran.append((p, os.environ["AECOURSE_PROFILE"]))
    )
    monkeypatch.setenv("AECOURSE_PROFILE", "full")
    build_book(execute=True, book_dir=tmp_path / "book")
    assert [(p.name, profile) for p, profile in ran] == [(p.name, "quick") for p in LESSONS]
    assert all(p.parent == tmp_path / "book" / "lessons" for p, _ in ran)
    assert os.environ["AECOURSE_PROFILE"] == "full"  # restored afterwards
