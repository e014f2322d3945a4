"""How far do the lessons' numbers move between CPU kinds? The spread behind every verdict.

The committed outputs come from one machine. Another CPU takes other code paths: PyTorch picks
its vector kernels by the instructions the CPU has (``ATEN_CPU_CAPABILITY``: ``avx512``,
``avx2`` or ``default``), oneDNN its convolutions (``ONEDNN_MAX_CPU_ISA``) and MKL its matrix
products (``MKL_ENABLE_INSTRUCTIONS``); each sums in another order, so training ends a few
last digits apart, and a verdict whose margin is smaller than that spread is a coin toss.

This runs every lesson with the reference settings (quick profile, CPU, 2 threads, the
lessons' seeds) once per CPU kind that this machine can imitate (an AVX-512 machine can
imitate all three; an AVX2 one the last two), then prints per recorded metric the value under
each kind and the spread (max - min), and each verdict's answers. Written to
``results/cpu-kinds.json``. ``--one-thread`` adds a run of the first kind with
``OMP_NUM_THREADS=1``: the quick profile pins 2 threads, so it should repeat that kind's numbers
exactly, whatever the machine's core count.

    .venv/bin/python benchmarks/cpu_kinds.py                 # ~25 min on 2 cores
    .venv/bin/python benchmarks/cpu_kinds.py --kinds avx2 --lessons 05
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import date
from pathlib import Path

from aecourse.results import verdict_text
from aecourse.teach.lessons import CPU_KINDS, REFERENCE_ENV

ROOT = Path(__file__).resolve().parents[1]


def cpu_name() -> str:
    """The CPU's model name, for the record (``/proc/cpuinfo`` on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_kind(name: str, threads: int, lessons: list[str], out: Path) -> dict:
    """One ``python -m aecourse run`` with the reference settings and the kind's caps."""
    env = {**os.environ, **REFERENCE_ENV, **CPU_KINDS[name], "OMP_NUM_THREADS": str(threads)}
    run_dir = out / f"{name}-{threads}t"
    cmd = [sys.executable, "-m", "aecourse", "run", "--no-progress", "--out", str(run_dir)]
    subprocess.run([*cmd, "--lessons", *lessons], check=True, env=env, cwd=ROOT)
    summary = json.loads((run_dir / "summary.json").read_text())
    return {
        lesson: {
            "status": run["status"],
            "seconds": run["seconds"],
            "metrics": run["metrics"],
            "verdicts": run["verdicts"],
        }
        for lesson, run in summary["lessons"].items()
    }


def spread_table(runs: dict[str, dict]) -> list[str]:
    """One line per metric (values per run and max - min) and per verdict (answers per run)."""
    names = list(runs)
    lines = ["lesson  what  " + "  ".join(names) + "  spread"]
    lessons = sorted({lesson for run in runs.values() for lesson in run})
    for lesson in lessons:
        first = runs[names[0]][lesson]
        for key, value in first["metrics"].items():
            if not isinstance(value, float):
                continue
            values = [runs[n][lesson]["metrics"].get(key) for n in names]
            shown = "  ".join(f"{v:.4f}" for v in values)
            lines.append(f"{lesson}  {key}  {shown}  {max(values) - min(values):.4f}")
        for key in first["verdicts"]:
            said = [runs[n][lesson]["verdicts"] for n in names]
            answers = [verdict_text(v[key]) if key in v else "-" for v in said]
            flag = "" if len(set(answers)) == 1 else "  <- differs"
            lines.append(f"{lesson}  {key!r}  {'  '.join(answers)}{flag}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", choices=list(CPU_KINDS), default=list(CPU_KINDS))
    parser.add_argument("--one-thread", action="store_true", help="also 1 thread (first kind)")
    parser.add_argument("--lessons", nargs="+", default=["01", "02", "03", "04", "05"])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "cpu-kinds")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks/results/cpu-kinds.json")
    args = parser.parse_args()
    runs = {f"{kind} 2t": run_kind(kind, 2, args.lessons, args.out) for kind in args.kinds}
    if args.one_thread:
        runs[f"{args.kinds[0]} 1t"] = run_kind(args.kinds[0], 1, args.lessons, args.out)
    lines = spread_table(runs)
    print("\n".join(lines))
    record = {"date": date.today().isoformat(), "cpu": cpu_name(), "runs": runs, "table": lines}
    args.results.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written to {args.results}")


if __name__ == "__main__":
    main()
