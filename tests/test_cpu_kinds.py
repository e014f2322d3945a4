"""The lessons' checked outputs hold on another CPU kind, not only on the one that wrote them.

nbval, the last part of ``make test``, re-runs every lesson with this machine's kernels. Here
the lesson whose verdicts sit closest to the spread between CPU kinds runs under nbval again,
with PyTorch's, oneDNN's and MKL's kernels capped one kind lower (AVX-512 -> AVX2, AVX2 ->
SSE): the code paths of another machine. ``benchmarks/cpu_kinds.py`` measured the spread for
every lesson (README, "Expected results"): in Lessons 01 to 04 every checked margin is at least
twice its spread (Lessons 01 to 03 move by under 4% of theirs), so running them twice
would prove little for its minutes (Lesson 05 alone costs about 2.5 of them with AVX2).
"""

import os
import subprocess
import sys

import pytest
import torch

from aecourse.teach.lessons import CPU_KINDS, LESSONS_DIR, REFERENCE_ENV, lower_cpu_kind

# Lesson 05's margins are 2 to 4 times their measured spread, or (too close to call) lie
# inside it with room to spare; it also retrains Lesson 04's model and compares it.
CLOSEST_LESSONS = ("05",)


@pytest.mark.parametrize(
    ("capability", "lower"),
    [("AVX512", "avx2"), ("AVX2", "default"), ("DEFAULT", None), ("SVE256", None), ("VSX", None)],
)
def test_the_kind_below_is_one_this_machine_can_imitate(capability, lower):
    assert lower_cpu_kind(capability) == lower


def test_every_kind_caps_pytorchs_own_kernels():
    assert all(caps["ATEN_CPU_CAPABILITY"] == kind for kind, caps in CPU_KINDS.items())


def test_checked_outputs_hold_with_the_kernels_one_kind_lower():
    native = torch.backends.cpu.get_cpu_capability()
    kind = lower_cpu_kind(native)
    if kind is None:
        pytest.skip(
            f"this CPU's kernels ({native}) have no lower kind to imitate; the committed "
            "outputs come from an AVX-512 CPU, so nbval here already runs another kind"
        )
    lessons = sorted(p for p in LESSONS_DIR.glob("*.ipynb") if p.name[:2] in CLOSEST_LESSONS)
    assert [p.name[:2] for p in lessons] == list(CLOSEST_LESSONS)
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
    probe = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    shown = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert shown.stdout.strip() == kind.upper()
