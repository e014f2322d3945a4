"""One round trip, as a class lives it: the learner works in their own copy, hands it in, the
instructor autogrades, and the learner reads feedback they can learn from.

A class of three on the real lessons (about 8 minutes on 2 cores: every lesson runs twice,
Lesson 01 three times):

* ``learner`` works in the copies ``make lab`` gives (the student edition, the same as the
  book's download: no nbgrader metadata) and types each exercise's answer into its cell;
* ``untouched`` hands in nbgrader's released notebooks as they came;
* ``partial`` hands in Lesson 01 only, from the same copy, with the encoder right and a tied
  autoencoder that passes its visible cases and fails the hidden ones (it only works for the
  latent size it was shown); the other steps are left as released.
"""

import csv
import re
from pathlib import Path

import nbformat
import pytest

from aecourse.teach.editions import student_workspace
from aecourse.teach.grading import autograde
from aecourse.teach.lessons import LESSONS_DIR, find_lessons
from aecourse.teach.markup import exercises, graded_cells, questions, regions
from aecourse.teach.release import release
from aecourse.teach.sandbox import Sandbox

SANDBOX = Sandbox()
pytestmark = pytest.mark.skipif(SANDBOX.mode != "bubblewrap", reason=SANDBOX.description)
KEPT = Path(__file__).resolve().parents[1] / "build" / "grading"  # the last run's tables
LESSONS = find_lessons(LESSONS_DIR)
# Right for the latent size of the visible cases (8) only: the hidden ones use 3.
ONLY_FOR_EIGHT = """\
class TiedLinearAutoencoder(nn.Module):
    def __init__(self, latent_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(8, 28 * 28) / 28)
        self.encoder_bias = nn.Parameter(torch.zeros(8))
        self.decoder_bias = nn.Parameter(torch.zeros(28 * 28))

    def forward(self, x):
        z = x.flatten(1) @ self.weight.T + self.encoder_bias
        return (z @ self.weight + self.decoder_bias).view(-1, 1, 28, 28)"""


def typed_answer(solution: str) -> str:
    """What a learner types: the instructor's solution cell without nbgrader's markers."""
    return "\n".join(line for kind, line in regions(solution) if kind in ("code", "solution"))


def answer_in(copy: Path, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The learner's copy with the stub that defines each name replaced by its answer."""
    notebook = nbformat.read(copy, as_version=4)
    for name, answer in answers.items():
        (cell,) = [c for c in notebook.cells if c.cell_type == "code" and f" {name}(" in c.source
                   and "NotImplementedError" in c.source]  # fmt: skip
        cell.source = answer
    return notebook


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("round_trip")
    released = {p.stem: p for p in release(course=root / "classroom")}
    copies = {p.stem: p for p in student_workspace(root / "work")}  # what `make lab` gives
    subs = root / "submissions"
    for folder in ("learner", "untouched", "partial"):
        (subs / folder).mkdir(parents=True)
    for path in LESSONS:
        source = nbformat.read(path, as_version=4)
        answers = {e.names[0]: typed_answer(e.solution) for e in exercises(source)}
        learner = answer_in(copies[path.stem], answers)
        for cell in learner.cells:  # and a written answer to each question
            if cell.metadata.get("aecourse", {}).get("answer_to"):
                cell.source = "The mean of the plausible answers, as the lesson showed."
        nbformat.write(learner, subs / "learner" / path.name)
        nbformat.write(nbformat.read(released[path.stem], as_version=4),
                       subs / "untouched" / path.name)  # fmt: skip
    first = LESSONS[0]
    encoder = next(e for e in exercises(nbformat.read(first, as_version=4))
                   if e.names == ("LinearEncoder",))  # fmt: skip
    partial = answer_in(copies[first.stem], {"LinearEncoder": typed_answer(encoder.solution),
                                             "TiedLinearAutoencoder": ONLY_FOR_EIGHT})  # fmt: skip
    nbformat.write(partial, subs / "partial" / first.name)
    out = root / "grades"
    grades = autograde(subs, course=root / "classroom", out=out)
    KEPT.mkdir(parents=True, exist_ok=True)
    (KEPT / "round_trip.csv").write_bytes((out / "grades.csv").read_bytes())
    return {(g.student, g.lesson): g for g in grades}, out


def test_the_learners_own_copy_grades_full_marks_and_the_untouched_release_zero(graded):
    rows, out = graded
    with open(out / "grades.csv") as f:
        table = {(r["student"], r["lesson"]): r for r in csv.DictReader(f)}
    for path in LESSONS:
        source = nbformat.read(path, as_version=4)
        full = sum(graded_cells(source).values())
        written = questions(source)
        good, blank = rows["learner", path.stem], rows["untouched", path.stem]
        # every step's points; the written answers wait for a person, named in grades.csv
        steps_full = full - sum(q.points for q in written)
        assert (good.status, good.score, good.max_score) == ("graded", steps_full, full)
        waiting = ", ".join(q.grade_id for q in written)
        points = sum(q.points for q in written)
        assert good.pending == f"{points:g} points of written answers wait for a person: {waiting}"
        # The lesson's own answer is the package's copy: it scores, and a person is told so.
        steps = [e for e in good.exercises if "step" in e]
        assert good.review.count("matches the package's copy") == len(steps), good.review
        assert all(c["result"] == "passed" for e in good.exercises if not e.get("manual")
                   for c in e["cases"]), good  # fmt: skip
        assert good.problems == "", good.problems  # every cell ran in the grading profile
        assert (blank.status, blank.score, blank.max_score) == ("graded", 0, full), blank
        assert "NotImplementedError" in blank.exercises[0]["cases"][0]["result"]
        assert float(table["learner", path.stem]["score"]) == steps_full
        assert table["learner", path.stem]["pending"] == good.pending
        assert float(table["untouched", path.stem]["score"]) == 0
        page = (out / "feedback" / "learner" / f"{path.stem}.html").read_text()
        assert f"{steps_full:g} of {full:g} points" in page and "waits for a person" in page


def test_partly_right_scores_in_between_and_not_handed_in_reads_not_submitted(graded):
    rows, out = graded
    first = LESSONS[0].stem
    partial = rows["partial", first]
    assert (partial.status, partial.score, partial.max_score) == ("graded", 3, 19)
    steps = {e["grade_id"]: e for e in partial.exercises}
    assert steps["linear_encoder"]["points"] == 2 and steps["linear_decoder"]["points"] == 0
    tied = steps["tied_autoencoder"]
    assert [c["hidden"] for c in tied["cases"]] == [False] * 3 + [True] * 3
    assert [c["points"] for c in tied["cases"]] == [[1 / 3, 1 / 3]] * 3 + [[0, 1 / 3]] * 3
    assert all(c["result"] == "passed" for c in tied["cases"][:3])
    assert all("parameters are shaped" in c["result"] for c in tied["cases"][3:]), tied
    with open(out / "grades.csv") as f:
        table = {(r["student"], r["lesson"]): r for r in csv.DictReader(f)}
    with open(out / "nbgrader_grades.csv") as f:
        export = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(f)}
    assert float(export["partial", first]["score"]) == 3
    for path in LESSONS[1:]:
        row = table["partial", path.stem]
        assert (row["status"], row["score"]) == ("not submitted", ""), row
        assert export["partial", path.stem]["score"] == "not submitted"
        note = (out / "feedback" / "partial" / f"{path.stem}.txt").read_text().splitlines()
        assert note[0] == f"{path.stem}: not submitted" and "Send this lesson" in note[-1]


