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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aecourse.profiles import choose_device, choose_profile, full_profile_on_cpu_warning
from aecourse.results import verdict_text
from aecourse.teach.lessons import LESSONS_DIR, find_lessons


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

    from aecourse.teach.kernels import IPCKernelManager

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
            kernel_manager_class=IPCKernelManager,
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
            f"{str(c.get('data_source') or c.get('photo_source') or '?'):<10}"
            f"{c.get('device_name', '?')}"
        )
        for name, value in r.metrics.items():
            lines.append(f"{'':<10}{name:<{width}}{_fmt(value)}")
        for claim, holds in r.verdicts.items():
            lines.append(f"{'':<10}{claim}: {verdict_text(holds)}")
        if r.error:
            lines.append(f"{'':<10}error: {r.error}")
    return "\n".join(lines)
