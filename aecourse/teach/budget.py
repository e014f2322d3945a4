"""One sandbox's share of the machine, for all its processes together: memory, processes, CPU.

Per-process limits (``setrlimit``) do not stop a notebook that spreads over many processes,
and a process limit counts per *user*: sandboxes that ran as the same user shared it, so one
notebook's fork bomb made its classmates' kernels fail to start. Two things make a
sandbox's budget its own:

* **its own user**: started as root, each sandbox runs as a user id of its own (no name, no
  files outside its folder), so the process limit and ``kill`` reach only it;
* **a control group**, where the machine lets the grader make one (root, cgroup v1 or v2):
  a memory ceiling for the whole sandbox (its processes are killed past it), a process
  ceiling, and an equal CPU share, so a notebook that keeps every core busy with many
  processes still leaves its classmates their share.

Without root, or where control groups are read-only, only the per-process limits remain; the
sandbox's ``description`` says so.
"""

from __future__ import annotations

import itertools
import os
import secrets
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

CGROUPS = Path("/sys/fs/cgroup")
# User ids for sandboxes: above the ranges Debian and Ubuntu give people and their user
# namespaces (subuid ranges start at 100000 in blocks of 65536), spread by the grader's pid so
# that two grading runs on one machine do not share them.
UID_BASE = 3_000_000
_uids = itertools.count()
_uid_lock = threading.Lock()


def sandbox_uid() -> int:
    """A user id no other sandbox of this machine is using now."""
    with _uid_lock:
        return UID_BASE + (os.getpid() % 4096) * 4096 + next(_uids) % 4096


@dataclass(frozen=True)
class Budget:
    """What one sandbox may use, all its processes together."""

    memory_bytes: int = 6 * 2**30
    processes: int = 256  # processes and threads


def _writable(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)


class ControlGroup:
    """A control group per sandbox, made by :meth:`create` (None where the machine offers
    none); the sandbox's first process joins it (:attr:`procs`) and every process it starts
    stays in it. :meth:`end` kills them all and removes it."""

    def __init__(self, folders: list[Path]):
        self.folders = folders

    @property
    def procs(self) -> list[str]:
        return [str(folder / "cgroup.procs") for folder in self.folders]

    @classmethod
    def available(cls) -> str | None:
        """ "v1", "v2" or None: which kind the grader can make here."""
        if hasattr(os, "geteuid") and os.geteuid() != 0:
            return None
        if all(_writable(CGROUPS / c) for c in ("memory", "pids", "cpu")):
            return "v1"
        controllers = CGROUPS / "cgroup.controllers"
        if controllers.is_file() and {"memory", "pids"} <= set(controllers.read_text().split()):
            return "v2" if _writable(CGROUPS) else None
        return None

    @classmethod
    def create(cls, budget: Budget) -> ControlGroup | None:
        kind = cls.available()
        name = f"aecourse-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            if kind == "v1":
                folders = [CGROUPS / c / "aecourse" / name for c in ("memory", "pids", "cpu")]
                for folder in folders:
                    folder.mkdir(parents=True)
                (folders[0] / "memory.limit_in_bytes").write_text(str(budget.memory_bytes))
                swap = folders[0] / "memory.memsw.limit_in_bytes"
                if swap.exists():
                    swap.write_text(str(budget.memory_bytes))
                (folders[1] / "pids.max").write_text(str(budget.processes))
                return cls(folders)
            if kind == "v2":
                parent = CGROUPS / "aecourse"
                parent.mkdir(exist_ok=True)
                (parent / "cgroup.subtree_control").write_text("+memory +pids +cpu")
                folder = parent / name
                folder.mkdir()
                (folder / "memory.max").write_text(str(budget.memory_bytes))
                (folder / "memory.swap.max").write_text("0")
                (folder / "pids.max").write_text(str(budget.processes))
                return cls([folder])
        except OSError:
            return None
        return None

    def pids(self) -> set[int]:
        found: set[int] = set()
        for procs in self.procs:
            try:
                found |= {int(p) for p in Path(procs).read_text().split()}
            except (OSError, ValueError):
                continue
        return found

    def end(self) -> None:
        """Kill every process in the group, then remove it."""
        for _ in range(50):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.05)
        for folder in self.folders:
            try:
                folder.rmdir()
            except OSError:
                pass
