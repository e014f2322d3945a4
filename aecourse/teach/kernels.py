"""The Jupyter kernels the teaching tools start, and a student's notebook run in one.

Every kernel talks to its client over Unix sockets in a private folder (IPC transport), not
over TCP: nothing listens on a port, and the kernel has nothing to warn about ("Kernel is
running over TCP without encryption", once per lesson on the console otherwise).
:class:`IPCKernelManager` runs the course's own lessons (the runner, ``make refresh``, the
book); :func:`run_in_sandbox` runs a student's notebook in a kernel started inside a
:class:`~aecourse.teach.sandbox.Sandbox`, every cell with a time limit and its output capped.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from aecourse.teach import NOTEBOOK_TIMEOUT
from aecourse.teach.sandbox import Sandbox, stop

MAX_CELL_OUTPUT = 20_000  # characters of output kept per cell of a student's notebook
KERNEL_STARTS = 3  # tries to start a sandboxed kernel on a loaded machine


class IPCKernelManager(AsyncKernelManager):
    """A local kernel that talks over Unix sockets in a folder of its own, removed with it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("kernel_name", "python3")
        super().__init__(transport="ipc", **kwargs)
        self._folder = Path(tempfile.mkdtemp(prefix="aecourse-kernel-"))
        self.connection_file = str(self._folder / "kernel.json")
        self.ip = str(self._folder / "kernel")

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self._folder, ignore_errors=True)


def sandboxed_kernel_manager(
    sandbox: Sandbox, work: Path, env: dict[str, str], package: Path | None = None
):
    """A kernel manager whose kernel starts inside the sandbox, in ``work``, with only ``env``
    and ``package`` (a view of the package, or None), and talks over Unix sockets in that
    folder (the sandbox has no network to talk over)."""

    class SandboxedKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            command = super().format_kernel_cmd(extra_arguments)
            if sandbox.mode == "bubblewrap" and sandbox.as_root:  # the kernel runs as its user
                os.chown(self.connection_file, sandbox.uid(work), sandbox.uid(work))
            return sandbox.command(command, work, env, package)

    manager = SandboxedKernelManager(kernel_name="python3", transport="ipc")
    manager.ip = str(work / "kernel")
    manager.connection_file = str(work / "kernel.json")
    return manager


_CUT = f"[output cut: more than {MAX_CELL_OUTPUT:,} characters]\n"


def _size(output) -> int:
    """Characters of text in an output (images have a budget of their own, per page)."""
    if output.get("output_type") == "stream":
        return len(output.get("text", ""))
    data = output.get("data", {})
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v))
               for mime, v in data.items() if not mime.startswith("image/"))  # fmt: skip


class CappedClient(NotebookClient):
    """Keeps at most :data:`MAX_CELL_OUTPUT` characters of each cell's output."""

    def output(self, outs, msg, display_id, cell_index):
        used = sum(_size(o) for o in outs)
        if used >= MAX_CELL_OUTPUT:
            if not any(str(o.get("text", "")).startswith(_CUT) for o in outs):
                outs.append(nbformat.v4.new_output("stream", name="stderr", text=_CUT))
            return None
        out = super().output(outs, msg, display_id, cell_index)
        left = MAX_CELL_OUTPUT - used
        if out is not None and _size(out) > left:
            if out.get("output_type") == "stream":
                out["text"] = out["text"][:left]
            elif "data" in out:  # a huge repr or HTML: its start and a note
                text = str(out["data"].get("text/plain", ""))
                out["data"] = {"text/plain": text[: max(left, 0)] + "\n" + _CUT}
        return out


def run_in_sandbox(
    sandbox: Sandbox,
    work: Path,
    notebook: nbformat.NotebookNode,
    timeout: int,
    env: dict[str, str],
    package: Path | None = None,
    notebook_timeout: int = NOTEBOOK_TIMEOUT,
) -> tuple[nbformat.NotebookNode, str | None, int]:
    """Run ``notebook`` in a kernel inside ``sandbox`` (folder ``work``, environment ``env``,
    ``package`` in place of the installed package).

    Returns the notebook as it ran, why it stopped early (a cell past ``timeout`` seconds, the
    whole notebook past ``notebook_timeout``, or a kernel that died) or None, and how many
    code cells it executed. A kernel that fails to start (a loaded machine) is started again,
    up to :data:`KERNEL_STARTS` times. Whatever happens, the sandbox and everything in it end
    here.
    """
    for attempt in range(1, KERNEL_STARTS + 1):
        ran, stopped, executed, started = _run_once(
            sandbox, work, copy.deepcopy(notebook), timeout, env, package, notebook_timeout
        )
        if started or attempt == KERNEL_STARTS:
            break
    return ran, stopped, executed


def _end(client: NotebookClient, sandbox: Sandbox, work: Path) -> None:
    """Stop the kernel's process and everything left in its sandbox."""
    process = getattr(client.km.provisioner, "process", None) if client.km else None
    if process is not None:
        stop(process)
    sandbox.end(work)


def _run_once(sandbox, work, notebook, timeout, env, package, notebook_timeout):
    """One try of :func:`run_in_sandbox`: (notebook, stopped, executed, whether the kernel
    started)."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    sandbox.prepare(work)
    client = CappedClient(
        notebook, km=sandboxed_kernel_manager(sandbox, work, env, package), timeout=timeout,
        allow_errors=True, record_timing=False, store_widget_state=False,
        kernel_name="python3", shutdown_kernel="immediate", startup_timeout=120,
    )  # fmt: skip
    stopped, started, over = None, True, threading.Event()

    def end_all() -> None:  # the whole notebook's time is up: end its sandbox
        over.set()
        _end(client, sandbox, work)

    timer = threading.Timer(notebook_timeout, end_all)
    timer.start()
    try:  # the kernel's own stdout and stderr are not the grader's console
        client.execute(cleanup_kc=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except CellTimeoutError:
        stopped = f"CellTimeoutError: the cell ran longer than {timeout} s and was stopped"
    except DeadKernelError:
        stopped = "the kernel died (a memory, CPU-time or process limit?) and was not restarted"
    except (RuntimeError, TimeoutError) as err:  # it did not start: the machine, not the notebook
        if client.code_cells_executed or over.is_set():
            raise
        started, stopped = False, f"the kernel did not start ({err})"
    finally:
        timer.cancel()
        _end(client, sandbox, work)
    if over.is_set():
        stopped = f"the notebook ran longer than {notebook_timeout} s in all and was stopped"
    return notebook, stopped, client.code_cells_executed, started
