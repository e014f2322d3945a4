import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from aecourse import photos as photos_module
from aecourse.photos import load_photo_folder, load_photos, load_shipped_photos, to_gray, to_rgb


@pytest.fixture
def photo_folder(tmp_path):
    """Eleven readable files of every kind the loader converts, and two broken ones."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(folder / f"{i}.jpg")
    Image.fromarray(rng.integers(0, 256, (30, 30, 4), dtype=np.uint8), "RGBA").save(
        folder / "a.png"
    )
    Image.fromarray(rng.integers(0, 256, (30, 30), dtype=np.uint8), "L").save(folder / "g.png")
    Image.new("P", (30, 30), 7).save(folder / "sub" / "p.png")
    Image.fromarray(np.full((30, 30), 32768, dtype=np.uint16)).save(folder / "sub" / "d.png")
    Image.new("RGB", (30, 30), (10, 200, 30)).save(folder / "sub" / "w.webp")
    Image.new("RGB", (30, 30), (200, 10, 30)).save(folder / "b.bmp")
    good = (folder / "0.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (folder / "not_an_image.png").write_text("hello")
    (folder / "notes.txt").write_text("ignored: not an image extension")
    return folder


def test_folder_loads_converts_splits_and_warns_once(photo_folder, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_photo_folder(photo_folder, 16, cache_dir=tmp_path / "cache", verbose=False)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "Skipped 2 unreadable" in messages[0]
    assert "truncated.jpg" in messages[0] and "not_an_image.png" in messages[0]
    assert data.sizes() == {"train": 9, "val": 1, "test": 1}
    for split in (data.train, data.val, data.test):
        assert split.rgb.shape[1:] == (3, 16, 16) and split.gray.shape[1:] == (1, 16, 16)
        assert split.rgb.min() >= 0 and split.rgb.max() <= 1
        assert torch.allclose(split.gray, to_gray(split.rgb))


def test_second_load_uses_the_cache(photo_folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    with pytest.warns(UserWarning, match="Skipped 2"):
        first = load_photo_folder(photo_folder, 16, cache_dir=cache, verbose=False)
    assert len(list(cache.glob("photos-16px-*.pt"))) == 1

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(photos_module, "decode_folder", no_decoding)
    second = load_photo_folder(photo_folder, 16, cache_dir=cache, verbose=False)
    assert torch.equal(first.train.rgb, second.train.rgb)


def test_modes_are_converted_sensibly():
    sixteen = Image.fromarray(np.full((4, 4), 32768, dtype=np.uint16))
    assert abs(int(np.asarray(to_rgb(sixteen))[0, 0, 0]) - 128) <= 1
    clear = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert tuple(np.asarray(to_rgb(clear))[0, 0]) == (255, 255, 255)  # transparent: on white
    assert to_rgb(Image.new("P", (4, 4))).mode == "RGB"


def test_gray_matches_pil_luminance():
    rgb = np.random.default_rng(1).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    pil = np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.float64) / 255
    ours = to_gray(torch.from_numpy(rgb).permute(2, 0, 1)[None].double() / 255)[0, 0].numpy()
    assert np.abs(ours - pil).max() <= 1 / 255 + 1e-9


def test_missing_empty_and_wrong_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*source='shipped'"):
        load_photo_folder(tmp_path / "missing", 16)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="No images"):
        load_photo_folder(tmp_path / "empty", 16)
    (tmp_path / "file.jpg").write_text("x")
    with pytest.raises(NotADirectoryError):
        load_photo_folder(tmp_path / "file.jpg", 16)


def test_shipped_photos_are_split_by_photo():
    data = load_shipped_photos(32, crops=(80, 20, 20), verbose=False)
    assert data.sizes() == {"train": 80, "val": 20, "test": 20}
    groups = data.photos_per_split
    assert len(groups["test"]) == 2 and len(groups["val"]) == 1 and len(groups["train"]) == 8
    everything = groups["train"] + groups["val"] + groups["test"]
    assert len(set(everything)) == len(everything) == 11  # no photo in two splits
    assert data.train.rgb.shape[1:] == (3, 32, 32)
    again = load_photos("shipped", 32, crops=(80, 20, 20), verbose=False)
    assert torch.equal(again.test.rgb, data.test.rgb)


def test_to_gray_refuses_gray_input():
    with pytest.raises(ValueError, match=r"colour images \(B, 3, H, W\)"):
        to_gray(torch.rand(2, 1, 8, 8))
