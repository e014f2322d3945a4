"""A student's feedback page: their grade, each exercise's verdict, and their notebook as it ran.

What a learner needs to learn from it, offline: the figures their notebook drew (it runs with
the inline backend), formulas typeset by the MathJax 3 that the book vendors (copied beside
the pages by :func:`add_mathjax`, never a CDN), and every error as its own message first, in
one or two lines, with the traceback folded under it. What must not be in it: the hidden
tests and the instructor's solutions (unless the student wrote the same line), and the paths
of the grading machine (:func:`scrub`). Pages are capped in size, images first.
"""

from __future__ import annotations

import html
import json
import os
import secrets
import shutil
import sys
from pathlib import Path

import nbformat

from aecourse.teach.markup import solution_lines

MAX_IMAGE_BYTES = 4 * 2**20  # images kept in one feedback page, in all
MAX_FEEDBACK_BYTES = 8 * 2**20  # one feedback page
MATHJAX_FOLDER = "mathjax"  # beside the pages: feedback/<student>/mathjax/
# What the pages load of the book's MathJax 3 (npm alias mathjax3, es5 build).
MATHJAX_PARTS = ("tex-mml-chtml.js", "output/chtml/fonts")
# nbconvert's lab template, with MathJax 3 from beside the page instead of MathJax 2 from a
# CDN, and without require.js and mermaid (which it would also fetch online). A code cell's
# input is shown as Pygments highlights it, which escapes every character of the code: the
# lab template's extra pass of bleach over that markup changes nothing and took half a
# second of every notebook graded (tests/test_feedback.py checks the escaping). Everything
# else a student controls (markdown cells, raw cells, HTML and markdown outputs) passes
# :func:`sanitize`; JavaScript and widget outputs are not shown; the grader's own error boxes
# (:func:`fold_errors`) are recognised by a per-page secret in their metadata. Only scripts
# carrying the page's nonce run (:func:`csp`).
TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{% block input %}
<div class="jp-CodeMirrorEditor jp-Editor jp-InputArea-editor" data-type="inline">
     <div class="cm-editor cm-s-jupyter">
{{ cell.source | highlight_code(metadata=cell.metadata) }}
     </div>
</div>
{%- endblock input %}
{% block markdowncell scoped %}
<div class="jp-Cell jp-MarkdownCell jp-Notebook-cell"><div class="jp-Cell-inputWrapper">
<div class="jp-InputArea jp-Cell-inputArea">
<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown jp-MarkdownOutput"
 data-mime-type="text/markdown">
{{ cell.source | markdown2html | sanitize }}
</div></div></div></div>
{%- endblock markdowncell %}
{% block rawcell scoped %}{{ cell.source | sanitize }}{%- endblock rawcell %}
{% block data_html scoped -%}
<div class="jp-RenderedHTMLCommon jp-RenderedHTML jp-OutputArea-output {{ extra_class }}"
 data-mime-type="text/html">
{%- if output.metadata.get('aecourse_grader') == resources.grader_secret %}
{{ output.data['text/html'] }}
{%- else %}
{{ output.data['text/html'] | sanitize }}
{%- endif %}
</div>
{%- endblock data_html %}
{% block data_markdown scoped -%}
<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown jp-OutputArea-output {{ extra_class }}"
 data-mime-type="text/markdown">
{{ output.data['text/markdown'] | markdown2html | sanitize }}
</div>
{%- endblock data_markdown %}
{%- block data_javascript scoped %}
<pre class="jp-OutputArea-output">[a JavaScript output: not shown in feedback]</pre>
{%- endblock data_javascript %}
{%- block data_widget_view scoped %}
<pre class="jp-OutputArea-output">[an interactive widget: not shown in feedback]</pre>
{%- endblock data_widget_view -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
<script nonce="{{ resources.script_nonce }}">
window.MathJax = {
  tex: {inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]], processEscapes: true},
  options: {enableMenu: false},
};
</script>
<script nonce="{{ resources.script_nonce }}" src="MATHJAX/tex-mml-chtml.js" defer></script>
<style>
.aecourse-error {border-left:4px solid #c0392b; background:#fdf0ef; padding:6px 10px;
  margin:4px 0; font-family:var(--jp-code-font-family,monospace); white-space:pre-wrap}
