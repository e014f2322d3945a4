"""Run lessons end to end with papermill and gather their results into ``summary.json``.

Every lesson is executed into a run folder (``runs/<timestamp>/`` by default) with the
parameters ``profile``, ``data_source`` (or ``photo_source``) and ``results_path``. A lesson
that fails is reported with the cell that failed, the others still run, and the whole run
then counts as failed.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aecourse.profiles import choose_device, choose_profile, full_profile_on_cpu_warning

LESSONS_DIR = Path(__file__).resolve().parents[1] / "lessons"
# The committed outputs are those of the quick profile on the CPU, with no progress widgets,
# so that nbval can re-run them anywhere and compare; grading and the book use them too. Two
# CPU threads, as on the 2-core machine that made them: the number of threads changes the order
# of floating-point sums, so a 16-core machine would otherwise train to other last digits.
REFERENCE_ENV = {
    "AECOURSE_PROFILE": "quick",
    "AECOURSE_DEVICE": "cpu",
    "AECOURSE_PROGRESS": "0",
    "OMP_NUM_THREADS": "2",
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


@dataclass
class LessonRun:
    lesson: str
    notebook: str
    status: str  # "ok" or "failed"
    seconds: float
    context: dict
    metrics: dict
    verdicts: dict
    error: str | None = None


def _describe_failure(err: Exception) -> str:
    """Say which cell failed and why, from papermill's error when there is one."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(err, PapermillExecutionError):
        first_line = next((ln for ln in err.source.splitlines() if ln.strip()), "")[:60]
        return f"cell In [{err.exec_count}] ({first_line!r}) raised {err.ename}: {err.evalue}"
    return f"{type(err).__name__}: {err}"


def run_lesson(
    notebook: Path,
    out_dir: Path,
    *,
    profile: str | None = None,
    data_source: str | None = None,
    photo_source: str | None = None,
    kernel_name: str = "python3",
    progress: bool = True,
) -> LessonRun:
    """Execute one lesson with papermill into ``out_dir`` and read back what it recorded.

    Only the parameters the lesson declares are passed (MNIST lessons take ``data_source``,
    colorization lessons ``photo_source``), so papermill has no unknown ones to warn about.
    """
    import papermill

    out_dir.mkdir(parents=True, exist_ok=True)
    lesson = notebook.name.split("_", 1)[0]
    results_path = out_dir / f"{notebook.stem}.results.json"
    offered = {
        "profile": profile,
        "data_source": data_source,
        "photo_source": photo_source,
        "results_path": str(results_path.resolve()),
    }
    declared = papermill.inspect_notebook(str(notebook))
    parameters = {k: v for k, v in offered.items() if k in declared}
    start = time.perf_counter()
    error = None
    try:
        papermill.execute_notebook(
            str(notebook),
            str(out_dir / notebook.name),
            parameters=parameters,
            kernel_name=kernel_name,
            cwd=str(notebook.parent),
            progress_bar=progress,
        )
    except Exception as err:  # any failure is reported, and the course goes on
        error = _describe_failure(err)
    seconds = time.perf_counter() - start
    recorded = {"context": {}, "metrics": {}, "verdicts": {}}
    if results_path.is_file():
        recorded = json.loads(results_path.read_text())
    elif error is None:
        error = f"the lesson recorded no results (expected {results_path.name})"
    return LessonRun(
        lesson=lesson,
        notebook=notebook.name,
        status="failed" if error else "ok",
        seconds=round(seconds, 1),
        context=recorded.get("context", {}),
        metrics=recorded.get("metrics", {}),
        verdicts=recorded.get("verdicts", {}),
        error=error,
    )


def run_course(
    *,
    profile: str | None = None,
    lessons: list[str] | None = None,
    out: str | Path | None = None,
    data_source: str | None = None,
    photo_source: str | None = None,
    lessons_dir: Path = LESSONS_DIR,
    progress: bool = True,
) -> tuple[list[LessonRun], Path]:
    """Run the chosen lessons in order; write ``summary.json`` into the run folder."""
    # Fail now, before any lesson runs, on an unknown name; warn before hours on a CPU.
    profile_name = choose_profile(profile)[0]
    notebooks = find_lessons(lessons_dir, lessons)
    if profile_name == "full" and choose_device().type == "cpu":
        print(full_profile_on_cpu_warning([p.name[:2] for p in notebooks]), flush=True)
    run_dir = Path(out) if out else Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    runs: list[LessonRun] = []
    for notebook in notebooks:
        print(f"== Lesson {notebook.name}", flush=True)
        run = run_lesson(
            notebook, run_dir, profile=profile, data_source=data_source,
            photo_source=photo_source, progress=progress,
        )  # fmt: skip
        runs.append(run)
        for warning in run.context.get("warnings", []):  # e.g. photos skipped, few test photos
            print(f"   warning: {warning}", flush=True)
        if run.error:
            print(f"   FAILED: {run.error}\n   see {run_dir / notebook.name}", flush=True)
    summary = {
        "created": datetime.now().isoformat(timespec="seconds"),
        "profile_requested": profile or os.environ.get("AECOURSE_PROFILE") or "auto",
        "lessons": {r.lesson: r.__dict__ for r in runs},
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return runs, run_dir


def execute_in_place(path: Path, timeout: int = 900) -> None:
    """Execute a notebook with nbclient and save it over itself, as JupyterLab's "Run All"
    would (no papermill parameters, no widget state: :func:`without_widget_views`). Raises
    ``CellExecutionError``."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", record_timing=False,
        store_widget_state=False, resources={"metadata": {"path": str(path.parent)}},
    )  # fmt: skip
    client.execute()
    nbformat.write(without_widget_views(nb), path)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def without_widget_views(nb):
    """The notebook with its outputs' live-widget views dropped, keeping their ``text/plain``
    (e.g. :class:`aecourse.widgets.Explorer`'s note). Without saved widget state a view can
    only fail ("widget model not found"); the note says to run the cell."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            out.get("data", {}).pop(WIDGET_VIEW, None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if "data" not in o or o["data"]]
    return nb


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_table(runs: list[LessonRun]) -> str:
    """A plain-text results table: one block per lesson, its context, metrics and verdicts."""
    width = max((len(name) for r in runs for name in r.metrics), default=0) + 2
    lines = [
        f"{'lesson':<8}{'status':<8}{'seconds':>8}{'steps':>8}  {'profile':<8}{'device':<7}"
        f"{'data':<10}device name"
    ]
    for r in runs:
        c = r.context
        lines.append(
            f"{r.lesson:<8}{r.status:<8}{r.seconds:>8.1f}{c.get('optimizer_steps', 0):>8}  "
            f"{c.get('profile', '?'):<8}{c.get('device', '?'):<7}"
            f"{str(c.get('data_source', '?')):<10}{c.get('device_name', '?')}"
        )
        for name, value in r.metrics.items():
            lines.append(f"{'':<10}{name:<{width}}{_fmt(value)}")
        for claim, holds in r.verdicts.items():
            lines.append(f"{'':<10}{claim}: {holds}")
        if r.error:
            lines.append(f"{'':<10}error: {r.error}")
    return "\n".join(lines)
