"""Run code on someone else's behalf (a student's notebook) where it cannot reach anything else.

The mechanism is bubblewrap (``bwrap``; Debian and Ubuntu package ``bubblewrap``), which the
Flatpak sandbox is built on. It starts the code in new mount, PID, network, IPC and UTS
namespaces. Inside, the code sees:

* the system (``/usr``, ``/etc``), the Python environment and the ``aecourse`` package, all
  **read-only**;
* one working folder of its own (read-write), which is its home and current folder, and a
  private ``/tmp`` of limited size;
* only its own processes, and no network but its own loopback.

Everything else of the machine is simply not there: the course folder (``classroom/`` with the
instructor's sources and ``gradebook.db``), the lessons with their solutions, other students'
submissions, the grader's files. In place of the installed package it may see a *view*
(:mod:`aecourse.teach.views`): the package without the lesson's own step copies. Started as
root, the code then runs as an unprivileged user id of its own, one per sandbox; started by a
user, it runs in a user namespace as that user. Limits (``setrlimit``, inherited by every
process it starts): CPU seconds, data memory, processes and threads, the size of a written
file, open files, no core dumps; and, where the machine allows, a budget for all its processes
together (:mod:`aecourse.teach.budget`: memory, processes, an equal CPU share). When the
sandbox ends (or is killed at its time limit) every process in it ends, detached ones
included: the PID namespace dies with it.

What it does not protect against: a Linux kernel exploit; reading what any user may read of
the system folders (``/etc``, ``/usr``) and the Python environment; using every CPU core within
its CPU-time budget; anything the code does to its own outputs inside the sandbox (so points
never come from the student's own run, see :mod:`aecourse.teach.grading`).

Without bubblewrap (not Linux, not installed, or user namespaces disabled) :class:`Sandbox`
can still run the code, with the limits and a throwaway folder only; its ``mode`` and
``description`` then say plainly that the code is **not isolated**, and grading refuses to
run a submission so unless the instructor asks for it (:data:`HOW_TO_ISOLATE` says how to get
the isolation instead).
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from aecourse.teach.budget import Budget, ControlGroup, sandbox_uid

NOBODY = 65534  # uid and gid of the unprivileged user "nobody" on Debian, Ubuntu, Fedora
HOW_TO_ISOLATE = (
    "To isolate submissions, install bubblewrap: on Debian or Ubuntu `sudo apt install "
    "bubblewrap` (`make autograde` does it when run as root), on Fedora `sudo dnf install "
    "bubblewrap`, on Arch `sudo pacman -S bubblewrap`. If it is installed but fails, user "
    "namespaces are off: `sudo sysctl kernel.unprivileged_userns_clone=1` (Debian), or allow "
    "bwrap in AppArmor (Ubuntu 24.04+), or grade as root. On macOS or Windows, grade inside a "
    "Linux virtual machine (e.g. WSL 2 on Windows, a Multipass or UTM VM on macOS)."
)


@dataclass(frozen=True)
class Limits:
    """Resource limits of everything that runs in the sandbox (per process, inherited)."""

    cpu_seconds: int = 1800
    data_bytes: int = 6 * 2**30  # heap and private memory: what the code can allocate
    processes: int = 256  # processes and threads of the sandbox's user (one per sandbox)
    file_bytes: int = 256 * 2**20  # the largest file it may write
    open_files: int = 1024
    tmp_bytes: int = 512 * 2**20  # the private /tmp


def _apply_limits(limits: Limits) -> None:
    for name, value in [
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_DATA, limits.data_bytes),
        (resource.RLIMIT_NPROC, limits.processes),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
    ]:
        resource.setrlimit(name, (value, value))


def _ancestors(path: Path) -> list[Path]:
    """``/a/b/c`` -> [/a, /a/b]: folders bubblewrap must create (readable) before a bind."""
    return list(reversed(path.parents))[1:]


def package_folder() -> Path:
    """Where the installed ``aecourse`` package is (a view is mounted there instead)."""
    import aecourse

    return Path(aecourse.__file__).resolve().parent


def _readable_paths() -> list[Path]:
    """What the sandboxed Python needs to read: its installation and the aecourse package."""
    paths = {Path(sys.base_prefix), Path(sys.prefix), package_folder()}
    return sorted(p.resolve() for p in paths)


class Sandbox:
    """Wraps a command so that it runs isolated (bubblewrap) and limited (setrlimit).

    ``Sandbox()`` finds out what this machine allows; ``mode`` is ``"bubblewrap"`` or
    ``"none"``, and ``description`` says what that means for the code it runs.
    """

    def __init__(self, limits: Limits | None = None, budget: Budget | None = None):
        self.limits = limits or Limits()
        self.budget = budget or Budget(self.limits.data_bytes, self.limits.processes)
        self.as_root = hasattr(os, "geteuid") and os.geteuid() == 0
        self.readable = _readable_paths()
        self.package = package_folder()
        self._users: dict[str, tuple[int, ControlGroup | None]] = {}
        self.mode, why = self._detect()
        self.grouped = self.mode == "bubblewrap" and ControlGroup.available() is not None
        if self.mode == "bubblewrap":
            user = "a user id of its own" if self.as_root else "a user namespace"
            budget = (
                "a memory, process and CPU budget for the whole sandbox"
                if self.grouped
                else "limits per process only (no control groups here)"
            )
            self.description = (
                f"isolated with bubblewrap ({user}; no network; only its own folder writable; "
                f"the course, other submissions and the grader's files out of sight; {budget})"
            )
        else:
            self.description = (
                f"NOT ISOLATED ({why}): the code can read and change every file this user "
                "can, and use the network; only time, memory, process and file-size limits "
                "apply"
            )

    def _detect(self) -> tuple[str, str]:
        if not sys.platform.startswith("linux"):
            return "none", f"bubblewrap needs Linux, this is {sys.platform}"
        if shutil.which("bwrap") is None:
            return "none", "bubblewrap (bwrap) is not installed"
        work = Path(os.environ.get("TMPDIR", "/tmp"))
        try:
            trial = subprocess.run(self._bwrap(work) + ["--", "true"], capture_output=True,
                                   timeout=30, text=True)  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as err:
            return "none", f"bubblewrap could not start ({err})"
        if trial.returncode != 0:
            return "none", f"bubblewrap failed here: {trial.stderr.strip()[:200]}"
        return "bubblewrap", ""

    def _bwrap(self, work: Path, package: Path | None = None) -> list[str]:
        args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
                "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]  # fmt: skip
        if not self.as_root:  # root keeps its capabilities here: setpriv needs them to drop
            args += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
        args += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            top = Path("/") / name
            if top.is_symlink():
                args += ["--symlink", os.readlink(top), str(top)]
            elif top.is_dir():
                args += ["--ro-bind", str(top), str(top)]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--size", str(self.limits.tmp_bytes), "--tmpfs", "/tmp"]
        created: set[Path] = set()
        for path in [*self.readable, work]:
            for folder in _ancestors(path):  # readable parents, even of /root (mode 700)
                if folder not in created and str(folder) not in ("/usr", "/etc", "/tmp"):
                    args += ["--perms", "0755", "--dir", str(folder)]
                    created.add(folder)
            if path == self.package and package is not None:
                args += ["--ro-bind", str(package), str(path)]  # the view, where the package is
            elif path != work:
                args += ["--ro-bind", str(path), str(path)]
        args += ["--bind", str(work), str(work), "--chdir", str(work)]
        return args

    def prepare(self, work: Path) -> None:
        """Make ``work`` the folder of a new sandbox: its own user id and control group (see
        :mod:`aecourse.teach.budget`), the folder writable by that user. End it with
        :meth:`end`."""
        work.mkdir(parents=True, exist_ok=True)
        self.end(work)
        uid = sandbox_uid() if self.mode == "bubblewrap" and self.as_root else os.getuid()
        group = ControlGroup.create(self.budget) if self.grouped else None
        self._users[str(work)] = uid, group
        if self.mode == "bubblewrap" and self.as_root:
            for path in [work, *work.rglob("*")]:
                os.chown(path, uid, uid)

    def uid(self, work: Path) -> int:
        """The user id the sandbox of ``work`` runs as."""
        return self._users[str(work)][0] if str(work) in self._users else NOBODY

    def end(self, work: Path) -> None:
        """Kill every process left in the sandbox of ``work`` and remove its control group."""
        _, group = self._users.pop(str(work), (None, None))
        if group is not None:
            group.end()

    def command(
        self, argv: list[str], work: Path, env: dict[str, str], package: Path | None = None
    ) -> list[str]:
        """The command that runs ``argv`` in the sandbox of ``work`` (made by :meth:`prepare`),
        in that folder, with only ``env`` in its environment and ``package`` (a view, see
        :mod:`aecourse.teach.views`) in place of the installed package. Run it with
        ``start_new_session=True``; stop it with :func:`stop` and :meth:`end`."""
        env = {"HOME": str(work), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
               "PYTHONNOUSERSITE": "1", "TMPDIR": "/tmp"} | env  # fmt: skip
        _, group = self._users.get(str(work), (None, None))
        setup = asdict(self.limits) | {"cgroups": group.procs if group else []}
        prefix = [sys.executable, "-m", "aecourse.teach.sandbox", json.dumps(setup)]
        if self.mode != "bubblewrap":
            return [*prefix, str(work), json.dumps(env), "--", *argv]
        inner = argv
        if self.as_root:
            uid = self.uid(work)
            drop = [f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                    "--bounding-set=-all", "--no-new-privs"]  # fmt: skip
            inner = ["setpriv", *drop, "--", *argv]
        setenv = [a for key, value in env.items() for a in ("--setenv", key, value)]
        bwrap = self._bwrap(work, package)
        return [*prefix, "-", "{}", "--", *bwrap, "--clearenv", *setenv, "--", *inner]


def reported(
    sandbox: Sandbox,
    argv: list[str],
    work: Path,
    env: dict[str, str],
    job: str,
    timeout: int,
    package: Path | None = None,
) -> tuple[list[bytes], bool]:
    """Run ``argv`` in a new sandbox of ``work``; send it a random secret on a line of its own,
    then ``job``, on its standard input, and read back its reports from its standard output:
    each a line ``SECRET SIZE`` and SIZE bytes. It is a channel the command opened before it
    ran any code of the student's, and that code cannot write a report without the secret.
    Returns the reports' bytes and whether it ran past ``timeout`` seconds (it is stopped)."""
    secret = secrets.token_hex(16)
    sandbox.prepare(work)
    command = sandbox.command(argv, work, env, package)
    with tempfile.TemporaryFile() as output:  # outside the sandbox's folder
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=output,
                                   stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        timed_out = False
        try:
            process.communicate((secret + "\n" + job).encode(), timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            stop(process)
            sandbox.end(work)
        output.seek(0)
        data = output.read()
    return _frames(data, secret.encode() + b" "), timed_out


def _frames(data: bytes, mark: bytes) -> list[bytes]:
    """The reports in ``data``: each ``mark`` SIZE newline, then SIZE bytes."""
    frames, at = [], 0
    while (start := data.find(mark, at)) != -1:
        end = data.find(b"\n", start, start + len(mark) + 20)
        size = data[start + len(mark) : end] if end != -1 else b""
        if not size.isdigit() or end + 1 + int(size) > len(data):
            at = start + 1
            continue
        frames.append(data[end + 1 : end + 1 + int(size)])
        at = end + 1 + int(size)
    return frames


def stop(process: subprocess.Popen) -> None:
    """Stop a sandboxed command and everything in it (started with ``start_new_session``:
    its process group; under bubblewrap its PID namespace dies with it)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            process.kill()
    process.wait()


def main(argv: list[str]) -> None:
    """``python -m aecourse.teach.sandbox LIMITS FOLDER ENV -- COMMAND...``: set the limits, then
    become COMMAND (bubblewrap, or, not isolated, the command itself in FOLDER with ENV)."""
    setup, folder, env, sep, *command = argv
    if sep != "--" or not command:
        raise SystemExit("usage: python -m aecourse.teach.sandbox LIMITS FOLDER ENV -- COMMAND...")
    limits = json.loads(setup)
    for procs in limits.pop("cgroups", []):  # join the sandbox's control group first
        Path(procs).write_text(str(os.getpid()))
    _apply_limits(Limits(**limits))
    if folder != "-":  # not isolated: at least a folder of its own and a clean environment
        os.chdir(folder)
        os.execvpe(command[0], command, json.loads(env))
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