</style>
{%- endblock html_head_js_mathjax -%}
""".replace("MATHJAX", MATHJAX_FOLDER)
# What student HTML may hold: text structure, tables, images as data, links out; no scripts,
# styles, forms, frames or event handlers; a class only where pandas puts one.
ALLOWED_TAGS = {"a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div",
                "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6",
                "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "s", "small",
                "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot",
                "th", "thead", "tr", "u", "ul"}  # fmt: skip
SAFE_CLASSES = {"dataframe"}


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name in ("title", "alt", "colspan", "rowspan", "align"):
        return True
    if name == "class":
        return set(value.split()) <= SAFE_CLASSES
    if tag == "a" and name == "href":
        return value.startswith(("http://", "https://", "mailto:", "#"))
    if tag == "img" and name == "src":
        return value.startswith("data:image/")
    return False


def sanitize(markup: str) -> str:
    """Student HTML reduced to an allowlist (:data:`ALLOWED_TAGS`): no script, style, frame,
    form, event handler, ``javascript:`` link or remote image survives; text stays."""
    import bleach

    cleaner = bleach.Cleaner(
        tags=ALLOWED_TAGS, attributes=_allowed_attribute,
        protocols={"http", "https", "mailto", "data"}, strip=True, strip_comments=True,
    )  # fmt: skip
    return cleaner.clean(str(markup))


def csp(nonce: str) -> str:
    """The page's Content-Security-Policy: scripts only with ``nonce`` (the grader's MathJax
    and what it loads), images only inline, no requests out, no frames, no forms."""
    policy = (
        f"default-src 'none'; script-src 'nonce-{nonce}' 'strict-dynamic'; "
        "style-src 'unsafe-inline'; img-src data:; font-src 'self' file: data:; "
        "connect-src 'none'; frame-src 'none'; form-action 'none'; base-uri 'none'"
    )
    return f'<meta http-equiv="Content-Security-Policy" content="{policy}">'


def private_paths(*extra: Path) -> dict[str, str]:
    """Paths of the grading machine that must not appear in what students get back, each
    with the name it is shown as (longest first, so that nested paths are replaced whole)."""
    import aecourse

    paths = {
        str(Path(aecourse.__file__).resolve().parents[1]): "<course>",
        sys.prefix: "<python>",
        sys.base_prefix: "<python>",
        str(Path.home()): "<home>",
    }
    paths |= {str(p.resolve()): f"<{p.name}>" for p in extra}
    return dict(sorted(paths.items(), key=lambda kv: -len(kv[0])))


def scrub(text: str, paths: dict[str, str]) -> str:
    """``text`` with each of ``paths`` replaced by its name."""
    for path, name in paths.items():
        if len(path) > 1:
            text = text.replace(path, name)
    return text


def error_message(ename: str, evalue: str) -> str:
    """An error as a learner reads it first: a check's own hint alone (it says what was wrong
    and what to try), any other error as ``Name: message``; at most two lines."""
    lines = [line for line in str(evalue).splitlines() if line.strip()][:2]
    message = "\n".join(line[:300] for line in lines)
    if ename == "ExerciseError":
        return message
    return f"{ename}: {message}" if message else ename


def fold_errors(notebook: nbformat.NotebookNode, secret: str = "") -> int:
    """Replace each error output by its message, with the traceback folded below it (a
    ``<details>`` that opens on a click), marked as the grader's with ``secret``. Returns how
    many errors were folded."""
    from nbconvert.filters import ansi2html

    folded = 0
    for cell in notebook.cells:
        for i, out in enumerate(cell.get("outputs", [])):
            if out.get("output_type") != "error":
                continue
            message = error_message(out.get("ename", "Error"), out.get("evalue", ""))
            traceback = ansi2html("\n".join(out.get("traceback", [])))
            page = (
                f'<div class="aecourse-error">{html.escape(message)}</div>'
                f"<details><summary>traceback</summary><pre>{traceback}</pre></details>"
            )
            cell.outputs[i] = nbformat.v4.new_output(
                "display_data",
                data={"text/html": page, "text/plain": message},
                metadata={"aecourse_grader": secret},
            )
            folded += 1
    return folded


def limit_images(notebook: nbformat.NotebookNode, budget: int) -> None:
    """Keep images in order until ``budget`` bytes are spent; the rest become a note."""
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            for mime in [m for m in out.get("data", {}) if m.startswith("image/")]:
                size = len(out["data"][mime])
                if size > budget:
                    out["data"] = {
                        "text/plain": "[image left out: the page's image budget is spent]"
                    }
                    break
                budget -= size


def _verdict(result: str) -> str:
    if result == "passed":
        return "passed"
    kind, _, message = result.partition(": ")
    return message if kind == "ExerciseError" else result


def summary(grade, isolated: bool, run_note: str) -> str:
    """The page's first cell: the score, a row per part of each exercise (its points, where
    the answer was found, what the check said), and the problems."""
    esc = html.escape
    rows = []
    for exercise in grade.exercises:
        found = exercise.get("found") or "not found"
        for case in exercise.get("cases", []):
            got, of = case["points"]
            kind = "hidden" if case["hidden"] else "visible"
            rows.append(
                f"<tr><td><code>{esc(exercise['grade_id'])}</code></td><td>{esc(found)}</td>"
                f"<td>{esc(case['name'])} ({kind})</td><td>{got:g} of {of:g}</td>"
                f"<td>{esc(_verdict(case['result']))}</td></tr>"
            )
    where = "in a sandbox" if isolated else "without a sandbox"
    page = (
        f"<h1>Feedback: {esc(grade.lesson)}</h1><p><b>{grade.score_text()} points</b> "
        f"({esc(grade.status)}). Each exercise was checked on its own: the lesson's imports, "
        "the cells of your notebook that define its answer, and the instructor's checks, and "
        "nothing else of your notebook. Hidden cases run on other inputs than the visible "
        "ones; each case earns its share of the points.</p><table><tr><th>exercise</th>"
        "<th>your answer</th><th>case</th><th>points</th><th>result</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    if grade.problems:
        items = "".join(f"<li>{esc(p)}</li>" for p in grade.problems.split("; "))
        page += f"<p><b>Problems</b></p><ul>{items}</ul>"
    page += f"<p><i>Your notebook ran {where}, {esc(run_note)}; here it is as it ran:</i></p>"
    return page


def feedback_page(
    grade,
    run: nbformat.NotebookNode | None,
    source: nbformat.NotebookNode,
    submitted_text: str,
    header: str,
    paths: dict[str, str],
) -> str:
    """The HTML feedback of one graded notebook: ``header`` (:func:`summary`), then the
    notebook as it ran with its errors folded. If a line of the instructor's solutions or
    hidden tests that the student did not write shows up (never expected: the sandbox cannot
    read the source), only the header is kept."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    cells = [nbformat.v4.new_markdown_cell(scrub(header, paths))]
    notebook = nbformat.v4.new_notebook(cells=cells + (run.cells if run else []))
    for cell in notebook.cells:
        cell.metadata = {}
    secret, nonce = secrets.token_hex(16), secrets.token_hex(16)
    fold_errors(notebook, secret)
    unwritten = [line for line in solution_lines(source) if line not in submitted_text]
    text = json.dumps(notebook.cells)
    if any(json.dumps(line)[1:-1] in text for line in unwritten):
        notebook.cells = cells
    exporter = HTMLExporter(
        template_file="feedback.html.j2", extra_loaders=[DictLoader({"feedback.html.j2": TEMPLATE})]
    )
    exporter.register_filter("sanitize", sanitize)
    resources = {"grader_secret": secret, "script_nonce": nonce}

    def export() -> str:
        page = exporter.from_notebook_node(notebook, resources=dict(resources))[0]
        return scrub(page.replace("<head>", "<head>\n" + csp(nonce), 1), paths)

    for budget in (MAX_IMAGE_BYTES, 0):
        limit_images(notebook, budget)
        page = export()
        if len(page.encode()) <= MAX_FEEDBACK_BYTES:
            return page
    notebook.cells = cells
    return export()


def mathjax_source() -> Path | None:
    """The book's MathJax 3 (``book/node_modules/mathjax3/es5``), fetched with npm if missing;
    None when there is no npm to fetch it with."""
    from aecourse.teach.book import install_web_assets

    try:
        return install_web_assets() / "mathjax3" / "es5"
    except FileNotFoundError:
        return None


def add_mathjax(folder: Path, source: Path) -> None:
    """MathJax 3 into ``folder/mathjax`` for the pages in ``folder``: hard links to
    ``source`` where the file system allows (a class's copies cost no space), else copies."""
    for part in MATHJAX_PARTS:
        origin, target = source / part, folder / MATHJAX_FOLDER / part
        files = (
            [origin] if origin.is_file() else sorted(p for p in origin.rglob("*") if p.is_file())
        )
        for file in files:
            copy = target if origin.is_file() else target / file.relative_to(origin)
            if copy.exists():
                continue
            copy.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(file, copy)
            except OSError:
                shutil.copyfile(file, copy)
