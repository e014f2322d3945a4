"""The sandbox a student's code runs in: what it can see, change and reach, and its limits."""

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import aecourse
from aecourse.teach.budget import Budget
from aecourse.teach.sandbox import NOBODY, Limits, Sandbox

ROOT = Path(aecourse.__file__).resolve().parents[1]
SANDBOX = Sandbox()
if SANDBOX.mode != "bubblewrap" and os.environ.get("AECOURSE_REQUIRE_SANDBOX"):
    pytest.fail(f"AECOURSE_REQUIRE_SANDBOX is set but: {SANDBOX.description}", pytrace=False)
isolated = pytest.mark.skipif(SANDBOX.mode != "bubblewrap", reason=SANDBOX.description)


def _run(code: str, work: Path, sandbox: Sandbox = SANDBOX, timeout: int = 60):
    sandbox.prepare(work)
    command = sandbox.command([sys.executable, "-c", textwrap.dedent(code)], work, {"X": "1"})
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              start_new_session=True)  # fmt: skip
    finally:
        sandbox.end(work)


@isolated
def test_it_sees_its_folder_python_and_the_package_and_nothing_else(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the instructor's solution")
    result = _run(
        f"""
        import os, aecourse.checks
        print("work", os.getcwd(), sorted(os.listdir(".")))
        print("package", len(open(aecourse.checks.__file__).read()) > 0)
        print("env", sorted(k for k in os.environ if k not in ("PATH", "HOME", "LANG", "TMPDIR", "PYTHONNOUSERSITE", "PWD")))
        for path in [{str(secret)!r}, {str(ROOT / "lessons")!r}, {str(ROOT / "tests")!r}, "/root/.bashrc"]:
            print(path, os.path.exists(path))
        """,  # noqa: E501
        tmp_path / "work",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"work {tmp_path / 'work'} []" in out and "package True" in out
    assert "env ['X']" in out  # the grader's environment stays outside
    for path in (secret, ROOT / "lessons", ROOT / "tests", "/root/.bashrc"):
        assert f"{path} False" in out


@isolated
def test_the_package_and_python_are_read_only(tmp_path):
    result = _run(
        """
        import aecourse.checks, os, sys
        for path in [aecourse.checks.__file__, sys.executable, os.path.join(sys.prefix, "x")]:
            try:
                open(path, "a").write("# changed")
                print("CHANGED", path)
            except OSError as err:
                print("refused", type(err).__name__)
        open("mine.txt", "w").write("its own folder is writable")
        """,
        tmp_path / "work",
    )
    assert result.returncode == 0, result.stderr
    assert "CHANGED" not in result.stdout and result.stdout.count("refused") == 3
    assert (tmp_path / "work" / "mine.txt").exists()


@isolated
def test_no_network_not_even_the_graders_loopback(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.5)
        port = server.getsockname()[1]
        result = _run(
            f"""
            import socket
            for host in [("127.0.0.1", {port}), ("1.1.1.1", 80)]:
                try:
                    socket.create_connection(host, timeout=2)
                    print("CONNECTED", host)
                except OSError as err:
                    print("no", type(err).__name__)
            """,
            tmp_path / "work",
        )
        with pytest.raises(TimeoutError):
            server.accept()
    assert result.stdout.count("no ") == 2 and "CONNECTED" not in result.stdout


@isolated
def test_every_process_ends_with_the_sandbox_even_a_detached_one(tmp_path):
    marker = tmp_path / "work" / "still-alive.txt"
    result = _run(
        f"""
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c",
                          "import time; time.sleep(2); open({str(marker)!r}, 'w').write('x')"],
                         start_new_session=True)
        print("started")
        """,
        tmp_path / "work",
    )
    assert "started" in result.stdout
    time.sleep(4)
    assert not marker.exists()


@isolated
def test_it_sees_only_its_own_processes_and_runs_unprivileged(tmp_path):
    result = _run(
        """
        import os
        print("pids", len([p for p in os.listdir("/proc") if p.isdigit()]))
        print("uid", os.getuid())
        """,
        tmp_path / "work",
    )
    pids = int(result.stdout.split("pids ")[1].split()[0])
    assert pids <= 3  # bubblewrap's init, python (and at most one more)
    if os.geteuid() == 0:  # a user of its own, not root and not another sandbox's
        other = _run("import os; print(os.getuid())", tmp_path / "other")
        uid = int(result.stdout.split("uid ")[1].split()[0])
        assert 0 < uid != int(other.stdout) and uid != NOBODY


needs_groups = pytest.mark.skipif(not SANDBOX.grouped, reason="no control groups here (root)")


@isolated
@needs_groups
def test_memory_and_processes_are_budgeted_for_the_whole_sandbox(tmp_path):
    """Per-process limits let a notebook spread over many processes; the budget counts them
    all: three processes of 300 MB each do not fit in 512 MB, nor 100 processes in 64."""
    sandbox = Sandbox(budget=Budget(memory_bytes=512 * 2**20, processes=64))
    hog = _run(
        """
        import multiprocessing as mp, time
        def hold():
            block = bytearray(300 * 2**20)
            block[::4096] = b"x" * len(block[::4096])
            time.sleep(3)
        workers = [mp.Process(target=hold) for _ in range(3)]
        [w.start() for w in workers]
        [w.join() for w in workers]
        print("exit codes", [w.exitcode for w in workers])
        """,
        tmp_path / "hog",
        sandbox,
    )
    codes = hog.stdout.split("exit codes")[-1] if "exit codes" in hog.stdout else "killed"
    assert "-9" in codes or codes == "killed", hog.stdout + hog.stderr
    bomb = _run(
        """
        import subprocess
        started = 0
        try:
            for _ in range(100):
                subprocess.Popen(["sleep", "5"])
                started += 1
        except OSError as err:
            print("refused after", started, type(err).__name__)
        """,
        tmp_path / "bomb",
        sandbox,
    )
    assert "refused after" in bomb.stdout, bomb.stdout + bomb.stderr
    assert int(bomb.stdout.split("refused after ")[1].split()[0]) < 64


def test_limits_apply_inside(tmp_path):
    limits = Limits(data_bytes=2**30, file_bytes=2**20, cpu_seconds=30)
    sandbox = Sandbox(limits)
    result = _run(
        """
        import resource
        print("cpu", resource.getrlimit(resource.RLIMIT_CPU)[0])
        try:
            block = bytearray(2 * 2**30)
            print("ALLOCATED")
        except MemoryError:
            print("memory refused")
        open("big.bin", "wb").write(b"x" * 2 * 2**20)
        print("WROTE")
        """,
        tmp_path / "work",
        sandbox,
    )
    assert "cpu 30" in result.stdout and "memory refused" in result.stdout
    assert "WROTE" not in result.stdout and result.returncode != 0  # SIGXFSZ: file too large


def test_without_bubblewrap_it_says_it_is_not_isolated(tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    sandbox = Sandbox()
    assert sandbox.mode == "none"
    assert sandbox.description.startswith("NOT ISOLATED (bubblewrap (bwrap) is not installed)")
    result = _run("import os; print(os.getcwd(), os.environ['X'])", tmp_path / "work", sandbox)
    assert result.stdout.strip() == f"{tmp_path / 'work'} 1"  # its folder, its environment
