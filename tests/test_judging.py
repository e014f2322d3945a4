"""Judging build steps where the student's code cannot reach the verdict (teach.judging).

The student's side runs in bubblewrap; every tampering below ran inside the student's process
and used to be able to change the check it ran beside. Here it changes nothing: the verdict
is reached in this process, on the data that came back.
"""

import textwrap

import nbformat
import pytest
import torch

from aecourse.steps import lesson_steps
from aecourse.teach.grading import CHECK_ENV
from aecourse.teach.judging import TAKEN, judge_steps, step_calls, taken_from_package
from aecourse.teach.lessons import LESSONS_DIR
from aecourse.teach.markup import exercises, regions, setup_source
from aecourse.teach.review import review_flags
from aecourse.teach.sandbox import Sandbox

SANDBOX = Sandbox()
needs_sandbox = pytest.mark.skipif(SANDBOX.mode != "bubblewrap", reason=SANDBOX.description)
LESSON = nbformat.read(LESSONS_DIR / "01_linear_autoencoder.ipynb", as_version=4)
STEPS = {s.name: s for s in lesson_steps("01")}


def solution(name: str) -> str:
    """The lesson's own answer for the step that defines ``name`` (markers dropped)."""
    (exercise,) = [e for e in exercises(LESSON) if e.names == (name,)]
    return "\n".join(line for kind, line in regions(exercise.solution) if kind != "marker")


def judge(tmp_path, cells: list[str], names: list[str], timeout: int = 60) -> dict:
    answers = list(enumerate((textwrap.dedent(c) for c in cells), 1))
    steps = [STEPS[n] for n in names]
    return judge_steps(SANDBOX, tmp_path / "work", setup_source(LESSON), answers, steps,
                       CHECK_ENV, timeout)  # fmt: skip


def test_step_calls_are_read_from_the_test_cell():
    assert step_calls('check_step("linear_encoder", LinearEncoder)') == [
        ("linear_encoder", "LinearEncoder")
    ]
    assert step_calls("check_step(step, LinearEncoder)") == []  # only a literal step id counts
    assert step_calls("this is not python (") == []


@pytest.mark.parametrize(
    "code",
    [
        "from aecourse.models import LinearEncoder",
        "import aecourse.models\nLinearEncoder = aecourse.models.LinearEncoder",
        "from aecourse import models as m\nLinearEncoder = m.LinearEncoder",
        "import aecourse.models as m\nclass LinearEncoder(aecourse.models.LinearEncoder):\n  pass",
        "class LinearEncoder(nn.Module):\n  def forward(self, x):\n"
        "    return aecourse.models.LinearEncoder.forward(self, x)",
    ],
)
def test_an_answer_taken_from_the_package_is_named(code):
    assert taken_from_package(code, "LinearEncoder")


def test_a_step_taken_beside_given_code_is_named():
    cell = "from aecourse.losses import kl_per_unit\n\n\ndef kl_divergence(mu, logvar):\n    ..."
    assert "aecourse.losses" in taken_from_package(cell, "kl_per_unit")
    assert taken_from_package("from aecourse.noise import gaussian_noise", "gaussian_noise")


def test_an_answer_written_in_the_cell_is_not_flagged():
    assert taken_from_package(solution("LinearEncoder"), "LinearEncoder") is None
    assert taken_from_package(solution("train_epoch"), "train_epoch") is None


@needs_sandbox
def test_the_lessons_answers_pass_every_case_and_the_inputs_hold_no_expected_values(tmp_path):
    names = list(STEPS)
    outcomes = judge(tmp_path, [solution(n) for n in names], names)
    assert outcomes == {STEPS[n].id: ["passed"] * len(STEPS[n].cases) for n in names}
    sent = torch.load(tmp_path / "work" / "inputs.pt", weights_only=True)
    assert {key for case in sent.values() for key in case} <= {
        "args", "weights", "x", "bad_shape", "latent_dim", "batch_size", "seed", "extra"
    }  # fmt: skip


TAMPERING = [
    # The check the lesson calls, replaced by one that always passes.
    """
    import aecourse.steps
    aecourse.steps.check_step = lambda *args: print("✓ all checks pass")
    aecourse.steps.verdict = lambda *args: None
    class LinearEncoder(nn.Module):
        def __init__(self, latent_dim):
            super().__init__()
            raise NotImplementedError()
    """,
    # Comparisons that always say "equal", and a reloaded module to be sure.
    """
    import importlib, aecourse.steps
    torch.allclose = lambda *args, **kwargs: True
    torch.Tensor.__eq__ = lambda *args: True
    importlib.reload(aecourse.steps)
    class LinearDecoder(nn.Module):
        def __init__(self, latent_dim):
            super().__init__()
            self.linear = nn.Linear(latent_dim, 28 * 28)
        def forward(self, z):
            return torch.zeros(len(z), 1, 28, 28)
    """,
    # Results written where the grader reads them, and torch.save made to write them too.
    """
    _fake = {"shapes": [(8, 784), (8,)], "out": torch.zeros(5, 8), "grads": []}
    for i in range(64):
        torch.save(_fake, f"case{i}.pt")
    _save = torch.save
    torch.save = lambda obj, f, *a, **k: _save(_fake, f)
    def train_epoch(model, x, optimizer, batch_size, generator):
        return 0.0
    """,
    # The package's class behind a name that static review cannot see.
    """
    import importlib
    _package = importlib.import_module("aecourse" + ".models")
    class LinearAutoencoder(_package.LinearAutoencoder):
        pass
    """,
]


@needs_sandbox
def test_tampering_in_a_solution_cell_earns_nothing(tmp_path):
    names = ["LinearEncoder", "LinearDecoder", "train_epoch", "LinearAutoencoder"]
    outcomes = judge(tmp_path, TAMPERING, names)
    for name in names:
        results = outcomes[STEPS[name].id]
        passed = [r for r in results if r == "passed"]
        if name == "LinearDecoder":  # its parameters are right: those cases, and only they, pass
            right = [c.name.startswith("parameters") for c in STEPS[name].cases]
            assert [r == "passed" for r in results] == right, results
        else:
            assert passed == [], (name, results)
    taken = STEPS["LinearAutoencoder"]
    assert outcomes[taken.id] == [TAKEN] * len(taken.cases)
    assert all(review_flags(textwrap.dedent(code)) for code in TAMPERING)  # each named for review


@needs_sandbox
def test_an_answer_that_hangs_loses_its_cases_not_the_grader(tmp_path):
    cells = [solution("LinearEncoder"), "def train_epoch(*args):\n    while True:\n        pass"]
    outcomes = judge(tmp_path, cells, ["LinearEncoder", "train_epoch"], timeout=20)
    assert outcomes[STEPS["LinearEncoder"].id] == ["passed"] * 6
    assert all("did not finish (longer than 20 s)" in r for r in outcomes["train_epoch"])


@needs_sandbox
def test_a_broken_setup_is_the_graders_fault_not_a_zero(tmp_path):
    with pytest.raises(RuntimeError, match="parameter and import cells failed"):
        judge_steps(SANDBOX, tmp_path / "work", "import no_such_module", [], [STEPS["train_epoch"]],
                    CHECK_ENV, 60)  # fmt: skip
