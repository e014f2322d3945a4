import pytest
import torch
from torch import nn

from aecourse.checks import ExerciseError, check_tied_autoencoder
from aecourse.models import LinearAutoencoder


class Tied(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(k, 784) * 0.01)
        self.b_enc = nn.Parameter(torch.zeros(k))
        self.b_dec = nn.Parameter(torch.zeros(784))

    def forward(self, x):
        z = x.flatten(1) @ self.weight.T + self.b_enc
        return (z @ self.weight + self.b_dec).view(-1, 1, 28, 28)


class Stub(nn.Module):
    def __init__(self, k):
        super().__init__()
        raise NotImplementedError


class FlatOutput(Tied):
    def forward(self, x):
        return super().forward(x).flatten(1)


def test_a_correct_solution_passes(capsys):
    check_tied_autoencoder(Tied)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("cls", "hint"),
    [
        (Stub, "NotImplementedError"),
        (LinearAutoencoder, "two weight matrices. Tie them"),
        (FlatOutput, "reshape the decoder's output"),
    ],
)
def test_wrong_solutions_get_a_hint(cls, hint):
    with pytest.raises(ExerciseError, match=hint):
        check_tied_autoencoder(cls)


def test_masking_noise_check():
    from aecourse.checks import check_masking_noise
    from aecourse.noise import masking_noise

    check_masking_noise(masking_noise)

    def in_place(x, fraction, generator=None):
        x[torch.rand(x.shape, generator=generator) < fraction] = 0
        return x

    def unseeded(x, fraction, generator=None):
        return x * (torch.rand(x.shape) >= fraction)

    def stub(x, fraction, generator=None):
        raise NotImplementedError

    for wrong, hint in [(in_place, "in place"), (unseeded, "generator"), (stub, "NotImpl")]:
        with pytest.raises(ExerciseError, match=hint):
            check_masking_noise(wrong)


def test_kl_check():
    from aecourse.checks import check_kl_divergence
    from aecourse.losses import kl_divergence

    check_kl_divergence(kl_divergence)
    wrong = {
        "sign": lambda mu, lv: -kl_divergence(mu, lv),
        "batch": lambda mu, lv: kl_divergence(mu, lv).mean(),
        "1/2": lambda mu, lv: 2 * kl_divergence(mu, lv),
        "sigma": lambda mu, lv: 0.5 * torch.sum(mu**2 + lv - lv.exp().log() - 0 * lv, dim=1),
    }
    hints = {"sign": "negative", "batch": "one value per image", "1/2": "factor 1/2",
             "sigma": "variance is not 1"}  # fmt: skip
    for name, fn in wrong.items():
        with pytest.raises(ExerciseError, match=hints[name]):
            check_kl_divergence(fn)
