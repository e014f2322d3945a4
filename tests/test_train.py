import itertools

import pytest
import torch

from aecourse.models import LinearAutoencoder
from aecourse.train import (
    NonFiniteLossError,
    cosine_schedule,
    evaluate,
    fit,
    make_optimizer,
    seed_everything,
    set_lr,
)


def _fit(model, digits, **kw):
    kw = {"epochs": 3, "batch_size": 64, "lr": 1e-3, "progress": False, "print_every": 0} | kw
    return fit(model, digits[:448], digits[448:], **kw)


def test_fit_lowers_the_loss(digits):
    torch.manual_seed(0)
    model = LinearAutoencoder(16)
    before = evaluate(model, digits[448:])["loss"]
    history = _fit(model, digits, epochs=5, lr=1e-2)
    assert set(history) == {"train_loss", "val_loss"}
    assert len(history["val_loss"]) == 5
    assert history["val_loss"][-1] < 0.5 * before
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_fit_is_deterministic_with_a_seed(digits):
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        model = LinearAutoencoder(8)
        runs.append((_fit(model, digits, seed=5), model.decoder.linear.weight.detach().clone()))
    assert runs[0][0] == runs[1][0]
    assert torch.equal(runs[0][1], runs[1][1])


def test_fit_prints_the_seed_style_epoch_line(digits, capsys):
    _fit(LinearAutoencoder(4), digits, epochs=2, print_every=1)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[1].startswith("Epoch 2 | Train Loss: 0.") and "| Val Loss: 0." in out[1]


def test_fit_tracks_every_loss_part(digits):
    def loss_with_parts(output, target):
        err = (output - target) ** 2
        return {"loss": err.mean(), "max_error": err.amax()}

    history = _fit(LinearAutoencoder(4), digits, epochs=1, loss_fn=loss_with_parts)
    assert set(history) == {"train_loss", "train_max_error", "val_loss", "val_max_error"}


def test_fit_with_inputs_and_targets_and_corruption(digits):
    """The model sees corrupted inputs (fresh each batch), the loss compares with the targets:
    each batch's input is half an image (the corruption) whose mirror image is its target."""
    seen = []

    def loss_seeing_pairs(output, target):
        seen.append((output.detach().clone(), target.detach().clone()))
        return torch.nn.functional.mse_loss(output, target)

    class Echo(torch.nn.Module):  # returns what it is given, so the loss sees the input
        def __init__(self):
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return x + 0 * self.unused

    flipped = digits.flip(-1)
    history = fit(
        Echo(),
        (digits[:448], flipped[:448]),
        (digits[448:], flipped[448:]),
        epochs=1,
        batch_size=64,
        progress=False,
        print_every=0,
        loss_fn=loss_seeing_pairs,
        corrupt=lambda x: x * 0.5,
    )
    assert len(history["train_loss"]) == 1 and len(seen) >= 7 + 1  # 7 train batches, val
    for model_input, target in seen:
        assert torch.allclose(model_input, 0.5 * target.flip(-1))  # corrupted input of the pair
        assert not torch.allclose(model_input, target)  # and the target is not the input


def test_non_finite_loss_stops_with_epoch_and_batch(digits):
    calls = {"n": 0}

    def breaks_at_batch_3_of_epoch_2(output, target):
        calls["n"] += torch.is_grad_enabled()  # count training steps, not validation
        loss = torch.nn.functional.mse_loss(output, target)
        return loss * float("nan") if calls["n"] == 7 + 3 else loss  # 7 steps per epoch

    torch.manual_seed(0)
    model = LinearAutoencoder(4)
    with pytest.raises(NonFiniteLossError, match=r"at epoch 2, batch 3 of 7.*restored.*epoch 1"):
        _fit(model, digits, loss_fn=breaks_at_batch_3_of_epoch_2)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_nan_inputs_are_refused_before_training(digits):
    bad = digits.clone()
    bad[3, 0, 5, 5] = float("nan")
    with pytest.raises(ValueError, match="train data contains NaN"):
        _fit(LinearAutoencoder(4), bad)


def test_bad_arguments(digits):
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        _fit(LinearAutoencoder(4), digits, epochs=0)
    with pytest.raises(ValueError, match="is empty"):
        fit(LinearAutoencoder(4), digits[:0], digits, epochs=1, progress=False)


def test_a_continued_run_numbers_its_epochs_on(digits, capsys):
    _fit(LinearAutoencoder(4), digits, epochs=2, print_every=1, start_epoch=11)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" |")[0] for line in lines] == ["Epoch 11", "Epoch 12"]


def test_keep_best_restores_the_epoch_with_the_lowest_val_loss(digits, capsys):
    model = LinearAutoencoder(8)
    # A learning rate this high makes the val loss go up and down, so the best is not the last.
    history = fit(model, digits[:256], digits[256:384], epochs=6, lr=0.05, keep_best=True)
    best = int(history["best_epoch"][0])
    assert best == 1 + min(range(6), key=lambda i: history["val_loss"][i])
    assert evaluate(model, digits[256:384])["loss"] == pytest.approx(history["val_loss"][best - 1])
    assert f"Kept the weights of epoch {best}" in capsys.readouterr().out


def test_mixed_precision_trains(digits):
    model = LinearAutoencoder(8)
    history = fit(model, digits[:256], digits[256:384], epochs=2, mixed_precision=True)
    assert history["val_loss"][-1] < history["val_loss"][0]
    assert next(model.parameters()).dtype == torch.float32  # autocast leaves weights alone


def test_make_optimizer_is_plain_adam_off_cuda():
    optimizer = make_optimizer(LinearAutoencoder(2).parameters(), lr=0.01)
    assert isinstance(optimizer, torch.optim.Adam)
    group = optimizer.param_groups[0]
    assert group["lr"] == 0.01 and not group["capturable"] and not group["fused"]


def test_cosine_schedule_falls_from_lr_towards_zero():
    schedule = cosine_schedule(1e-3, 10)
    rates = [schedule(e) for e in range(1, 11)]
    assert rates[0] == pytest.approx(1e-3)
    assert rates[5] == pytest.approx(0.5e-3)  # half-way: epoch 6 of 10
    assert all(a > b for a, b in itertools.pairwise(rates)) and rates[-1] > 0


def test_a_schedule_sets_each_epochs_learning_rate(digits):
    """Epoch 1 at rate 0 leaves the weights alone; epoch 2 at a real rate trains them."""
    seed_everything(0)
    model = LinearAutoencoder(4)
    start = [p.detach().clone() for p in model.parameters()]
    untrained = evaluate(model, digits[448:])["loss"]
    history = fit(model, digits[:448], digits[448:], epochs=2, progress=False, print_every=0,
                  lr_schedule=lambda epoch: 0.0 if epoch == 1 else 1e-2)  # fmt: skip
    assert history["val_loss"][0] == pytest.approx(untrained, rel=1e-6)  # rate 0: unchanged
    assert history["val_loss"][1] != pytest.approx(untrained, rel=1e-3)  # rate 0.01: trained
    assert not torch.equal(start[0], next(model.parameters()))


def test_set_lr_keeps_a_tensor_learning_rate_in_place():
    rate = torch.tensor(1e-3)
    optimizer = torch.optim.Adam(LinearAutoencoder(2).parameters(), lr=rate)
    set_lr(optimizer, 5e-4)
    assert optimizer.param_groups[0]["lr"] is rate and rate.item() == pytest.approx(5e-4)
    plain = torch.optim.Adam(LinearAutoencoder(2).parameters(), lr=1e-3)
    set_lr(plain, 5e-4)
    assert plain.param_groups[0]["lr"] == 5e-4
