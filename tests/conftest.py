"""Shared fixtures: the offline MNIST sample, loaded once per test session."""

import pytest
import torch

from aecourse.data import load_mnist


@pytest.fixture(scope="session")
def mnist():
    return load_mnist("sample", verbose=False)


@pytest.fixture
def digits(mnist) -> torch.Tensor:
    """A small slice of real digits for fast training tests."""
    return mnist.train.x[:512]
