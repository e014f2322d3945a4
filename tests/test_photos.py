import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aecourse import photo_files, photo_splits
from aecourse import photo_folder as photo_folder_module
from aecourse import photos as photos_module
from aecourse.color import to_gray
from aecourse.photo_files import to_rgb
from aecourse.photo_folder import load_photo_folder
from aecourse.photos import load_photos, load_shipped_photos


def _colorful(rng, height=48, width=64) -> Image.Image:
    """A random colour image: far from gray."""
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _folder(root, n, seed=0):
    """``n`` colourful photos in a folder (some in a sub-folder)."""
    rng = np.random.default_rng(seed)
    (root / "sub").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        _colorful(rng).save(root / ("sub" if i % 3 == 0 else ".") / f"photo{i:02d}.png")
    return root


@pytest.fixture
def photo_folder(tmp_path):
    """Five colourful photos of every kind the loader converts, and all it must skip: a gray
    one, a nearly gray one, a 1x1 and a 2000x20 image, two broken files and a text file."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    _colorful(rng).save(folder / "0.jpg")
    rgba = np.concatenate([np.asarray(_colorful(rng)), np.full((48, 64, 1), 200, np.uint8)], 2)
    Image.fromarray(rgba, "RGBA").save(folder / "a.png")
    _colorful(rng).quantize(64).save(folder / "sub" / "p.png")  # a palette image
    _colorful(rng).save(folder / "sub" / "w.webp")
    _colorful(rng).save(folder / "b.bmp")
    gray = rng.integers(0, 256, (48, 64), dtype=np.uint8)
    Image.fromarray(gray, "L").save(folder / "gray.png")
    tint = np.stack([gray, gray, np.clip(gray.astype(int) + 3, 0, 255).astype(np.uint8)], 2)
    Image.fromarray(tint).save(folder / "nearly_gray.png")
    Image.new("RGB", (1, 1), (255, 0, 0)).save(folder / "dot.png")
    _colorful(rng, 20, 2000).save(folder / "strip.png")
    good = (folder / "0.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (folder / "not_an_image.png").write_text("hello")
    (folder / "notes.txt").write_text("not an image extension")
    return folder


def test_folder_skips_what_it_cannot_learn_from_and_names_it(photo_folder, tmp_path, capsys):
    data = load_photo_folder(photo_folder, 16, crops=(40, 10, 10), cache_dir=tmp_path / "c")
    text = " ".join(data.warnings)
    for name in ("notes.txt", "truncated.jpg", "not_an_image.png", "dot.png (1x1)",
                 "strip.png (2000x20)", "gray.png", "nearly_gray.png"):  # fmt: skip
        assert name.split()[0] in text, name
    assert "ignored 1 file" in text and "skipped 2 files not readable" in text
    assert "skipped 2 files smaller than 32 pixels" in text and "skipped 2 files gray" in text
    assert "only 1 test photo" in text
    assert "BytesIO" not in text
    printed = capsys.readouterr()
    assert all(f"Warning: {w}" in printed.err for w in data.warnings)  # shown, not only kept
    assert "5 photos" in printed.out and "random crops, split by photo" in printed.out
    assert sum(len(v) for v in data.photos_per_split.values()) == 5  # the usable ones
    for split in (data.train, data.val, data.test):
        assert split.rgb.shape[1:] == (3, 16, 16) and split.gray.shape[1:] == (1, 16, 16)
        assert split.rgb.min() >= 0 and split.rgb.max() <= 1
        assert torch.allclose(split.gray, to_gray(split.rgb))


@pytest.mark.parametrize("n", [3, 4, 9, 12])
def test_a_small_folder_is_split_by_photo_and_cut_into_the_crop_budget(tmp_path, n):
    data = load_photo_folder(_folder(tmp_path / "p", n), 16, crops=(40, 10, 10),
                             cache_dir=tmp_path / "c", verbose=False)  # fmt: skip
    assert data.sizes() == {"train": 40, "val": 10, "test": 10}  # the budget, whatever n
    per_split = data.photos_per_split
    assert [len(per_split[k]) for k in ("train", "val", "test")] == [n - 2, 1, 1]
    everything = sum(per_split.values(), [])
    assert sorted(everything) == sorted(set(everything)) and len(everything) == n
    for split in ("train", "val", "test"):
        assert set(getattr(data, split).sources) == set(per_split[split])  # crops by photo
    assert data.split_summary()["train"] == {"images": 40, "photos": n - 2}
    assert any("test photo: verdicts on so few" in w for w in data.warnings)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_fewer_than_three_usable_photos_fail_with_one_sentence(tmp_path, n):
    folder = _folder(tmp_path / "p", n)
    Image.new("RGB", (64, 64), (128, 128, 128)).save(folder / "gray.png")
    with pytest.raises(ValueError) as error:
        load_photo_folder(folder, 16, cache_dir=tmp_path / "c", verbose=False)
    message = str(error.value)
    assert f"has {n} usable colour photo{'' if n == 1 else 's'} (1 file skipped" in message
    assert "at least 3 are needed" in message and message.count(". ") == 0


def test_a_large_folder_gives_one_image_per_photo_split_by_image(tmp_path):
    data = load_photo_folder(_folder(tmp_path / "p", 12), 16, crops=(8, 1, 1),
                             cache_dir=tmp_path / "c", verbose=False)  # fmt: skip
    assert data.sizes() == {"train": 10, "val": 1, "test": 1}  # 12 >= 8 + 1 + 1: by image
    assert "one image per photo, split by image" in data.description
    assert data.train.sources == data.photos_per_split["train"] and len(data.train) == 10


def test_a_cached_rerun_repeats_every_warning(photo_folder, tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    first = load_photo_folder(photo_folder, 16, crops=(40, 10, 10), cache_dir=cache)
    assert len(list(cache.glob("photos-40px-photos-*.pt"))) == 1
    capsys.readouterr()

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(photo_folder_module, "decode_folder", no_decoding)
    second = load_photo_folder(photo_folder, 16, crops=(40, 10, 10), cache_dir=cache)
    assert torch.equal(first.train.rgb, second.train.rgb)
    assert "decoded earlier" in second.description
    assert len(second.warnings) == len(first.warnings)
    printed = capsys.readouterr().err
    for warning in first.warnings:
        assert warning.split(":")[0] in printed
    assert "found when the folder was decoded" in printed


def _rotated_jpeg(path):
    """A 60x40 photo stored sideways, tagged "rotate 90 degrees clockwise" as phones do:
    red top-left quarter, blue elsewhere."""
    pixels = np.zeros((40, 60, 3), np.uint8)
    pixels[..., 2] = 255
    pixels[:20, :30] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    Image.fromarray(pixels).save(path, exif=exif, quality=95)


def test_exif_orientation_is_applied(tmp_path):
    _rotated_jpeg(tmp_path / "phone.jpg")
    upright = np.asarray(photo_files.open_photo(tmp_path / "phone.jpg"))
    assert upright.shape == (60, 40, 3)  # turned: 40 wide, 60 high
    assert upright[2, -3, 0] > 200 and upright[2, 2, 2] > 200  # red now at the top right
    read = photo_files.read_photo(tmp_path / "phone.jpg", 40)
    assert read[0, 0, 2, -3] > 0.8


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


def test_shipped_photos_are_the_arrays_their_packages_own_loaders_give():
    """Read by path (no scikit-learn import): the same pixels as the packages' loaders."""
    from matplotlib import cbook
    from skimage import data as skdata
    from sklearn.datasets import load_sample_image

    left, right, _ = skdata.stereo_motorcycle()
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = np.asarray(Image.open(f).convert("RGB"))
    reference = {
        "astronaut": [skdata.astronaut()], "chelsea": [skdata.chelsea()],
        "coffee": [skdata.coffee()], "motorcycle": [left, right], "rocket": [skdata.rocket()],
        "china": [load_sample_image("china.jpg")], "flower": [load_sample_image("flower.jpg")],
        "grace_hopper": [hopper],
    }  # fmt: skip
    shipped = photos_module.shipped_photos()
    assert list(shipped) == list(reference)
    for name, arrays in reference.items():
        for ours, theirs in zip(shipped[name], arrays, strict=True):
            assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs), name


