"""The feedback page of a graded notebook (aecourse.teach.feedback)."""

import re

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter

from aecourse.teach.feedback import TEMPLATE, feedback_page
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
    lab = HTMLExporter(template_name="lab")

    def editor(page: str) -> str:
        return page.split('class="cm-editor cm-s-jupyter">')[1].split("</div>")[0].strip()

    assert editor(ours.from_notebook_node(notebook)[0]) == editor(
        lab.from_notebook_node(notebook)[0]
    )
