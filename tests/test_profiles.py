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
