"""The Jupyter kernels the teaching tools start, and a student's notebook run in one.

Every kernel talks to its client over Unix sockets in a private folder (IPC transport), not
over TCP: nothing listens on a port, and the kernel has nothing to warn about ("Kernel is
running over TCP without encryption", once per lesson on the console otherwise).
:class:`IPCKernelManager` runs the course's own lessons (the runner, ``make refresh``, the
book); :func:`run_in_sandbox` runs a student's notebook in a kernel started inside a
:class:`~aecourse.teach.sandbox.Sandbox`, every cell with a time limit and its output capped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from aecourse.teach.sandbox import NOBODY, Sandbox, stop

MAX_CELL_OUTPUT = 20_000  # characters of output kept per cell of a student's notebook


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


def sandboxed_kernel_manager(sandbox: Sandbox, work: Path, env: dict[str, str]):
    """A kernel manager whose kernel starts inside the sandbox, in ``work``, with only ``env``,
    and talks over Unix sockets in that folder (the sandbox has no network to talk over)."""

    class SandboxedKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            command = super().format_kernel_cmd(extra_arguments)
            if sandbox.mode == "bubblewrap" and sandbox.as_root:  # the kernel runs as nobody
                os.chown(self.connection_file, NOBODY, NOBODY)
            return sandbox.command(command, work, env)

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
) -> tuple[nbformat.NotebookNode, str | None, int]:
    """Run ``notebook`` in a kernel inside ``sandbox`` (folder ``work``, environment ``env``).

    Returns the notebook as it ran, why it stopped early (a cell past ``timeout`` seconds, or
    a kernel that died) or None, and how many code cells it executed. Whatever happens, the
    sandbox and everything in it end here.
    """
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    sandbox.prepare(work)
    client = CappedClient(
        notebook, km=sandboxed_kernel_manager(sandbox, work, env), timeout=timeout,
        allow_errors=True, record_timing=False, store_widget_state=False,
        kernel_name="python3", shutdown_kernel="immediate", startup_timeout=120,
    )  # fmt: skip
    stopped = None
    try:  # the kernel's own stdout and stderr are not the grader's console
        client.execute(cleanup_kc=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except CellTimeoutError:
        stopped = f"CellTimeoutError: the cell ran longer than {timeout} s and was stopped"
    except DeadKernelError:
        stopped = "the kernel died (a memory, CPU-time or process limit?) and was not restarted"
    finally:
        process = getattr(client.km.provisioner, "process", None) if client.km else None
        if process is not None:
            stop(process)
    return notebook, stopped, client.code_cells_executed
