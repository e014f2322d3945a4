"""A Sphinx extension for the course book: pages that load nothing from the network.

sphinx-thebe (always on in Jupyter Book 1.x) adds its configuration script to every page
twice ("Identifier 'THEBE_JS_URL' has already been declared") and points at unpkg.com for
live code, which needs a Binder server online; the book has no launch buttons, so both go.
MathJax is served from the book itself (``mathjax_path`` in ``_config.yml``).
"""

from __future__ import annotations


def _drop_thebe(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if scripts is None:
        return
    kept = []
    for script in scripts:
        filename = str(getattr(script, "filename", script) or "")
        body = str(getattr(script, "attributes", {}).get("body", ""))
        if "thebe" in filename or "THEBE_JS_URL" in body:
            continue
        kept.append(script)
    scripts[:] = kept


def setup(app):
    app.connect("html-page-context", _drop_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
