"""Command line: ``python -m aecourse run`` runs the course; ``refresh`` re-executes lessons.

python -m aecourse run [--profile quick|full] [--lessons 01 03 ...] [--out DIR]
                      [--data-source sample|full|auto] [--photo-source shipped|DIR ...]
python -m aecourse refresh [--lessons 01 ...]   # maintainers: rewrite committed outputs
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from aecourse.profiles import DATA_SOURCES, PHOTO_SOURCES, PROFILES
from aecourse.running import LESSONS_DIR, find_lessons, format_table, run_course

# The committed outputs are those of the quick profile on the CPU, with no progress widgets,
# so that nbval can re-run them anywhere and compare.
REFERENCE_ENV = {"AECOURSE_PROFILE": "quick", "AECOURSE_DEVICE": "cpu", "AECOURSE_PROGRESS": "0"}


def _run(args: argparse.Namespace) -> int:
    runs, run_dir = run_course(
        profile=args.profile,
        lessons=args.lessons,
        out=args.out,
        data_source=args.data_source,
        photo_source=args.photo_source,
        progress=not args.no_progress,
    )
    print()
    print(format_table(runs))
    print(f"\nNotebooks and summary.json in {run_dir}")
    failed = [r.lesson for r in runs if r.status != "ok"]
    if failed:
        print(f"FAILED lessons: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _refresh(args: argparse.Namespace) -> int:
    """Execute lessons in place with the reference settings (what nbval compares against).

    A lesson that fails is reported and left as it was on disk; the others still run.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    os.environ.update(REFERENCE_ENV)
    failed = []
    for path in find_lessons(LESSONS_DIR, args.lessons):
        start = time.perf_counter()
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb, timeout=args.timeout, kernel_name="python3", record_timing=False,
            store_widget_state=False, resources={"metadata": {"path": str(path.parent)}},
        )  # fmt: skip
        try:
            client.execute()
        except CellExecutionError as err:
            failed.append(path.name)
            print(f"{path.name}: FAILED, left unchanged: {err.ename}: {err.evalue}",
                  file=sys.stderr)  # fmt: skip
            continue
        nbformat.write(nb, path)
        print(f"{path.name}: executed in {time.perf_counter() - start:.0f} s")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aecourse", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run lessons with papermill; write summary.json")
    run.add_argument("--profile", choices=PROFILES, help="default: AECOURSE_PROFILE, else auto")
    run.add_argument("--data-source", choices=DATA_SOURCES, help="MNIST lessons' data")
    run.add_argument(
        "--photo-source", metavar="SOURCE",
        help=f"colorization lessons' photos: {', '.join(PHOTO_SOURCES)} or a folder",
    )  # fmt: skip
    run.add_argument("--lessons", nargs="+", metavar="NN", help="e.g. --lessons 01 03")
    run.add_argument("--out", type=Path, help="run folder (default runs/<timestamp>)")
    run.add_argument("--no-progress", action="store_true", help="no papermill progress bar")
    run.set_defaults(func=_run)

    refresh = sub.add_parser("refresh", help="re-execute lessons in place (quick, cpu)")
    refresh.add_argument("--lessons", nargs="+", metavar="NN")
    refresh.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    refresh.set_defaults(func=_refresh)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"aecourse: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