def test_feedback_shows_the_figures_and_each_checks_message_before_its_folded_traceback(graded):
    rows, out = graded
    first = LESSONS[0]
    figures = sum(
        "image/png" in o.get("data", {})
        for c in nbformat.read(first, as_version=4).cells
        for o in c.get("outputs", [])
    )
    page = (out / "feedback" / "learner" / f"{first.stem}.html").read_text()
    assert figures >= 3 and page.count('src="data:image/png;base64,') >= figures
    blank = (out / "feedback" / "untouched" / f"{first.stem}.html").read_text()
    message = re.search(r'<div class="aecourse-error"[^>]*>(.*?)</div>\s*<details>', blank, re.S)
    assert message is not None, "the check's message, then the folded traceback"
    # the check says the step is not written (the grader hands out no copy of it), and the
    # first cell that uses the stub shows its error
    assert "LinearEncoder is not written yet: this step scores 0" in blank
    assert message.group(1).strip() == "NotImplementedError"
    assert "Traceback" not in message.group(1) and len(message.group(1).splitlines()) <= 2
    assert "During handling of the above exception" not in blank  # no chained traceback
    half = (out / "feedback" / "partial" / f"{first.stem}.html").read_text()
    assert "3 of 19 points" in half and "(hidden)" in half and "0 of 0.333" in half


def test_feedback_typesets_its_math_offline(graded, browser):
    """MathJax 3 beside the pages (the book's), no CDN: formulas render with no network."""
    rows, out = graded
    folder = out / "feedback" / "learner"
    assert (folder / "mathjax" / "tex-mml-chtml.js").is_file()
    prose = {p: [c.source for c in nbformat.read(p, as_version=4).cells
                 if c.cell_type == "markdown"] for p in LESSONS}  # fmt: skip
    with_math = [p for p, cells in prose.items() if "$" in "".join(cells)]
    page_file = folder / f"{with_math[0].stem}.html"
    assert "cdnjs" not in page_file.read_text() and "require.js" not in page_file.read_text()
    page = browser.new_page()
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith("file:") else 0)
    page.goto(page_file.as_uri())
    page.wait_for_selector("mjx-container", timeout=30_000)
    typeset = page.evaluate("document.querySelectorAll('mjx-container').length")
    errors = page.evaluate("document.querySelectorAll('mjx-merror').length")
    page.close()
    assert typeset >= 3 and errors == 0 and outside == []
