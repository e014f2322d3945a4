import itertools

import pytest
import torch

from aecourse.models import LinearAutoencoder
from aecourse.train import (
    NonFiniteLossError,
    cosine_schedule,
    evaluate,
    fit,
    fit_many,
    fit_together,
    load_checkpoint,
    make_optimizer,
    save_checkpoint,
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
        runs.append((_fit(model, digits, seed=5), model.decoder[0].weight.detach().clone()))
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
    flipped = digits.flip(-1)
    history = fit(
        LinearAutoencoder(8),
        (digits[:448], flipped[:448]),
        (digits[448:], flipped[448:]),
        epochs=1,
        progress=False,
        print_every=0,
        corrupt=lambda x: x * 0.5,
    )
    assert len(history["train_loss"]) == 1


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


def _linear_models(sizes, seed=0):
    models = []
    for k in sizes:
        seed_everything(seed)
        models.append(LinearAutoencoder(k))
    return models


def test_fit_together_trains_each_model_as_if_alone(digits):
    """Summing independent losses gives each model its own gradient: the same weights."""
    args = {"epochs": 2, "batch_size": 64, "progress": False, "print_every": 0, "seed": 3}
    alone = _linear_models([2, 8])
    alone_histories = [fit(m, digits[:448], digits[448:], **args) for m in alone]
    together = _linear_models([2, 8])
    histories = fit_together(together, digits[:448], digits[448:], **args)
    for a, t, ha, ht in zip(alone, together, alone_histories, histories, strict=True):
        for pa, pt in zip(a.parameters(), t.parameters(), strict=True):
            torch.testing.assert_close(pa, pt, rtol=0, atol=1e-7)
        assert ht["val_loss"] == pytest.approx(ha["val_loss"], rel=1e-6)
        assert ht["train_loss"] == pytest.approx(ha["train_loss"], rel=1e-5)


def test_fit_many_matches_one_fit_per_model(digits, mnist):
    """With one full batch per epoch, the batch order cannot matter: fit_many must give the
    same weights as training each model alone on its own subset."""
    labels = mnist.train.y[:512]
    subsets = [labels == 0, labels == 1]
    n = min(int(s.sum()) for s in subsets)
    subsets = [s.nonzero().flatten()[:n] for s in subsets]
    args = {"epochs": 3, "batch_size": n, "lr": 1e-2, "seed": 0, "progress": False}
    alone = _linear_models([4, 4])
    for model, subset in zip(alone, subsets, strict=True):
        fit(model, digits[subset], digits[subset], print_every=0, **args)
    many = _linear_models([4, 4])
    histories = fit_many(many, digits, subsets, **args)
    for a, m in zip(alone, many, strict=True):
        for pa, pm in zip(a.parameters(), m.parameters(), strict=True):
            torch.testing.assert_close(pa, pm, rtol=1e-4, atol=1e-6)
    assert len(histories) == 2 and len(histories[0]["train_loss"]) == 3


def test_fit_many_trains_each_model_on_its_own_data(digits, mnist):
    labels = mnist.train.y[:512]
    models = _linear_models([8, 8])
    fit_many(models, digits, [labels == 0, labels == 1], epochs=5, batch_size=16, lr=1e-2,
             progress=False)  # fmt: skip
    zeros, ones = digits[labels == 0], digits[labels == 1]
    model0, model1 = (evaluate(m, zeros)["loss"] for m in models)
    assert model0 < model1  # the model that saw zeros reconstructs zeros better
    model0, model1 = (evaluate(m, ones)["loss"] for m in models)
    assert model1 < model0


def test_fit_many_tracks_every_loss_part_with_randomness(digits, mnist):
    from aecourse.losses import vae_loss
    from aecourse.models import VAE

    labels = mnist.train.y[:512]
    models = [VAE(latent_dim=4, hidden=32) for _ in range(3)]
    histories = fit_many(models, digits, [labels != d for d in range(3)], epochs=2,
                         batch_size=32, loss_fn=vae_loss, progress=False)  # fmt: skip
    assert set(histories[0]) == {"train_loss", "train_recon", "train_kl"}
    assert histories[0]["train_loss"][1] < histories[0]["train_loss"][0]
    # Each model drew its own noise: equal starting weights would still part ways.


def test_fit_many_refuses_what_it_cannot_do(digits, mnist):
    from aecourse.models import DenoisingAutoencoder

    labels = mnist.train.y[:512]
    kw = {"epochs": 1, "progress": False}
    with pytest.raises(ValueError, match="one architecture"):
        fit_many(_linear_models([2, 4]), digits, [labels == 0, labels == 1], **kw)
    with pytest.raises(ValueError, match="buffers"):
        fit_many([DenoisingAutoencoder()], digits, [labels == 0], **kw)
    with pytest.raises(ValueError, match="one subset per model"):
        fit_many(_linear_models([2, 2]), digits, [labels == 0], **kw)
    with pytest.raises(ValueError, match="fewer than one batch of 64"):
        fit_many(_linear_models([2]), digits, [torch.arange(10)], **kw)


def test_fit_many_stops_on_a_non_finite_loss_and_names_the_model(digits, mnist):
    labels = mnist.train.y[:512]
    models = _linear_models([4, 4])
    models[1].decoder[0].bias.data.fill_(float("inf"))
    with pytest.raises(NonFiniteLossError, match=r"Model 1: The loss became .* at epoch 1"):
        fit_many(models, digits, [labels == 0, labels == 1], epochs=1, batch_size=16,
                 progress=False)  # fmt: skip


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
