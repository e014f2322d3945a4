"""Training several models at once: each must end as if trained alone with fit."""

import pytest
import torch

from aecourse.models import LinearAutoencoder
from aecourse.train import NonFiniteLossError, evaluate, fit, seed_everything
from aecourse.train_many import fit_many, fit_together


def _fit(model, digits, **kw):
    kw = {"epochs": 3, "batch_size": 64, "lr": 1e-3, "progress": False, "print_every": 0} | kw
    return fit(model, digits[:448], digits[448:], **kw)


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
    models = [VAE(latent_dim=4, hidden=(32,)) for _ in range(3)]
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
    models[1].decoder.linear.bias.data.fill_(float("inf"))
    with pytest.raises(NonFiniteLossError, match=r"Model 1: The loss became .* at epoch 1"):
        fit_many(models, digits, [labels == 0, labels == 1], epochs=1, batch_size=16,
                 progress=False)  # fmt: skip
