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
