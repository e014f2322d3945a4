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
from aecourse.teach.judging import case_keys, judge_steps, step_calls, write_inputs
from aecourse.teach.lessons import LESSONS_DIR
from aecourse.teach.markup import exercises, regions, setup_source
from aecourse.teach.review import matches_package_copy, review_flags, taken_from_package
from aecourse.teach.sandbox import Sandbox
from aecourse.teach.views import Views, withheld_names

SANDBOX = Sandbox()
needs_sandbox = pytest.mark.skipif(SANDBOX.mode != "bubblewrap", reason=SANDBOX.description)
LESSON = nbformat.read(LESSONS_DIR / "01_linear_autoencoder.ipynb", as_version=4)
STEPS = {s.name: s for s in lesson_steps("01")}
WITHHELD = {f"{m}.{n}" for m, names in withheld_names("01").items() for n in names}


@pytest.fixture(scope="module")
def view(tmp_path_factory):
    """The package as a Lesson 01 notebook's judging process sees it."""
    return Views(tmp_path_factory.mktemp("views")).get("01")


def solution(name: str) -> str:
    """The lesson's own answer for the step that defines ``name`` (markers dropped)."""
    (exercise,) = [e for e in exercises(LESSON) if e.names == (name,)]
    return "\n".join(line for kind, line in regions(exercise.solution) if kind != "marker")


def judge(tmp_path, view, cells: list[str], names: list[str], timeout: int = 60) -> dict:
    answers = list(enumerate((textwrap.dedent(c) for c in cells), 1))
    steps = [STEPS[n] for n in names]
    return judge_steps(SANDBOX, tmp_path / "work", setup_source(LESSON), answers, steps,
                       CHECK_ENV, timeout, view)  # fmt: skip


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
    assert taken_from_package(code, "LinearEncoder", WITHHELD)


def test_a_step_taken_beside_given_code_is_named():
    withheld = {f"{m}.{n}" for m, names in withheld_names("03").items() for n in names}
    cell = "from aecourse.losses import kl_per_unit\n\n\ndef kl_divergence(mu, logvar):\n    ..."
    assert "aecourse.losses" in taken_from_package(cell, "kl_per_unit", withheld)
    withheld = {f"{m}.{n}" for m, names in withheld_names("02").items() for n in names}
    cell = "from aecourse.noise import gaussian_noise"
    assert taken_from_package(cell, "gaussian_noise", withheld)


def test_an_answer_written_in_the_cell_or_using_helpers_is_not_flagged():
    assert taken_from_package(solution("LinearEncoder"), "LinearEncoder", WITHHELD) is None
    assert taken_from_package(solution("train_epoch"), "train_epoch", WITHHELD) is None
    helper = "from aecourse.models import check_image_batch\n\n" + solution("LinearAutoencoder")
    assert taken_from_package(helper, "LinearAutoencoder", WITHHELD) is None


def test_the_package_copy_renamed_is_named_for_review_and_own_code_is_not():
    import inspect

    copy = inspect.getsource(STEPS["LinearEncoder"].reference())
    renamed = copy.replace("latent_dim", "size").replace("self.linear", "self.fc")
    renamed = renamed.replace("(self, x:", "(self, i:").replace("(x))", "(i))")
    assert renamed != copy and matches_package_copy(renamed, STEPS["LinearEncoder"])
    own = (
        "class LinearEncoder(nn.Module):\n    def __init__(self, latent_dim):\n"
        "        super().__init__()\n        self.linear = nn.Linear(784, latent_dim)\n"
        "    def forward(self, x):\n        return self.linear(x.flatten(1))\n"
    )
    assert not matches_package_copy(own, STEPS["LinearEncoder"])


