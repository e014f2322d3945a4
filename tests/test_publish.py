"""What readers and learners are shown: the student edition of the book, the slides and the
learner's copies hold no answer, the instructor edition holds them all; the book and slides
load nothing from the network; slides are driven by the right arrow; committed outputs are
readable and carry no warning, path or raw widget repr."""

import functools
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from aecourse.steps import LESSON_MODULES, lesson_steps
from aecourse.teach import EDITIONS
from aecourse.teach.book import build_book, install_web_assets
from aecourse.teach.editions import edition_copy, student_workspace
from aecourse.teach.judging import step_calls
from aecourse.teach.lessons import LESSONS_DIR, WIDGET_VIEW, find_lessons
from aecourse.teach.markup import STUB, exercises, solution_lines, student_source
from aecourse.teach.slides import HEADING, build_slides, mark_slides, slide_type, split_at_headings

LESSONS = find_lessons(LESSONS_DIR)
ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def _source(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


IMAGES = ("image/png", "image/jpeg")


def _images(notebook: nbformat.NotebookNode) -> int:
    return sum(
        1
        for cell in notebook.cells
        for out in cell.get("outputs", [])
        if set(IMAGES) & set(out.get("data", {}))
    )


def _answers(source: nbformat.NotebookNode) -> list[str]:
    """What the student edition must not show: the solution and hidden-test lines, and every
    line the graded test cells printed (the hidden tests print there too)."""
    secrets = solution_lines(source)
    for cell in source.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            for out in cell.get("outputs", []):
                secrets += [x.strip() for x in out.get("text", "").splitlines() if x.strip()]
    assert secrets
    return secrets


def _text(page: str) -> str:
    """An HTML page's text, as a reader would copy it (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


# --- editions, cell by cell ----------------------------------------------------------------


def test_student_source_is_the_released_exercise():
    source = (
        "class Tied:\n    def forward(self, x):\n        ### BEGIN SOLUTION\n"
        "        return x @ w\n        ### END SOLUTION\n"
    )
    assert student_source(source) == (
        f"class Tied:\n    def forward(self, x):\n        {STUB[0]}\n        {STUB[1]}"
    )
    test = "# NBVAL_CHECK_OUTPUT\ncheck(f)\n### BEGIN HIDDEN TESTS\ncheck(f, seed=1)\n" \
           "### END HIDDEN TESTS"  # fmt: skip
    assert student_source(test) == "check(f)"


def test_editions_of_every_lesson():
    for path in LESSONS:
        source = _source(path)
        student, instructor = (edition_copy(source, e) for e in EDITIONS)
        assert len(student.cells) == len(source.cells) == len(instructor.cells) - 1
        assert "nbgrader" not in json.dumps(student)
        text = "\n".join(c.source for c in student.cells)
        for line in solution_lines(source):
            assert line not in text, (path.name, line)
        graded = [i for i, c in enumerate(source.cells) if c.metadata.get("nbgrader")]
        assert all(not student.cells[i].get("outputs") for i in graded)
        # An untouched copy shows no verdict on steps its learner has not written yet.
        reports = [
            c for c in student.cells if "show_steps(" in c.source or "check_step(" in c.source
        ]
        assert reports and all(not c.get("outputs") for c in reports), path.name
        assert _images(student) == _images(source)  # the lecture keeps its figures
        text = "\n".join(c.source for c in instructor.cells)
        assert all(line in text for line in solution_lines(source)), path.name
        assert "Instructor edition" in instructor.cells[1].source
        code = [i for i in graded if source.cells[i].cell_type == "code"]
        assert all("hide-input" in instructor.cells[i + 1].metadata["tags"] for i in code)
        # Written answers: nbgrader's stub for the student, the model answer in a fold for the
        # instructor edition's reader; at least three per lesson, a point each.
        written = [i for i in graded if source.cells[i].cell_type == "markdown"]
        assert len(written) >= 3, path.name
        assert all(student.cells[i].source == "YOUR ANSWER HERE" for i in written)
        for i in written:
            fold = instructor.cells[i + 1].source
            assert fold.startswith("````{admonition} Check your answer\n:class: dropdown")
            assert "**Model answer.**" in fold and "### BEGIN SOLUTION" not in fold
            assert source.cells[i].metadata["nbgrader"]["points"] > 0
        for notebook in (student, instructor):
            assert "NBVAL_CHECK_OUTPUT" not in "\n".join(c.source for c in notebook.cells)
            assert WIDGET_VIEW not in json.dumps(notebook)
    with pytest.raises(ValueError, match="edition"):
        edition_copy(_source(LESSONS[0]), "teacher")


def test_the_learners_copy_checks_an_answer_with_its_visible_test():
    """In the student edition the stub fails its test cell and the right answer passes it, run
    as a learner would, in one process per lesson: the lesson's parameter and import cells,
    then for each exercise in turn its stub and test, its answer and test (a lesson's steps
    build on the ones before: the autoencoder on its encoder)."""
    for path in LESSONS:
        source = _source(path)
        student = edition_copy(source, "student")
        tagged = [c.source for c in student.cells
                  if {"parameters", "imports"} & set(c.metadata.get("tags", []))]  # fmt: skip
        index = {c.metadata.get("nbgrader", {}).get("grade_id"): i
                 for i, c in enumerate(source.cells)}  # fmt: skip
        script, found = "\n".join(tagged), exercises(source)
        for number, exercise in enumerate(found):
            stub = student.cells[index[exercise.solution_id]].source
            test = student.cells[index[exercise.test_id]].source
            answer = "\n".join(x for x in source.cells[index[exercise.solution_id]].source
                               .splitlines() if "### " not in x)  # fmt: skip
            assert STUB[1] in stub and test.strip() == exercise.visible.replace(
                "# NBVAL_CHECK_OUTPUT", "").strip()  # fmt: skip
            script += (
                f"\nprint('=== exercise {number}')\ntry:\n    exec({stub!r})\n"
                f"    exec({test!r})\nexcept Exception as err:\n"
                f"    print('STUB FAILS:', type(err).__name__, err)\n"
                f"print('=== answer')\nexec({answer!r})\nexec({test!r})\n"
            )
        env = {**os.environ, "MPLBACKEND": "Agg", "AECOURSE_PROGRESS": "0",
               "AECOURSE_PROFILE": "quick", "AECOURSE_DEVICE": "cpu"}  # fmt: skip
        script = "import sys\nsys.stderr = sys.stdout\n" + script  # a stand-in says so there
        result = subprocess.run([sys.executable, "-c", script], capture_output=True,
                                text=True, env=env, cwd=LESSONS_DIR, timeout=600)  # fmt: skip
        assert result.returncode == 0, (path.name, result.stderr[-2000:])
        printed = result.stdout.split("=== exercise ")[1:]
        assert len(printed) == len(found), (path.name, result.stdout[-2000:])
        for exercise, said in zip(found, printed, strict=True):
            steps = step_calls(exercise.visible)
            passed = f"✓ {steps[0][1]}: " if steps else "Correct"  # a build step, or a check
            stub_said, _, answer_said = said.partition("=== answer")
            assert answer_said and passed not in stub_said, (path.name, exercise.test_id, said)
            # a step's stub is stood in for, and says so; any other exercise's stub fails
            unwritten = "is not written yet" if steps else "STUB FAILS:"
            assert unwritten in stub_said, (path.name, exercise.test_id, said)
            assert passed in answer_said, (path.name, exercise.test_id, said)


def test_student_workspace_never_overwrites_a_learners_copy(tmp_path):
    added = student_workspace(tmp_path)
    assert [p.name for p in added] == [p.name for p in LESSONS]
    mine = tmp_path / LESSONS[0].name
    mine.write_text(mine.read_text().replace(STUB[1], "pass  # my answer"))
    (tmp_path / LESSONS[1].name).unlink()  # deleted: it comes back afresh
    again = student_workspace(tmp_path)
    assert [p.name for p in again] == [LESSONS[1].name]
    assert "my answer" in mine.read_text()


# --- slides, cell by cell ------------------------------------------------------------------


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


def test_every_heading_starts_a_slide_of_its_own():
    md = nbformat.v4.new_markdown_cell
    cell = md("Prose.\n\n## Try it\n\nMore.\n\n```python\n# not a heading\n```\n### Detail\nEnd.")
    cell.metadata["slideshow"] = {"slide_type": "subslide"}
    nb = split_at_headings(nbformat.v4.new_notebook(cells=[md("# Title\n\nIntro."), cell]))
    assert [c.source.splitlines()[0] for c in nb.cells] == ["# Title", "Prose.", "## Try it",
                                                            "### Detail"]  # fmt: skip
    assert "# not a heading" in nb.cells[2].source
    kinds = [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]
    assert kinds == [None, "subslide", "slide", "subslide"]


def test_every_lesson_cell_has_slide_metadata():
    for path in LESSONS:
        nb = _source(path)
        assert all("slide_type" in c.metadata.get("slideshow", {}) for c in nb.cells), path.name


# --- committed outputs -----------------------------------------------------------------------

PATHS = re.compile(r"(/(?:home|root|tmp|work|usr|opt|Users|var)/|site-packages|[A-Z]:\\)")


def test_committed_outputs_are_readable_lean_and_clean():
    """Figures fill the book's column; nothing warns, shows a machine's path or a raw widget."""
    import base64
    import io

    from PIL import Image

    for path in LESSONS:
        for i, cell in enumerate(_source(path).cells):
            for out in cell.get("outputs", []):
                where = f"{path.name} cell {i}"
                text = out.get("text", "") + out.get("data", {}).get("text/plain", "")
                assert not (out.get("name") == "stderr" and "Warning" in text), (where, text)
                assert not PATHS.search(text), (where, text[:300])
                assert not text.startswith(("VBox(", "HBox(")), where
                assert WIDGET_VIEW not in out.get("data", {}), where
                for kind in set(IMAGES) & set(out.get("data", {})):
                    data = base64.b64decode(out["data"][kind])
                    width = Image.open(io.BytesIO(data)).width
                    assert 600 <= width <= 688, (where, width)  # the book's column: ~690 px
                    assert len(data) < 100_000, (where, kind, len(data))


def test_lesson_running_times_match_the_readme():
    """Each lesson states its quick-profile time; the README's table says the same."""
    readme = (ROOT / "README.md").read_text()
    table = readme.split("### Expected results (quick profile, CPU)")[1].split("###")[0]
    for path in LESSONS:
        intro = _source(path).cells[0].source
        stated = re.search(r"Running time: about (\d+) seconds", intro)
        assert stated, (path.name, "states no running time in seconds")
        row = re.search(rf"^\| {path.name[:2]} \|.*\| ~(\d+) s \|$", table, re.M)
        assert row, (path.name, "has no ~N s row in the README's table")
        assert stated.group(1) == row.group(1), path.name


# --- built book and slides -------------------------------------------------------------------


@pytest.fixture(scope="module")
def books():
    """Both editions of the book, each built clean (and raising on any Sphinx warning)."""
    built = {}
    for edition in EDITIONS:
        shutil.rmtree(BOOK / "_build" / ("html" if edition == "student" else "instructor"),
                      ignore_errors=True)  # fmt: skip
        built[edition] = build_book(edition=edition)
    return built


@pytest.fixture(scope="module")
def slides(tmp_path_factory):
    out = tmp_path_factory.mktemp("slides")
    return {e: build_slides(out=out / e, edition=e) for e in EDITIONS}


def test_student_edition_holds_no_answer_in_book_slides_or_downloads(books, slides):
    for n, path in enumerate(LESSONS):
        answers = _answers(_source(path))
        student = {
            "book page": _text((books["student"] / "lessons" / f"{path.stem}.html").read_text()),
            "slides": _text(slides["student"][n].read_text()),
        }
        download = books["student"] / "_sources" / "lessons" / path.name
        notebook = json.loads(download.read_text())  # what the book's download button offers
        assert "nbgrader" not in download.read_text() and "grade_id" not in download.read_text()
        student["download"] = "\n".join(
            "".join(c["source"]) + "".join("".join(o.get("text", "")) for o in c.get("outputs", []))
            for c in notebook["cells"]
        )
        for where, text in student.items():
            assert STUB[1] in text, (path.name, where)
            for secret in answers:
                assert secret not in text, (path.name, where, secret)
        instructor = {
            "book page": _text((books["instructor"] / "lessons" / f"{path.stem}.html").read_text()),
            "slides": _text(slides["instructor"][n].read_text()),
        }
        code = _source(path)  # the code's solutions line by line; the written answers in folds
        code.cells = [c for c in code.cells if c.cell_type == "code"]
        for where, text in instructor.items():
            assert all(line in text for line in solution_lines(code)), (path.name, where)
            assert "Instructor edition" in text
        page = instructor["book page"]
        assert page.count("Check your answer") >= 3 and "Model answer." in page, path.name
        shown = slides["instructor"][n].read_text()  # folded as HTML, not the book's directive
        assert shown.count("<summary>Check your answer</summary>") >= 3, path.name
        assert "{admonition}" not in shown and ":class: dropdown" not in shown, path.name


def test_book_has_every_lesson_page_with_its_figures(books):
    for path in LESSONS:
        for edition, html_dir in books.items():
            page = html_dir / "lessons" / f"{path.stem}.html"
            figures = [s for s in re.findall(r'<img[^>]+src="([^"]+)"', page.read_text())
                       if "_images/" in s]  # fmt: skip
            assert len(figures) == _images(_source(path)), (path.name, edition)
            assert all((page.parent / src).resolve().is_file() for src in figures)
    for page in ("index.html", "intro.html", "running.html", "instructors.html"):
        assert (books["student"] / page).is_file(), page
    instructors = (books["student"] / "instructors.html").read_text()
    assert "Classroom assignments" in instructors and "Slides" in instructors
    steps = (books["student"] / "graded-steps.html").read_text()  # written from aecourse.steps
    for lesson in LESSON_MODULES:
        for step in lesson_steps(lesson):
            assert f'<span class="pre">{step.id}</span>' in steps, step.id
    assert "--steps linear_encoder" in steps
    index = (books["student"] / "intro.html").read_text()
    for path in LESSONS:  # the lesson table links to each lesson
        assert f'href="lessons/{path.stem}.html"' in index, path.stem


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def book_server(books):
    """The student book served on loopback, as a reader's browser would load it."""
    handler = functools.partial(_QuietHandler, directory=str(books["student"]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def _offline_page(browser, allowed: str):
    """A page whose requests outside ``allowed`` are blocked and counted, as are failed loads
    and console errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    log = {"outside": [], "failed": [], "errors": []}

    def route(request_route):
        if request_route.request.url.startswith(allowed):
            request_route.continue_()
        else:
            log["outside"].append(request_route.request.url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("requestfailed", lambda request: log["failed"].append(request.url))
    page.on("console", lambda m: m.type == "error" and log["errors"].append(m.text))
    page.on("pageerror", lambda error: log["errors"].append(str(error)))
    return context, page, log


def test_every_book_page_works_offline_with_its_math_and_readable_figures(
    browser, books, book_server
):
    pages = sorted(str(p.relative_to(books["student"])) for p in books["student"].rglob("*.html")
                   if not {"_static", "_sources"} & set(p.parts))  # fmt: skip
    assert len(pages) >= 10
    context, page, log = _offline_page(browser, book_server)
    for name in pages:
        page.goto(book_server + name, wait_until="networkidle")
        if name.startswith("lessons/"):
            page.wait_for_function("document.querySelectorAll('mjx-container').length > 0")
            raw = page.evaluate(r"() => document.querySelector('main').innerText")
            assert not re.search(r"\\\(|\\\[|\$\$", raw), f"{name}: math left raw"
            widths = page.evaluate(
                "() => [...document.querySelectorAll('.cell_output img')]"
                ".map(i => i.getBoundingClientRect().width)"
            )
            assert widths and min(widths) >= 600, (name, widths)  # not scaled down
    context.close()
    assert log == {"outside": [], "failed": [], "errors": []}, log


def test_slides_load_only_local_files(slides):
    for paths in slides.values():
        assert [p.name for p in paths] == [f"{p.stem}.slides.html" for p in LESSONS]
        for path in paths:
            page = path.read_text()
            urls = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
            urls += re.findall(r'"((?:vendor)/[^"]+\.js)"', page)  # require.js module paths
            assert urls, "the slides load no scripts at all?"
            for url in urls:
                assert not re.match(r"(https?:)?//", url), f"{path.name} loads {url}"
                assert (path.parent / url.split("?")[0]).is_file(), url
            assert not re.search(r"(In|Out)(&nbsp;|\s)?\[\d*\]:", page), path.name  # prompts


def test_slides_are_driven_by_the_right_arrow_and_keep_to_the_screen(browser, slides):
    """Pressing only the right arrow visits every slide; each heading starts its own slide;
    a slide taller than the screen scrolls and nothing runs off its right edge."""
    for path in slides["student"]:
        notebook = split_at_headings(edition_copy(_source(LESSONS_DIR / f"{path.stem[:-7]}.ipynb")))
        headings = [re.sub(r"[`*]", "", c.source.splitlines()[0].lstrip("#")).strip()
                    for c in notebook.cells
                    if c.cell_type == "markdown" and HEADING.match(c.source)]  # fmt: skip
        context, page, log = _offline_page(browser, "file://")
        page.goto(path.as_uri())
        page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=30_000)
        seen, total = {}, page.evaluate("() => Reveal.getTotalSlides()")
        for _ in range(2000):
            state = page.evaluate(
                """() => {
                const slide = Reveal.getCurrentSlide(), style = getComputedStyle(slide);
                const wide = [...slide.querySelectorAll('pre, img, .jp-OutputArea-output')]
                  .filter(el => el.getBoundingClientRect().right
                                > slide.getBoundingClientRect().right + 1
                           && !['auto', 'scroll'].includes(getComputedStyle(el).overflowX));
                return {key: JSON.stringify([Reveal.getIndices().h, Reveal.getIndices().v]),
                  headings: [...slide.querySelectorAll('h1, h2, h3, h4')]
                    .map(h => h.textContent.replace('¶', '').trim()),
                  cut: slide.scrollHeight > slide.clientHeight + 1
                       && !['auto', 'scroll'].includes(style.overflowY),
                  wide: wide.length, last: Reveal.isLastSlide()
                    && Reveal.availableFragments().next === false};
            }"""
            )
            seen[state["key"]] = state
            if state["last"]:
                break
            page.keyboard.press("ArrowRight")
        context.close()
        assert len(seen) == total, (path.name, "the right arrow skipped slides")
        on_slides = [h for s in seen.values() for h in s["headings"]]
        assert on_slides == headings, path.name
        assert all(len(s["headings"]) <= 1 for s in seen.values()), path.name
        assert not [k for k, s in seen.items() if s["cut"] or s["wide"]], path.name
        assert log == {"outside": [], "failed": [], "errors": []}, (path.name, log)


def test_book_execute_option_reruns_the_copies_with_the_reference_settings(monkeypatch, tmp_path):
    import aecourse.teach.book as publish

    ignore = shutil.ignore_patterns("_build", "lessons", "node_modules", "_vendor")
    shutil.copytree(BOOK, tmp_path / "book", ignore=ignore)
    (tmp_path / "book" / "node_modules").symlink_to(install_web_assets(BOOK))
    shutil.copyfile(ROOT / "README.md", tmp_path / "README.md")  # the book includes it
    ran = []
    monkeypatch.setattr(
        publish, "execute_in_place", lambda p: ran.append((p, os.environ["AECOURSE_PROFILE"]))
    )
    monkeypatch.setenv("AECOURSE_PROFILE", "full")
    build_book(execute=True, book_dir=tmp_path / "book")
    assert [(p.name, profile) for p, profile in ran] == [(p.name, "quick") for p in LESSONS]
    assert all(p.parent == tmp_path / "book" / "lessons" for p, _ in ran)
    assert os.environ["AECOURSE_PROFILE"] == "full"  # restored afterwards
