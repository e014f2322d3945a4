import pytest
import torch

from aecourse.profiles import choose_data_source, choose_device, choose_profile


def test_parameter_beats_environment(monkeypatch):
    monkeypatch.setenv("AECOURSE_PROFILE", "full")
    assert choose_profile("quick")[0] == "quick"
    assert choose_profile(None) == ("full", "set by AECOURSE_PROFILE")


def test_automatic_profile_follows_the_hardware(monkeypatch):
    monkeypatch.delenv("AECOURSE_PROFILE", raising=False)
    name, why = choose_profile(None)
    assert name == ("full" if torch.cuda.is_available() else "quick")
    assert "automatically" in why


@pytest.mark.parametrize("source", ["env", "parameter"])
def test_unknown_profile_is_a_clear_error(monkeypatch, source):
    if source == "env":
        monkeypatch.setenv("AECOURSE_PROFILE", "fast")
        args = (None,)
    else:
        args = ("fast",)
    with pytest.raises(ValueError, match=r"Unknown profile 'fast'.*quick, full"):
        choose_profile(*args)


def test_data_source_defaults_and_overrides(monkeypatch):
    monkeypatch.delenv("AECOURSE_DATA", raising=False)
    assert choose_data_source(None, "quick")[0] == "sample"
    assert choose_data_source(None, "full")[0] == "auto"
    monkeypatch.setenv("AECOURSE_DATA", "sample")
    assert choose_data_source(None, "full") == ("sample", "set by AECOURSE_DATA")
    with pytest.raises(ValueError, match="Unknown data source 'imagenet'"):
        choose_data_source("imagenet", "quick")


def test_device_choice(monkeypatch):
    monkeypatch.setenv("AECOURSE_DEVICE", "cpu")
    assert choose_device() == torch.device("cpu")
    with pytest.raises(ValueError, match="Unknown device 'tpu'"):
        choose_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU is visible"):
            choose_device("cuda")


def test_photo_source_parameter_environment_and_defaults(monkeypatch):
    from aecourse.profiles import COLORIZATION, choose_photo_source

    monkeypatch.delenv("AECOURSE_PHOTOS", raising=False)
    assert choose_photo_source(None, "quick")[0] == "shipped"
    assert choose_photo_source(None, "full")[0] == "auto"
    monkeypatch.setenv("AECOURSE_PHOTOS", "data/landscapes")
    assert choose_photo_source(None, "quick") == ("data/landscapes", "set by AECOURSE_PHOTOS")
    assert choose_photo_source("flowers102", "quick")[0] == "flowers102"
    assert COLORIZATION["full"].image_size == 150  # the seed's size
    assert (COLORIZATION["full"].batch_size, COLORIZATION["full"].lr) == (32, 1e-3)


def test_the_grading_profile_uses_the_quick_data_and_cuts_training(monkeypatch):
    from aecourse.profiles import COLORIZATION, choose_photo_source

    monkeypatch.delenv("AECOURSE_DATA", raising=False)
    monkeypatch.delenv("AECOURSE_PHOTOS", raising=False)
    monkeypatch.setenv("AECOURSE_PROFILE", "grading")
    assert choose_profile(None) == ("grading", "set by AECOURSE_PROFILE")
    assert choose_data_source(None, "grading")[0] == "sample"
    assert choose_photo_source(None, "grading")[0] == "shipped"
    quick, grading = COLORIZATION["quick"], COLORIZATION["grading"]
    assert grading.image_size < quick.image_size and grading.epochs_skip < quick.epochs_skip
    assert all(g < q for g, q in zip(grading.crops, quick.crops, strict=True))


@pytest.mark.parametrize(("profile", "threads"), [("quick", 2), ("grading", 1)])
def test_the_cpu_profiles_compute_on_their_pinned_threads(profile, threads):
    """quick: the committed outputs' 2 threads; grading: one notebook per core."""
    from aecourse.profiles import pin_cpu_threads

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        assert pin_cpu_threads(profile, torch.device("cpu")) == threads
        torch.set_num_threads(3)
        assert pin_cpu_threads("full", torch.device("cpu")) == 3  # full leaves the machine's
    finally:
        torch.set_num_threads(before)


def test_every_lesson_table_has_a_row_per_profile_with_the_same_settings():
    """A lesson reads ``SETTINGS[lesson.profile]``: each profile's row, grading included."""
    import ast
    import json
    from pathlib import Path

    from aecourse.profiles import PROFILES

    lessons = sorted((Path(__file__).parents[1] / "lessons").glob("0[123]_*.ipynb"))
    assert len(lessons) == 3  # the MNIST lessons; 04 and 05 share COLORIZATION
    for path in lessons:
        cells = json.loads(path.read_text())["cells"]
        code = next("".join(c["source"]) for c in cells if "SETTINGS = {" in "".join(c["source"]))
        table = next(n.value for n in ast.parse(code).body
                     if isinstance(n, ast.Assign) and n.targets[0].id == "SETTINGS")  # fmt: skip
        rows = {
            ast.literal_eval(key): {k.arg for k in value.keywords}
            for key, value in zip(table.keys, table.values, strict=True)
        }
        assert set(rows) == set(PROFILES), path.name
        assert rows["grading"] == rows["quick"] == rows["full"], path.name
