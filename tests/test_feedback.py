"""The feedback page of a graded notebook (aecourse.teach.feedback)."""

import re

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter

from aecourse.teach.feedback import TEMPLATE, feedback_page, sanitize
from aecourse.teach.gradebook import Grade

HOSTILE = 'x = "</div><script>alert(1)</script><img src=x onerror=alert(2)>"  # <b>bold</b>'


def _page(code: str) -> str:
    run = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    grade = Grade("ada", "01_tiny", 0, 2, "graded", "", "", [])
    return feedback_page(grade, run, nbformat.v4.new_notebook(), code, "header", {})


def test_a_code_cell_is_shown_escaped_whatever_it_holds():
    page = _page(HOSTILE)
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "<b>bold</b>" not in page
    text = re.sub(r"<[^>]+>", "", page.split('class="cm-editor cm-s-jupyter">')[1])
    assert "&lt;/div&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_the_input_is_nbconverts_own_markup_less_its_redundant_clean():
    """The template's input block gives the lab template's markup for any code."""
    cell = nbformat.v4.new_code_cell(HOSTILE + "\nfor i in range(3):\n    print(i ** 2)")
    notebook = nbformat.v4.new_notebook(cells=[cell])
    ours = HTMLExporter(template_file="f.j2", extra_loaders=[DictLoader({"f.j2": TEMPLATE})])
    ours.register_filter("sanitize", sanitize)
    lab = HTMLExporter(template_name="lab")

    def editor(page: str) -> str:
        return page.split('class="cm-editor cm-s-jupyter">')[1].split("</div>")[0].strip()

    assert editor(ours.from_notebook_node(notebook)[0]) == editor(
        lab.from_notebook_node(notebook)[0]
    )


# What a student can put in their own notebook to run script or restyle their page: each must
# arrive as inert text (or not at all) and run nothing; the real score stays in sight.
MARKDOWN_PAYLOADS = [
    "<script>window.pwned = 'markdown script'</script>",
    '<img src="x" onerror="window.pwned = \'img onerror\'">',
    "<style>h1, b, table { display: none !important }</style>",
    '<div style="position:fixed;top:0;left:0;width:100%;height:100%;background:white;'
    'z-index:99999;font-size:40px">14 of 14 points</div>',
    "[a link](javascript:window.pwned='javascript link')",
    "<iframe srcdoc=\"<script>parent.pwned='iframe'</script>\"></iframe>",
    "<svg><script>window.pwned = 'svg script'</script></svg>",
    "<svg onload=\"window.pwned = 'svg onload'\"></svg>",
    '<a href="#" onmouseover="window.pwned = \'handler\'" class="jp-Dialog">hover</a>',
    '<meta http-equiv="refresh" content="0;url=javascript:window.pwned=1">',
    '<form action="https://example.org"><input name="q"></form>',
    '<img src="https://example.org/track.png">',
]
OUTPUT_PAYLOADS = [
    {"text/html": "<script>window.pwned = 'html output'</script>"},
    {"text/html": '<img src="x" onerror="window.pwned = \'html onerror\'">'},
    {"text/markdown": "<script>window.pwned = 'markdown output'</script>"},
    {"application/javascript": "window.pwned = 'javascript output'"},
    {
        "image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg' onload='window.pwned=1'>"
        "<script>window.pwned = 'svg output'</script></svg>"
    },
    {"text/html": '<object data="javascript:window.pwned=1"></object><embed src="x.swf">'},
    {"text/html": '<link rel="stylesheet" href="data:text/css,b{display:none}"><base href="/">'},
]
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDlGHv"
    "1QAAAABJRU5ErkJggg=="
)


