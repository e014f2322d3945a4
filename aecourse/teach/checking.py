"""The fresh check of one exercise: where a student's points come from.

A new sandboxed Python process runs only the lesson's parameter and import cells and the
exercise's tests, as the instructor wrote them, and between them the student's solution cell.
Whatever the rest of the student's notebook did (to the kernel, IPython, the checks) is not
there. Each part's outcome is reported on a line that starts with a random per-run secret, so
text that the student's code prints cannot pass for a report without reaching into the
check's own frame, which the review (:mod:`aecourse.teach.review`) would name.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aecourse.teach.markup import Exercise
from aecourse.teach.sandbox import Sandbox, reported

CHECK_TIMEOUT = 120  # seconds for one exercise's fresh check

# The check's own code. It reads the secret and the parts to run from its stdin, runs each
# part, and reports each part's outcome (with the check's own message) on a secret line.
_CHECK_PRELUDE = r"""
def main():
    import json, sys
    secret = sys.stdin.readline().strip()
    parts = json.loads(sys.stdin.read())
    out = sys.stdout.buffer
    namespace = {"__name__": "__main__"}
    for name, code in parts:
        try:
            exec(compile(code, "<" + name + ">", "exec"), namespace)
            report = {"part": name, "ok": True, "error": ""}
        except BaseException as err:
            first = str(err).splitlines()[0][:300] if str(err) else ""
            error = type(err).__name__ + (": " + first if first else "")
            report = {"part": name, "ok": False, "error": error}
        data = json.dumps(report).encode()
        out.write((secret + " " + str(len(data)) + "\n").encode() + data)
        out.flush()
main()
"""


def fresh_check(
    sandbox: Sandbox,
    work: Path,
    setup: str,
    solution: str,
    exercise: Exercise,
    env: dict[str, str],
    timeout: int = CHECK_TIMEOUT,
    package: Path | None = None,
) -> dict[str, str]:
    """Run one exercise's check in a new sandboxed process (``package``: the view of the
    package it sees, or None for the installed one). Returns, for each of the
    exercise's parts (``"test"``, and ``"hidden"`` when it has hidden tests), ``"passed"`` or
    what went wrong, and ``"solution"``: the solution cell's own error, if it raised."""
    parts = [("setup", setup), ("solution", solution), ("test", exercise.visible)]
    if "hidden" in exercise.parts:
        parts.append(("hidden", exercise.hidden))
    argv = [sys.executable, "-c", _CHECK_PRELUDE]
    lines, timed_out = reported(sandbox, argv, work, env, json.dumps(parts), timeout, package)
    reports = {}
    for line in lines:
        if len(line) < 10_000:
            try:
                report = json.loads(line)
            except json.JSONDecodeError:
                continue
            reports.setdefault(report["part"], report)  # the first report of a part counts
    if "setup" in reports and not reports["setup"]["ok"]:
        raise RuntimeError(f"the lesson's own import cell failed: {reports['setup']['error']}")
    result = {}
    for part in exercise.parts:
        if part in reports:
            result[part] = "passed" if reports[part]["ok"] else reports[part]["error"]
        elif timed_out:
            result[part] = f"did not finish: the check ran longer than {timeout} s"
        else:
            result[part] = "did not finish: the check stopped before it (see the solution cell)"
    if "solution" in reports and not reports["solution"]["ok"]:
        result["solution"] = reports["solution"]["error"]
    return result
