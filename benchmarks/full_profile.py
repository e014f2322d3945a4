"""Gather full-profile runs into one record: seconds, optimizer steps and verdicts per lesson.

The course runner writes a ``summary.json`` per run (``python -m aecourse run --profile full``,
or one per lesson with the GPU kit in ``../shared/device/``). This merges any number of them
into ``benchmarks/results/full-profile-<device>.json`` and prints the benchmarks README's row:

    .venv/bin/python benchmarks/full_profile.py runs/<time>/summary.json
    .venv/bin/python benchmarks/full_profile.py summary-01.json summary-02.json ... --name h200

Goals on one H100/H200-class GPU: every lesson ``ok``, none over 90 s, the whole course in at
most 5 minutes, and every verdict of Lessons 01 to 03 true.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import date
from pathlib import Path

from aecourse.results import verdict_text

GOAL_LESSON_S, GOAL_COURSE_S = 90, 300


def merge(paths: list[Path]) -> dict:
    """One record from several summary.json files (a later file wins for the same lesson)."""
    lessons = {}
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"No summary at {path}: give the summary.json of a run.")
        lessons.update(json.loads(path.read_text())["lessons"])
    if not lessons:
        raise ValueError("The summaries hold no lessons.")
    lessons = dict(sorted(lessons.items()))
    names = {run["context"].get("device_name", "?") for run in lessons.values()}
    total = sum(run["seconds"] for run in lessons.values())
    return {
        "date": date.today().isoformat(),
        "device_name": " / ".join(sorted(names)),
        "profiles": sorted({run["context"].get("profile", "?") for run in lessons.values()}),
        "seconds_total": round(total, 1),
        "goals_met": {
            "all ok": all(run["status"] == "ok" for run in lessons.values()),
            f"no lesson over {GOAL_LESSON_S} s": all(
                run["seconds"] <= GOAL_LESSON_S for run in lessons.values()
            ),
            f"course at most {GOAL_COURSE_S} s": total <= GOAL_COURSE_S,
        },
        "lessons": {
            n: {
                "status": run["status"],
                "seconds": run["seconds"],
                "optimizer_steps": run["context"].get("optimizer_steps"),
                "data_source": run["context"].get("data_source"),
                "verdicts": run.get("verdicts", {}),
                "metrics": run["metrics"],
                "error": run.get("error"),
            }
            for n, run in lessons.items()
        },
    }


def readme_row(record: dict) -> str:
    """The row of benchmarks/README.md: date, device, seconds and steps per lesson, verdicts."""
    cells = []
    for n, r in record["lessons"].items():
        failed = "" if r["status"] == "ok" else f" ({r['status']})"
        cells.append(f"{n}: {r['seconds']:.0f} s, {r['optimizer_steps'] or 0:,} steps{failed}")
    verdicts = [v for r in record["lessons"].values() for v in r["verdicts"].values()]
    undecided = sum(v is None for v in verdicts)
    close = f", {undecided} too close to call" if undecided else ""
    return (
        f"| {record['date']} | {record['device_name']} | {'; '.join(cells)} | "
        f"{record['seconds_total']:.0f} s | {sum(v is True for v in verdicts)} of "
        f"{len(verdicts)} true{close} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summaries", nargs="+", type=Path)
    parser.add_argument("--name", help="file name part, e.g. h200 (default: from the device)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    record = merge(args.summaries)
    name = args.name or re.sub(r"[^a-z0-9]+", "-", record["device_name"].lower()).strip("-")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"full-profile-{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    for n, r in record["lessons"].items():
        print(f"{n}  {r['status']:<7}{r['seconds']:>7.1f} s{r['optimizer_steps'] or 0:>9,} steps")
        for claim, holds in r["verdicts"].items():
            print(f"      {claim}: {verdict_text(holds)}")
    print(f"total {record['seconds_total']:.0f} s; goals: {record['goals_met']}")
    print(f"\n{readme_row(record)}\n\nwritten to {path}")


if __name__ == "__main__":
    main()
