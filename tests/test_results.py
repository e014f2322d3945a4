import json

import pytest
import torch

import aecourse
from aecourse import results


def test_record_writes_the_results_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AECOURSE_DEVICE", "cpu")
    path = tmp_path / "out" / "01.results.json"
    lesson = aecourse.start_lesson("01", profile="quick", results_path=path)
    assert lesson.profile == "quick" and lesson.data_source == "sample"
    assert "Lesson 01 | profile: quick (set by the notebook parameter)" in capsys.readouterr().out
    aecourse.record("val_mse", torch.tensor(0.25))
    aecourse.record("latent_dim", 32)
    aecourse.record_context(data_source="sample")
    saved = json.loads(path.read_text())
    assert saved["metrics"] == {"val_mse": 0.25, "latent_dim": 32}
    assert saved["context"] == {
        "lesson": "01",
        "profile": "quick",
        "data_source": "sample",
        "device": "cpu",
    }


def test_record_refuses_nan(tmp_path):
    aecourse.start_lesson("01", profile="quick", device="cpu", results_path=tmp_path / "r.json")
    with pytest.raises(ValueError, match="non-finite"):
        aecourse.record("val_mse", float("nan"))


def test_record_needs_a_started_lesson(monkeypatch):
    monkeypatch.setattr(results, "_current", None)
    with pytest.raises(RuntimeError, match="start_lesson"):
        aecourse.record("x", 1)


def test_without_a_path_numbers_stay_in_memory(capsys):
    lesson = aecourse.start_lesson("01", profile="quick", device="cpu")
    aecourse.record("val_mse", 0.5)
    assert lesson.metrics == {"val_mse": 0.5}