def test_the_shipped_photos_load_without_importing_scikit_learn_or_scikit_image():
    """Every colour lesson and graded notebook loads them: a second of imports saved."""
    code = (
        "import sys\nfrom aecourse.photos import shipped_photos\nshipped_photos()\n"
        "print(sorted({'sklearn', 'skimage'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_a_missing_shipped_photo_says_what_to_do():
    with pytest.raises(FileNotFoundError, match="make install"):
        photos_module.package_file("skimage", "data/no_such_photo.png")
    with pytest.raises(FileNotFoundError, match="make install"):
        photos_module.package_file("no_such_package_here", "x.png")


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
    crops, sources = photo_splits.crops_of(groups, ["a", "b"], 10, 16, torch.Generator())
    assert crops.shape == (10, 3, 16, 16) and crops.dtype == torch.uint8
    assert sources == ["a"] * 4 + ["b"] * 6  # 3 photos: 4 + 3 + 3 crops
    assert crops[:4].max() == 0 and crops[4:].min() == 255  # each crop is of its own photo


def test_split_photo_names_is_a_fixed_partition():
    names = [f"photo{i}" for i in range(8)]
    split = photo_splits.split_photo_names(names, test_photos=2, val_photos=1, seed=3)
    assert sorted(split["train"] + split["val"] + split["test"]) == names
    assert (len(split["test"]), len(split["val"])) == (2, 1)
    assert split == photo_splits.split_photo_names(list(reversed(names)), 2, 1, seed=3)


def test_read_photo_from_path_bytes_or_array(tmp_path):
    rgb = np.zeros((40, 60, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    Image.fromarray(rgb).save(tmp_path / "red.png")
    from_path = photo_files.read_photo(tmp_path / "red.png", 32)
    from_bytes = photo_files.read_photo((tmp_path / "red.png").read_bytes(), 32)
    from_array = photo_files.read_photo(rgb, 32)
    assert from_path.shape == (1, 3, 32, 32)
    assert torch.equal(from_path, from_bytes) and torch.equal(from_path, from_array)
    assert from_path[0, 0].min() == 1.0 and from_path[0, 1:].max() == 0.0


def test_read_photo_errors_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="check the path"):
        photo_files.read_photo(tmp_path / "missing.jpg", 32)
    with pytest.raises(IsADirectoryError, match="is a folder: give the path of one photo"):
        photo_files.read_photo(tmp_path, 32)
    (tmp_path / "text.jpg").write_text("not a photo")
    with pytest.raises(ValueError, match="Could not read text.jpg as an image"):
        photo_files.read_photo(tmp_path / "text.jpg", 32)
    with pytest.raises(ValueError, match="Could not read holiday.heic as an image \\(not an"):
        photo_files.read_photo(b"\x00\x01", 32, name="holiday.heic")
    with pytest.raises(ValueError, match="the uploaded file"):
        photo_files.read_photo(b"\x00\x01", 32)
    Image.new("RGB", (2000, 20)).save(tmp_path / "strip.png")
    with pytest.raises(ValueError, match="strip.png is 2000x20 pixels; a photo needs at least 32"):
        photo_files.read_photo(tmp_path / "strip.png", 32)
    rgb = np.zeros((40, 40, 3), np.uint8)
    for size in (0, -5, 2.5):
        with pytest.raises(ValueError, match="image_size must be a positive whole number"):
            photo_files.read_photo(rgb, size)
    for array, message in [
        (np.zeros((3, 40, 40), np.uint8), r"channels first.*transpose\(1, 2, 0\)"),
        (np.zeros((40, 40, 3), np.uint16), "type is uint16.*65535"),
        (np.full((40, 40, 3), 2.0), "values run from 2 to 2"),
        (np.full((40, 40, 3), np.nan), "not finite"),
        (np.zeros((2, 40, 40, 3), np.uint8), r"shape \(2, 40, 40, 3\)"),
    ]:
        with pytest.raises(ValueError, match=message):
            photo_files.read_photo(array, 32)


def test_read_photo_takes_float_and_gray_arrays():
    rgb = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    as_uint8 = photo_files.read_photo(rgb, 32)
    assert torch.equal(photo_files.read_photo(rgb.astype(np.float32) / 255, 32), as_uint8)
    gray = photo_files.read_photo(rgb[..., 0], 32)
    assert gray.shape == (1, 3, 32, 32) and torch.equal(gray[:, 0], gray[:, 2])


def test_auto_uses_data_photos_when_it_has_images(tmp_path, monkeypatch, photo_folder):
    monkeypatch.setattr(photos_module, "DATA_DIR", tmp_path / "data")
    assert photos_module.resolve_photo_source("auto")[0] == "shipped"
    (tmp_path / "data").mkdir()
    photo_folder.rename(tmp_path / "data" / "photos")
    source, why = photos_module.resolve_photo_source("auto")
    assert source == tmp_path / "data" / "photos" and "found photos" in why
    assert photos_module.resolve_photo_source("shipped") == ("shipped", "as chosen")


def _fake_flowers102(root, n=12):
    """torchvision's Flowers-102 layout after a download, with ``n`` small generated photos."""
    base = root / "flowers-102"
    _folder(base / "jpg", 0)
    rng = np.random.default_rng(1)
    for i in range(n):
        _colorful(rng).save(base / "jpg" / f"image_{i + 1:05d}.jpg")
    for name in ("imagelabels.mat", "setid.mat"):
        (base / name).write_bytes(b"fake")
    return base / "jpg"


def test_flowers102_offline_from_an_earlier_download(tmp_path, monkeypatch):
    import torchvision.datasets

    def no_network(*args, **kwargs):
        raise AssertionError("torchvision was asked to download")

    monkeypatch.setattr(torchvision.datasets, "Flowers102", no_network)
    monkeypatch.setattr(photos_module, "DATA_DIR", tmp_path)
    jpg = _fake_flowers102(tmp_path)
    assert photos_module.download_flowers102() == jpg
    data = load_photos("flowers102", 16, crops=(40, 10, 10), cache_dir=tmp_path / "c",
                       verbose=False)  # fmt: skip
    assert data.sizes() == {"train": 40, "val": 10, "test": 10}
    assert sum(len(v) for v in data.photos_per_split.values()) == 12


def test_flowers102_downloads_through_torchvision_when_incomplete(tmp_path, monkeypatch):
    import torchvision.datasets

    calls = []

    def fake_flowers(root, split, download):
        calls.append((root, split, download))
        _fake_flowers102(Path(root))

    (tmp_path / "flowers-102" / "jpg").mkdir(parents=True)  # an interrupted download
    monkeypatch.setattr(torchvision.datasets, "Flowers102", fake_flowers)
    assert photos_module.download_flowers102(tmp_path) == tmp_path / "flowers-102" / "jpg"
    assert calls == [(str(tmp_path), "test", True)]

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.datasets, "Flowers102", offline)
    with pytest.raises(RuntimeError, match="Could not download Flowers-102.*'shipped'"):
        photos_module.download_flowers102(tmp_path / "elsewhere")
