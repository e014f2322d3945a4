"""What only runs on a CUDA GPU: fit's fused Adam and its CUDA-graph step.

Skipped without CUDA (a laptop, CI). On a GPU machine: ``python -m pytest tests -q -k cuda``.
"""

import warnings

import pytest
import torch

import aecourse
from aecourse import results
from aecourse.losses import vae_loss
from aecourse.models import VAE, ColorAutoEncoder, DenoisingAutoencoder, LinearAutoencoder
from aecourse.noise import gaussian_noise, salt_and_pepper
from aecourse.train import fit, make_optimizer, seed_everything
from aecourse.train_many import fit_many, fit_together

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
ARGS = {"epochs": 3, "batch_size": 64, "progress": False, "print_every": 0, "seed": 0}


@pytest.fixture
def cuda_digits(mnist):
    return mnist.train.x[:1000].cuda(), mnist.val.x[:200].cuda()


def _trained(model_fn, train, val, record=None, **kw):
    seed_everything(0)
    model = model_fn().cuda()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = fit(model, train, val, **(ARGS | kw))
    if record is not None:
        record.extend(str(w.message) for w in caught)
    return model, history


def test_cuda_make_optimizer_is_fused_and_capturable():
    group = make_optimizer(LinearAutoencoder(2).cuda().parameters()).param_groups[0]
    assert group["fused"] and group["capturable"]


def test_cuda_graph_step_trains_as_the_eager_step(cuda_digits):
    """No randomness in the model: replaying the recorded step must give the eager numbers."""
    train, val = cuda_digits  # 1000 = 15 full batches and one of 40: replays and eager steps
    caught = []
    graph_model, graph = _trained(lambda: LinearAutoencoder(16), train, val, caught)
    eager_model, eager = _trained(lambda: LinearAutoencoder(16), train, val, cuda_graph=False)
    assert not [m for m in caught if "Could not record" in m], caught
    assert graph["train_loss"] == pytest.approx(eager["train_loss"], rel=1e-4)
    assert graph["val_loss"] == pytest.approx(eager["val_loss"], rel=1e-4)
    for a, b in zip(graph_model.parameters(), eager_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)


def test_cuda_graph_steps_are_counted(cuda_digits, tmp_path):
    train, val = cuda_digits
    aecourse.start_lesson("01", profile="quick", device="cuda", results_path=tmp_path / "r.json")
    _trained(lambda: LinearAutoencoder(8), train, val)
    assert results.current_lesson().optimizer_steps == 3 * 16  # warm-up + replays + last ones


def test_cuda_graph_vae_draws_fresh_noise_every_replay(cuda_digits):
    train, val = cuda_digits
    _, graph = _trained(lambda: VAE(8, 64), train, val, loss_fn=vae_loss, epochs=4)
    _, eager = _trained(lambda: VAE(8, 64), train, val, loss_fn=vae_loss, epochs=4,
                        cuda_graph=False)  # fmt: skip
    # Replayed noise is new noise: training goes as well as eagerly, not the same digits.
    assert graph["val_loss"][-1] == pytest.approx(eager["val_loss"][-1], rel=0.03)
    assert graph["val_loss"][-1] < graph["val_loss"][0]


@pytest.mark.parametrize("noise", [gaussian_noise, salt_and_pepper])
def test_cuda_graph_with_batchnorm_corruption_and_bfloat16(cuda_digits, noise):
    train, val = cuda_digits
    caught = []
    level = 0.5 if noise is gaussian_noise else 0.2
    corrupt = lambda x: noise(x, level)  # noqa: E731
    _, history = _trained(DenoisingAutoencoder, train, val, caught, corrupt=corrupt,
                          mixed_precision=True)  # fmt: skip
    assert not [m for m in caught if "Could not record" in m], caught
    assert history["val_loss"][-1] < history["val_loss"][0]


def test_cuda_graph_channels_last_colorizer():
    gray = torch.rand(96, 1, 48, 48, device="cuda")
    rgb = gray.expand(-1, 2, -1, -1).contiguous()
    model = ColorAutoEncoder(out_channels=2).cuda().to(memory_format=torch.channels_last)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = fit(model, (gray, rgb), (gray[:32], rgb[:32]), epochs=2, batch_size=32,
                      mixed_precision=True, progress=False, print_every=0)  # fmt: skip
    assert not [w for w in caught if "Could not record" in str(w.message)]
    assert all(torch.isfinite(torch.tensor(history["val_loss"])))


def test_cuda_graph_falls_back_on_a_step_that_synchronises(cuda_digits):
    train, val = cuda_digits
    seen = []

    def syncing_loss(output, target):
        loss = torch.nn.functional.mse_loss(output, target)
        seen.append(loss.item())  # a read-back: cannot be recorded in a graph
        return loss

    caught = []
    _, history = _trained(lambda: LinearAutoencoder(8), train, val, caught, loss_fn=syncing_loss)
    assert [m for m in caught if "Could not record the training step" in m]
    assert history["val_loss"][-1] < history["val_loss"][0]
    assert all(torch.isfinite(torch.tensor(seen)))


def test_cuda_graph_fit_together_and_fit_many(cuda_digits, mnist):
    train, val = cuda_digits
    models = [LinearAutoencoder(k).cuda() for k in (2, 8)]
    histories = fit_together(models, train, val, **ARGS)
    assert histories[1]["val_loss"][-1] < histories[0]["val_loss"][-1]  # more latent, less loss

    labels = mnist.train.y[:1000].cuda()
    vaes = [VAE(4, 32).cuda() for _ in range(3)]
    many = fit_many(vaes, train, [labels != d for d in range(3)], epochs=2, loss_fn=vae_loss,
                    progress=False)  # fmt: skip
    assert all(h["train_loss"][1] < h["train_loss"][0] for h in many)
    assert all(p.is_cuda and torch.isfinite(p).all() for v in vaes for p in v.parameters())


def test_cuda_fit_many_graph_matches_eager(cuda_digits, mnist):
    train, _ = cuda_digits
    labels = mnist.train.y[:1000].cuda()
    runs = []
    for graph in (True, False):
        models = []
        for _ in range(2):
            seed_everything(0)
            models.append(LinearAutoencoder(4).cuda())
        fit_many(models, train, [labels == 0, labels == 1], epochs=2, batch_size=16,
                 progress=False, cuda_graph=graph)  # fmt: skip
        runs.append(models)
    for a, b in zip(*runs, strict=True):
        for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
            torch.testing.assert_close(pa, pb, rtol=1e-3, atol=1e-5)


def test_cuda_graph_replays_follow_a_learning_rate_schedule(cuda_digits):
    """The graph is recorded in epoch 1 at rate 0; epoch 2's replays must use the new rate."""
    train, val = cuda_digits
    seed_everything(0)
    model = LinearAutoencoder(4).cuda()
    start = [p.detach().clone() for p in model.parameters()]
    history = fit(model, train, val, epochs=2, progress=False, print_every=0,
                  lr_schedule=lambda epoch: 0.0 if epoch == 1 else 1e-3)  # fmt: skip
    after_epoch_1 = history["val_loss"][0]
    assert history["val_loss"][1] < after_epoch_1
    assert not torch.equal(start[0], next(model.parameters()))
