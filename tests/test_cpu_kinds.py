"""The lessons' checked outputs hold on another CPU kind, not only on the one that wrote them.

nbval, the last part of ``make test``, re-runs every lesson with this machine's kernels. Where
those are the kind that wrote the committed outputs (``make refresh`` records it in each
lesson's metadata), the lesson whose verdicts sit closest to the spread between CPU kinds runs
under nbval again here, with PyTorch's, oneDNN's and MKL's kernels capped one kind lower
(AVX-512 -> AVX2, AVX2 -> SSE): the code paths of another machine. Elsewhere nbval itself
already runs another kind than the writer's, and this pass is skipped.
``benchmarks/cpu_kinds.py`` measured the spread for every lesson (README, "Expected results"):
in Lessons 01 to 04 every checked margin is at least twice its spread (Lessons 01 to 03 move by
under 4% of theirs), so running them twice would prove little for its minutes (Lesson 05 alone
costs about 2.5 of them with AVX2, over 5 with SSE).

Where this pass runs, it is Lesson 05's only run under nbval in the session: ``conftest.py``
deselects the lesson from nbval's own pass on this machine's kernels, which would repeat, on
the very kernels that wrote the outputs, what this pass checks on another kind (about two
minutes saved of ``make test``'s fifteen). Run alone, ``pytest lessons`` still checks it.
"""

import os
import subprocess
import sys

import nbformat
import pytest

from aecourse.teach.lessons import (
    CPU_KINDS,
    LESSONS_DIR,
    REFERENCE_ENV,
    lower_cpu_kind,
    outputs_cpu_kind,
    this_cpu_kind,
)

# Lesson 05's margins are 2 to 4 times their measured spread, or (too close to call) lie
# inside it with room to spare; it also retrains Lesson 04's model and compares it.
CLOSEST_LESSONS = ("05",)


@pytest.mark.parametrize(
    ("capability", "lower"),
    [("avx512", "avx2"), ("avx2", "default"), ("default", None), ("sve256", None), ("vsx", None)],
)
def test_the_kind_below_is_one_this_machine_can_imitate(capability, lower):
    assert lower_cpu_kind(capability) == lower


def test_every_kind_caps_pytorchs_own_kernels():
    assert all(caps["ATEN_CPU_CAPABILITY"] == kind for kind, caps in CPU_KINDS.items())


def test_every_lesson_says_which_cpu_kind_wrote_its_outputs():
    for path in sorted(LESSONS_DIR.glob("[0-9][0-9]_*.ipynb")):
        assert outputs_cpu_kind(nbformat.read(path, as_version=4)) in CPU_KINDS, path.name


def closest_lessons() -> list:
    """The notebooks of :data:`CLOSEST_LESSONS`."""
    return sorted(p for p in LESSONS_DIR.glob("*.ipynb") if p.name[:2] in CLOSEST_LESSONS)


def imitated_kind() -> tuple[str | None, str]:
    """(the CPU kind this machine imitates for the closest lessons, or None; why not)."""
    native = this_cpu_kind()
    writers = {outputs_cpu_kind(nbformat.read(p, as_version=4)) for p in closest_lessons()}
    if writers != {native}:
        return None, (
            f"nbval here runs {', '.join(CLOSEST_LESSONS)} on {native}, another kind than the "
            f"{', '.join(sorted(map(str, writers)))} that wrote their outputs"
        )
    kind = lower_cpu_kind(native)
    return kind, "" if kind else f"this CPU's kernels ({native}) have no lower kind to imitate"


def test_checked_outputs_hold_with_the_kernels_one_kind_lower():
    lessons = closest_lessons()
    assert [p.name[:2] for p in lessons] == list(CLOSEST_LESSONS)
    native = this_cpu_kind()
    kind, why_not = imitated_kind()
    if kind is None:
        pytest.skip(why_not)
    env = {**os.environ, **REFERENCE_ENV, **CPU_KINDS[kind]}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
           "--nbval-current-env", *map(str, lessons)]  # fmt: skip
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, (
        f"with the kernels capped at {kind} (this CPU: {native}), a checked output changed:\n"
        + run.stdout[-6000:]
        + run.stderr[-2000:]
    )
    # The kernels really were capped: the same variables give this in a fresh process.
    probe = "from aecourse.teach.lessons import this_cpu_kind; print(this_cpu_kind())"
    shown = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert shown.stdout.strip() == kind
