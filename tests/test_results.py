import json
import math

import pytest
import torch

import aecourse
from aecourse import results
from aecourse.models import LinearAutoencoder
from aecourse.train import fit


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
        "device_name": results.device_name(torch.device("cpu")),
        "threads": 2,  # the quick profile on a CPU computes on the reference threads
        "optimizer_steps": 0,
    }
    assert torch.get_num_threads() == 2


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


def test_every_optimizer_step_is_counted_and_saved(tmp_path, digits):
    path = tmp_path / "r.json"
    aecourse.start_lesson("01", profile="quick", device="cpu", results_path=path)
    model = LinearAutoencoder(4)
    fit(model, digits[:448], digits[448:], epochs=3, progress=False, print_every=0)  # 7 a epoch
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(5):  # a hand-written loop counts as well
        optimizer.step()
    assert results.current_lesson().optimizer_steps == 3 * 7 + 5
    assert json.loads(path.read_text())["context"]["optimizer_steps"] == 3 * 7  # saved by fit
    aecourse.record("x", 1)
    assert json.loads(path.read_text())["context"]["optimizer_steps"] == 3 * 7 + 5


def test_a_verdict_is_printed_and_recorded(tmp_path, capsys):
    path = tmp_path / "r.json"
    aecourse.start_lesson("01", profile="quick", device="cpu", results_path=path)
    aecourse.verdict("val MSE within 5% of PCA", 1.02 <= 1.05)
    assert capsys.readouterr().out.endswith("val MSE within 5% of PCA: True\n")
    assert json.loads(path.read_text())["verdicts"] == {"val MSE within 5% of PCA": True}


def test_the_device_has_a_name():
    name = results.device_name(torch.device("cpu"))
    assert name and name != "cpu"


def test_the_full_profile_on_a_cpu_warns_how_long_it_takes(capsys):
    aecourse.start_lesson("03", profile="full", data_source="sample", device="cpu")
    out = capsys.readouterr().out
    assert "WARNING: the full profile on a CPU: lesson 03 takes about" in out
    assert "--profile quick" in out


@pytest.mark.parametrize(
    ("margin", "shown", "recorded"),
    [
        (0.8, "True", True),
        (-0.8, "False", False),
        (0.2, "too close to call (within the 0.5 dB that CPU kinds move it)", None),
        (-0.5, "too close to call (within the 0.5 dB that CPU kinds move it)", None),
    ],
)
def test_a_verdict_on_a_margin_inside_the_spread_is_too_close_to_call(
    tmp_path, capsys, margin, shown, recorded
):
    path = tmp_path / "r.json"
    aecourse.start_lesson("05", profile="quick", device="cpu", results_path=path)
    assert aecourse.verdict_on_margin("Lab beats gray by 1 dB", margin, 0.5, " dB") is recorded
    assert capsys.readouterr().out.endswith(f"Lab beats gray by 1 dB: {shown}\n")
    assert json.loads(path.read_text())["verdicts"] == {"Lab beats gray by 1 dB": recorded}


@pytest.mark.parametrize(("margin", "spread"), [(float("nan"), 0.5), (0.1, -1.0), (0.1, math.inf)])
def test_a_verdict_on_a_broken_margin_or_spread_says_what_is_wrong(margin, spread):
    aecourse.start_lesson("05", profile="quick", device="cpu")
    with pytest.raises(ValueError, match="margin|spread"):
        aecourse.verdict_on_margin("claim", margin, spread)
