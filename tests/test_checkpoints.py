"""Checkpoints: a training run saved and restored exactly; bad files refused, never unpickled."""

import pytest
import torch

from aecourse.checkpoints import load_checkpoint, save_checkpoint
from aecourse.models import LinearAutoencoder
from aecourse.train import fit


def _fit(model, digits, **kw):
    kw = {"epochs": 3, "batch_size": 64, "lr": 1e-3, "progress": False, "print_every": 0} | kw
    return fit(model, digits[:448], digits[448:], **kw)


def test_checkpoint_round_trip(tmp_path, digits):
    torch.manual_seed(0)
    model = LinearAutoencoder(8)
    path = tmp_path / "ckpt" / "model.pt"
    history = _fit(model, digits, epochs=2, checkpoint_path=path)
    assert path.is_file() and not path.with_name("model.pt.tmp").exists()

    fresh = LinearAutoencoder(8)
    optimizer = torch.optim.Adam(fresh.parameters())
    meta = load_checkpoint(path, fresh, optimizer)
    assert meta["epoch"] == 2 and meta["history"] == history
    assert optimizer.state_dict()["state"], "optimizer state was restored"
    x = digits[:4]
    assert torch.equal(model(x), fresh(x))


def test_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        load_checkpoint(tmp_path / "missing.pt", LinearAutoencoder(8))
    path = save_checkpoint(tmp_path / "m.pt", LinearAutoencoder(8))
    with pytest.raises(ValueError, match="another shape"):
        load_checkpoint(path, LinearAutoencoder(16))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"definitely not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(junk, LinearAutoencoder(8))


def test_checkpoint_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": LinearAutoencoder(2).state_dict(), "payload": object()}, path)
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(path, LinearAutoencoder(2))
