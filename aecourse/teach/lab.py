"""JupyterLab for a learner: their own copies of the lessons, without the instructor's tools.

``make lab`` copies the student edition into ``work/`` once (a copy that exists is never
touched) and opens JupyterLab there with its own Jupyter config folder: no nbgrader authoring
UI, no news pop-up, no update check (both would go online), kernels over Unix sockets. As
root (containers, cloud machines) JupyterLab refuses to start unless told ``--allow-root``;
:func:`learner_lab_command` adds it and says why.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

# JupyterLab as a learner needs it: no nbgrader authoring UI (its lab extension and server
# extensions), no news pop-up, no update check (both would go online).
LEARNER_LAB_DISABLED = ("@jupyter/nbgrader", "@jupyterlab/apputils-extension:announcements")
LEARNER_LAB_ARGS = (
    "--LabApp.news_url=None",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--KernelManager.transport=ipc",  # Unix sockets: nothing listens on a port
    "--ServerApp.log_level=WARN",  # the address to open and real problems, not each extension
    "--LabApp.log_level=WARN",
)
ROOT_NOTE = (
    "Running as root (a container or cloud machine?): added --allow-root, without which "
    "JupyterLab refuses to start as root."
)
NBGRADER_SERVER_EXTENSIONS = (
    "formgrader", "validate_assignment", "assignment_list", "course_list",
)  # fmt: skip


def learner_lab_command(workspace: Path) -> tuple[list[str], dict[str, str], list[str]]:
    """The command, the extra environment and the notes for the learner (one line each) that
    open JupyterLab on ``workspace``; its own Jupyter config folder (``workspace/.jupyter``)
    keeps nbgrader's UI out."""
    config = workspace.resolve() / ".jupyter"
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    disabled = dict.fromkeys(LEARNER_LAB_DISABLED, True)
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": disabled}, indent=1)
    )
    off = {f"nbgrader.server_extensions.{name}": False for name in NBGRADER_SERVER_EXTENSIONS}
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": off}}, indent=1)
    )
    sockets = config / "kernels"  # the kernels' Unix sockets, out of the learner's sight
    if len(str(sockets)) > 80:  # a socket's path must stay under about 107 characters
        sockets = Path(tempfile.mkdtemp(prefix="aecourse-lab-"))
    sockets.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={workspace}",
               *LEARNER_LAB_ARGS, f"--KernelManager.ip={sockets / 'kernel'}"]  # fmt: skip
    notes = []
    if running_as_root():
        command.append("--allow-root")
        notes.append(ROOT_NOTE)
    return command, {"JUPYTER_CONFIG_DIR": str(config)}, notes


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
