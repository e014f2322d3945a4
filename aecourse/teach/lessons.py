"""The course's lesson notebooks: where they are, the settings their committed outputs come
from, and executing them in place as JupyterLab's "Run All" would.

The lessons are committed executed, with the quick profile on the CPU and no progress
widgets (:data:`REFERENCE_ENV`), so that nbval can re-run them anywhere and compare; grading
and the book use the same settings.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import nbformat

from aecourse.profiles import REFERENCE_THREADS

LESSONS_DIR = Path(__file__).resolve().parents[2] / "lessons"
REFERENCE_ENV = {
    "AECOURSE_PROFILE": "quick",
    "AECOURSE_DEVICE": "cpu",
    "AECOURSE_PROGRESS": "0",
    "OMP_NUM_THREADS": str(REFERENCE_THREADS),
}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# The CPU kinds a lesson's numbers can come from, named by PyTorch's vector kernels
# (``ATEN_CPU_CAPABILITY``), with oneDNN's convolutions (``ONEDNN_MAX_CPU_ISA``) and MKL's
# matrix products (``MKL_ENABLE_INSTRUCTIONS``) capped alike: each kind adds up in its own
# order, so training ends a few last digits apart. A machine imitates any kind below its own.
CPU_KINDS = {
    "avx512": {"ATEN_CPU_CAPABILITY": "avx512"},
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    },
    "default": {
        "ATEN_CPU_CAPABILITY": "default",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
        "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
    },
}


@contextmanager
def reference_env():
    """Run the lessons inside with :data:`REFERENCE_ENV` (kernels inherit it); the variables
    are put back as they were afterwards."""
    previous = {key: os.environ.get(key) for key in REFERENCE_ENV}
    os.environ.update(REFERENCE_ENV)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def find_lessons(lessons_dir: Path = LESSONS_DIR, only: list[str] | None = None) -> list[Path]:
    """Numbered lesson notebooks (``01_*.ipynb`` ...), optionally only those numbered ``only``."""
    if not lessons_dir.is_dir():
        raise FileNotFoundError(f"No lessons folder at {lessons_dir}.")
    found = sorted(p for p in lessons_dir.glob("[0-9][0-9]_*.ipynb"))
    if only:
        wanted = {n.zfill(2) for n in only}
        unknown = wanted - {p.name[:2] for p in found}
        if unknown:
            have = ", ".join(p.name[:2] for p in found)
            raise ValueError(f"No lesson numbered {', '.join(sorted(unknown))}; have: {have}.")
        found = [p for p in found if p.name[:2] in wanted]
    if not found:
        raise FileNotFoundError(f"No lesson notebooks (NN_name.ipynb) in {lessons_dir}.")
    return found


def execute_in_place(path: Path, timeout: int = 900) -> None:
    """Execute a notebook with nbclient and save it over itself, as JupyterLab's "Run All"
    would (no papermill parameters, no widget state: :func:`without_widget_views`). Raises
    ``CellExecutionError``."""
    from nbclient import NotebookClient

    from aecourse.teach.kernels import IPCKernelManager

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(  # it starts the kernel from the class, and so shuts it down
        nb, kernel_manager_class=IPCKernelManager, timeout=timeout, record_timing=False,
        store_widget_state=False, resources={"metadata": {"path": str(path.parent)}},
    )  # fmt: skip
    client.execute()
    nb.metadata.setdefault("aecourse", {})["outputs_cpu_kind"] = this_cpu_kind()
    nbformat.write(without_widget_views(nb), path)


def this_cpu_kind() -> str:
    """The CPU kind this process's kernels run with (``"avx512"``, ``"avx2"``, ``"default"``,
    or another name on other CPUs), as :data:`CPU_KINDS` names them; a refresh records it in
    each lesson's metadata (:func:`outputs_cpu_kind`)."""
    import torch

    return torch.backends.cpu.get_cpu_capability().lower()


def outputs_cpu_kind(nb: nbformat.NotebookNode) -> str | None:
    """The CPU kind that wrote a lesson's committed outputs (recorded by
    :func:`execute_in_place`), or None for a notebook executed otherwise."""
    return nb.metadata.get("aecourse", {}).get("outputs_cpu_kind")


def without_widget_views(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with its outputs' live-widget views dropped, keeping their ``text/plain``
    (e.g. :class:`aecourse.widgets.Explorer`'s note). Without saved widget state a view can
    only fail ("widget model not found"); the note says to run the cell."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            out.get("data", {}).pop(WIDGET_VIEW, None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if "data" not in o or o["data"]]
    return nb


def lower_cpu_kind(capability: str) -> str | None:
    """The kind one below ``capability`` (:func:`this_cpu_kind`, e.g. ``"avx512"``), which
    this machine can imitate; None where there is none below (an x86 CPU without AVX2, or an
    ARM or other CPU, whose kernels these variables do not name)."""
    order = list(CPU_KINDS)
    kind = capability.lower()
    if kind not in order or kind == order[-1]:
        return None
    return order[order.index(kind) + 1]
