import pytest
import torch

from aecourse.models import LinearAutoencoder, count_parameters


def test_shapes_and_parameter_count():
    model = LinearAutoencoder(latent_dim=16)
    x = torch.rand(3, 1, 28, 28)
    assert model.encode(x).shape == (3, 16)
    assert model(x).shape == x.shape
    assert count_parameters(model) == 784 * 16 + 16 + 16 * 784 + 784


def test_other_input_shapes():
    model = LinearAutoencoder(latent_dim=4, input_shape=(3, 8, 8))
    assert model(torch.rand(2, 3, 8, 8)).shape == (2, 3, 8, 8)


@pytest.mark.parametrize(
    ("shape", "hint"),
    [((1, 28, 28), "unsqueeze"), ((4, 784), "reshape"), ((4, 3, 28, 28), "reshape")],
)
def test_wrong_input_shape_says_what_to_do(shape, hint):
    with pytest.raises(ValueError, match=rf"expects .*\(B, 1, 28, 28\).*{hint}"):
        LinearAutoencoder(8)(torch.rand(*shape))


def test_latent_size_must_be_positive():
    with pytest.raises(ValueError, match="latent_dim must be a positive integer"):
        LinearAutoencoder(0)
