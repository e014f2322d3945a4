"""``make lab``'s command: the learner's JupyterLab, and as root the flag it needs, said once."""

import json

from aecourse.teach import lab
from aecourse.teach.lab import ROOT_NOTE, learner_lab_command


def test_as_root_it_adds_allow_root_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(lab.os, "geteuid", lambda: 0)
    command, env, notes = learner_lab_command(tmp_path / "work")
    assert "--allow-root" in command and notes == [ROOT_NOTE]
    assert "--allow-root" in ROOT_NOTE and "root" in ROOT_NOTE and len(ROOT_NOTE.splitlines()) == 1


def test_as_a_user_it_adds_nothing_and_says_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(lab.os, "geteuid", lambda: 1000)
    command, env, notes = learner_lab_command(tmp_path / "work")
    assert "--allow-root" not in command and notes == []


def test_kernels_talk_over_sockets_out_of_the_learners_sight(tmp_path):
    command, env, _ = learner_lab_command(tmp_path / "work")
    assert "--KernelManager.transport=ipc" in command and "--ServerApp.log_level=WARN" in command
    (ip,) = [a.split("=", 1)[1] for a in command if a.startswith("--KernelManager.ip=")]
    assert "/.jupyter/" in ip or "aecourse-lab-" in ip  # not among the learner's notebooks
    config = json.loads(
        (tmp_path / "work" / ".jupyter" / "labconfig" / "page_config.json").read_text()
    )
    assert config["disabledExtensions"]["@jupyter/nbgrader"] is True
    assert env == {"JUPYTER_CONFIG_DIR": str((tmp_path / "work" / ".jupyter").resolve())}