def _hostile_notebook() -> nbformat.NotebookNode:
    cells = [nbformat.v4.new_markdown_cell("The loss is $\\mathcal{L} = x^2$.")]
    cells += [nbformat.v4.new_markdown_cell(p) for p in MARKDOWN_PAYLOADS]
    code = nbformat.v4.new_code_cell("show()")
    for data in OUTPUT_PAYLOADS:
        code.outputs.append(nbformat.v4.new_output("display_data", data=data))
    forged = nbformat.v4.new_output(
        "display_data",
        data={"text/html": '<div class="aecourse-error" style="position:fixed">forged</div>'},
        metadata={"aecourse_grader": "a guess"},
    )
    code.outputs += [forged, nbformat.v4.new_output("display_data", data={"image/png": PNG})]
    return nbformat.v4.new_notebook(cells=[*cells, code])


def test_student_markup_is_reduced_to_inert_text():
    from aecourse.teach.feedback import summary

    grade = Grade("ada", "01_tiny", 0, 14, "graded", "", "", [])
    page = feedback_page(grade, _hostile_notebook(), nbformat.v4.new_notebook(), "",
                         summary(grade, True, "in a test"), {})  # fmt: skip
    body = page.split("<body", 1)[1]
    tags = _tags(body)
    forbidden = {"script", "style", "iframe", "svg", "form", "input", "meta", "object", "embed",
                 "link", "base"}  # fmt: skip
    assert not forbidden & {tag for tag, _ in tags}
    for tag, attrs in tags:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            assert not (name == "style" and "fixed" in (value or "")), (tag, value)
            assert not (value or "").lower().startswith("javascript:"), (tag, name)
            if tag == "img" and name == "src":
                assert value.startswith("data:image/"), value  # nothing fetched
    scripts = _tags(page.split("<body", 1)[0] + "".join(f"<{t}>" for t, _ in tags))
    assert all(("nonce" in dict(a)) for t, a in scripts if t == "script")
    assert 'src="data:image/png;base64,' in body  # figures stay
    assert "Content-Security-Policy" in page.split("<body", 1)[0]


def _tags(markup: str) -> list[tuple[str, list]]:
    from html.parser import HTMLParser

    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collect().feed(markup)
    return found


def test_a_hostile_page_runs_no_script_and_shows_the_real_score(tmp_path, browser):
    from aecourse.teach.feedback import add_mathjax, mathjax_source, summary

    grade = Grade("ada", "01_tiny", 0, 14, "graded", "", "", [])
    page = feedback_page(grade, _hostile_notebook(), nbformat.v4.new_notebook(), "",
                         summary(grade, True, "in a test"), {})  # fmt: skip
    (tmp_path / "ada.html").write_text(page)
    mathjax = mathjax_source()
    if mathjax is not None:
        add_mathjax(tmp_path, mathjax)
    tab = browser.new_page()
    dialogs, outside = [], []
    tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    tab.on("request", lambda r: outside.append(r.url) if not r.url.startswith("file:") else 0)
    tab.goto((tmp_path / "ada.html").as_uri())
    if mathjax is not None:
        tab.wait_for_selector("mjx-container", timeout=30_000)
    tab.mouse.move(200, 600)
    score = tab.get_by_text("0 of 14 points", exact=True)
    box = score.bounding_box()
    on_top = tab.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).textContent",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    shown = "[...document.images].filter(i => i.naturalWidth > 0).length"
    found = tab.evaluate(f"[window.pwned, document.images.length, {shown}]")
    tab.close()
    assert found[0] is None and dialogs == [] and outside == []
    assert "0 of 14 points" in on_top  # nothing covers it
    assert found[2] >= 1  # the figure shows


def test_the_graders_own_error_boxes_keep_their_markup():
    cell = nbformat.v4.new_code_cell("check_step('x', X)")
    cell.outputs = [nbformat.v4.new_output("error", ename="StepError", evalue="X: 1 of 3 fail",
                                           traceback=["Traceback ..."])]  # fmt: skip
    run = nbformat.v4.new_notebook(cells=[cell])
    grade = Grade("ada", "01_tiny", 0, 2, "graded", "", "", [])
    page = feedback_page(grade, run, nbformat.v4.new_notebook(), "", "header", {})
    assert '<div class="aecourse-error">StepError: X: 1 of 3 fail</div><details>' in page
