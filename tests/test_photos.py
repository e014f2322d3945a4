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
    assert len(groups["test"]) == 2 and len(groups["val"]) == 1 and len(groups["train"]) == 5
    everything = groups["train"] + groups["val"] + groups["test"]
    assert len(set(everything)) == len(everything) == 8  # no photo in two splits
    assert data.train.rgb.shape[1:] == (3, 32, 32)
    again = load_photos("shipped", 32, crops=(80, 20, 20), verbose=False)
    assert torch.equal(again.test.rgb, data.test.rgb)


def test_to_gray_refuses_gray_input():
    with pytest.raises(ValueError, match=r"colour images \(B, 3, H, W\)"):
        to_gray(torch.rand(2, 1, 8, 8))


def test_shipped_photos_are_everyday_scenes_and_crops_know_their_photo():
    groups = photos_module.shipped_photos()
    assert not {"retina", "immunohistochemistry", "hubble_deep_field"} & set(groups)
    assert len(groups) == 8
    data = load_shipped_photos(32, crops=(80, 20, 20), verbose=False)
    for split in ("train", "val", "test"):
        sources = getattr(data, split).sources
        assert len(sources) == len(getattr(data, split))
        assert set(sources) == set(data.photos_per_split[split])


def test_crops_are_shared_evenly_among_the_photos_of_a_split():
    groups = {
        "a": [np.zeros((50, 70, 3), np.uint8)],
        "b": [np.full((60, 60, 3), 255, np.uint8)] * 2,
    }
    crops, sources = photos_module.crops_of(groups, ["a", "b"], 10, 16, torch.Generator())
    assert crops.shape == (10, 3, 16, 16) and crops.dtype == torch.uint8
    assert sources == ["a"] * 4 + ["b"] * 6  # 3 photos: 4 + 3 + 3 crops
    assert crops[:4].max() == 0 and crops[4:].min() == 255  # each crop is of its own photo


def test_split_photo_names_is_a_fixed_partition():
    names = [f"photo{i}" for i in range(8)]
    split = photos_module.split_photo_names(names, test_photos=2, val_photos=1, seed=3)
    assert sorted(split["train"] + split["val"] + split["test"]) == names
    assert (len(split["test"]), len(split["val"])) == (2, 1)
    assert split == photos_module.split_photo_names(list(reversed(names)), 2, 1, seed=3)


def test_read_photo_from_path_bytes_or_array(tmp_path):
    rgb = np.zeros((40, 60, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    Image.fromarray(rgb).save(tmp_path / "red.png")
    from_path = photos_module.read_photo(tmp_path / "red.png", 32)
    from_bytes = photos_module.read_photo((tmp_path / "red.png").read_bytes(), 32)
    from_array = photos_module.read_photo(rgb, 32)
    assert from_path.shape == (1, 3, 32, 32)
    assert torch.equal(from_path, from_bytes) and torch.equal(from_path, from_array)
    assert from_path[0, 0].min() == 1.0 and from_path[0, 1:].max() == 0.0


def test_read_photo_errors_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="check the path"):
        photos_module.read_photo(tmp_path / "missing.jpg", 32)
    (tmp_path / "text.jpg").write_text("not a photo")
    with pytest.raises(ValueError, match="Could not read text.jpg as an image"):
        photos_module.read_photo(tmp_path / "text.jpg", 32)
    with pytest.raises(ValueError, match="the uploaded file"):
        photos_module.read_photo(b"\x00\x01", 32)


def test_auto_uses_data_photos_when_it_has_images(tmp_path, monkeypatch, photo_folder):
    monkeypatch.setattr(photos_module, "DATA_DIR", tmp_path / "data")
    assert photos_module.resolve_photo_source("auto")[0] == "shipped"
    (tmp_path / "data").mkdir()
    photo_folder.rename(tmp_path / "data" / "photos")
    source, why = photos_module.resolve_photo_source("auto")
    assert source == tmp_path / "data" / "photos" and "found photos" in why
    assert photos_module.resolve_photo_source("shipped") == ("shipped", "as chosen")


def test_flowers102_goes_through_torchvision_and_the_folder_loader(tmp_path, monkeypatch):
    import torchvision.datasets

    calls = []

    def fake_flowers(root, split, download):
        calls.append((root, split, download))
        folder = tmp_path / "flowers-102" / "jpg"
        folder.mkdir(parents=True)
        for i in range(10):
            Image.new("RGB", (50, 40), (20 * i, 100, 50)).save(folder / f"image_{i:05d}.jpg")

    monkeypatch.setattr(torchvision.datasets, "Flowers102", fake_flowers)
    assert photos_module.download_flowers102(tmp_path) == tmp_path / "flowers-102" / "jpg"
    assert calls == [(str(tmp_path), "test", True)]

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.datasets, "Flowers102", offline)
    with pytest.raises(RuntimeError, match="Could not download Flowers-102.*'shipped'"):
        photos_module.download_flowers102(tmp_path)
