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


@pytest.fixture(autouse=True)
def no_lesson_left_running():
    """A test that starts a lesson must not leave it to count and save the next test's steps."""
    yield
    from aecourse import results

    results._current = None