@needs_sandbox
def test_the_lessons_answers_pass_every_case_and_the_inputs_hold_no_expected_values(tmp_path, view):
    names = list(STEPS)
    outcomes = judge(tmp_path, view, [solution(n) for n in names], names)
    assert outcomes == {STEPS[n].id: ["passed"] * len(STEPS[n].cases) for n in names}
    write_inputs(case_keys(list(STEPS.values())), tmp_path / "sent.pt")
    sent = torch.load(tmp_path / "sent.pt", weights_only=True)
    assert {key for case in sent.values() for key in case} <= {
        "args", "weights", "x", "bad_shape", "latent_dim", "batch_size", "seed", "extra", "std",
        "kinds", "k", "mean", "components", "labels", "target", "error", "sizes"
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
def test_tampering_in_a_solution_cell_earns_nothing(tmp_path, view):
    names = ["LinearEncoder", "LinearDecoder", "train_epoch", "LinearAutoencoder"]
    outcomes = judge(tmp_path, view, TAMPERING, names)
    for name in names:
        results = outcomes[STEPS[name].id]
        passed = [r for r in results if r == "passed"]
        if name == "LinearDecoder":  # its parameters are right: those cases, and only they, pass
            right = [c.name.startswith("parameters") for c in STEPS[name].cases]
            assert [r == "passed" for r in results] == right, results
        else:
            assert passed == [], (name, results)
    taken = STEPS["LinearAutoencoder"]
    assert all("raised WithheldError" in r for r in outcomes[taken.id]), outcomes[taken.id]
    assert all(review_flags(textwrap.dedent(code)) for code in TAMPERING)  # each named for review


@needs_sandbox
def test_an_answer_that_hangs_loses_its_cases_not_the_grader(tmp_path, view):
    cells = [solution("LinearEncoder"), "def train_epoch(*args):\n    while True:\n        pass"]
    outcomes = judge(tmp_path, view, cells, ["LinearEncoder", "train_epoch"], timeout=20)
    assert outcomes[STEPS["LinearEncoder"].id] == ["passed"] * 6
    assert all("did not finish (longer than 20 s)" in r for r in outcomes["train_epoch"])


@needs_sandbox
def test_a_broken_setup_is_the_graders_fault_not_a_zero(tmp_path):
    with pytest.raises(RuntimeError, match="parameter and import cells failed"):
        judge_steps(SANDBOX, tmp_path / "work", "import no_such_module", [], [STEPS["train_epoch"]],
                    CHECK_ENV, 60)  # fmt: skip


ROUTES_TO_THE_PACKAGE = {
    # Its source read and executed: the view holds a placeholder where the class was.
    "LinearEncoder": """
    import aecourse.models
    _source = open(aecourse.models.__file__).read()
    _space = {}
    exec(_source, _space)
    LinearEncoder = _space["LinearEncoder"]
    """,
    # A class of one's own whose __new__ hands back the package's instance.
    "LinearDecoder": """
    import importlib
    class LinearDecoder(nn.Module):
        def __new__(cls, latent_dim):
            return importlib.import_module("aecourse" + ".models").LinearDecoder(latent_dim)
    """,
    # A function that delegates through the module dictionary.
    "train_epoch": """
    import importlib
    def train_epoch(*args):
        return vars(importlib.import_module("aecourse.loop"))["train_epoch"](*args)
    """,
    # Fake reports printed for every case, in every format the harness might use.
    "reconstruction_mse": """
    for i in range(40):
        print(f"case{i} passed")
    def reconstruction_mse(model, x):
        return 0.0
    """,
}


@needs_sandbox
def test_every_route_to_the_package_copy_earns_nothing(tmp_path, view):
    names = list(ROUTES_TO_THE_PACKAGE)
    outcomes = judge(tmp_path, view, list(ROUTES_TO_THE_PACKAGE.values()), names)
    for name in names:
        assert "passed" not in outcomes[STEPS[name].id], (name, outcomes[STEPS[name].id])
    assert any("Withheld" in r for r in outcomes["train_epoch"])


@needs_sandbox
def test_a_cell_that_starts_with_a_magic_is_read_and_judged_as_the_kernel_runs_it(tmp_path, view):
    encoder = "%%time\n" + solution("LinearEncoder")
    decoder = "%matplotlib inline\n!echo hello\n" + solution("LinearDecoder")
    outcomes = judge(tmp_path, view, [encoder, decoder], ["LinearEncoder", "LinearDecoder"])
    assert outcomes == {
        STEPS[n].id: ["passed"] * len(STEPS[n].cases) for n in ("LinearEncoder", "LinearDecoder")
    }
    assert review_flags(decoder)  # what the magics do is named for review


def _plan(written: set[str]):
    """Lesson 01 as the student edition releases it, with the steps in ``written`` answered as
    the lesson answers them; the others left as released."""
    from aecourse.teach.editions import edition_copy
    from aecourse.teach.judging import plan_steps
    from aecourse.teach.markup import defined_names

    notebook = edition_copy(LESSON, "student")
    for step in lesson_steps("01"):
        if step.name in written:
            (cell,) = [c for c in notebook.cells if step.name in defined_names(c.source)
                       and "check_step" not in c.source]  # fmt: skip
            cell.source = solution(step.name)
    stepped = [e for e in exercises(LESSON) if step_calls(e.visible)]
    return plan_steps(notebook, stepped, [], WITHHELD)


@pytest.mark.parametrize(
    ("written", "taken", "processes"),
    [
        (set(), "", []),  # the release as it came: nothing to run
        ({s.name for s in lesson_steps("01")}, "", [7]),  # every step written: one process
        # every other step blank: the written ones run once, with the blank ones' copies
        ({"LinearDecoder", "train_epoch", "init_from_pca"}, "", [3]),
        # the first step written, the third blank: the first alone, then the ones after the blank
        ({"LinearEncoder", "LinearDecoder", "train_epoch", "reconstruction_mse"}, "", [2, 2]),
        # a step taken from the package (found by running it): the steps after it run again
        ({s.name for s in lesson_steps("01")}, "train_epoch", [7, 3]),
    ],
)
def test_judging_runs_each_step_in_as_few_processes_as_its_stand_ins_allow(
    monkeypatch, tmp_path, written, taken, processes
):
    from aecourse.steps import STILL_BLANK, TAKEN
    from aecourse.teach import judging
    from aecourse.teach.markup import defined_names

    calls = []

    def fake(sandbox, work, setup, answers, steps, env, timeout, package=None, stand_ins=()):
        calls.append((len(steps), list(stand_ins)))
        copied = {name for code in stand_ins for name in defined_names(code)}
        assert not copied & {s.name for s in steps}  # a step's copy never where it is judged
        return {s.id: [TAKEN if s.name == taken else "passed"] * len(s.cases) for s in steps}

    monkeypatch.setattr(judging, "judge_steps", fake)
    plan = _plan(written)
    outcomes = judging.judge_plan(None, tmp_path, "", plan, {}, 1)
    ran = [n for n, _ in calls if n]
    assert ran == processes, calls
    for step in lesson_steps("01"):  # every step has an outcome per case
        assert len(outcomes[step.id]) == len(step.cases)
        if step.name not in written:
            assert all(o.startswith(STILL_BLANK) for o in outcomes[step.id])
    assert all(copies for _, copies in calls[1:])  # the later processes have stand-ins
